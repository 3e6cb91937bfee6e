"""An authenticated call to the profile's ticket system."""

from __future__ import annotations

from adminkit.core.config import Profile
from adminkit.core.errors import AuthenticationFailed, ConnectionFailed, UsageError


def check(profile: Profile) -> str:
    cfg = profile.tickets
    assert cfg is not None
    if cfg.kind == "local":
        return "local ticket store (in the journal database)"
    if cfg.kind != "rt":
        raise UsageError(f"ticket system {cfg.kind}: no backend yet")
    import httpx

    if not cfg.url or not cfg.token:
        raise UsageError("tickets: rt needs url and token")
    token = profile.secret(cfg.token, "ticket token")
    verify = str(cfg.ca_file) if cfg.ca_file else True
    queue = cfg.queue or "General"
    try:
        with httpx.Client(base_url=cfg.url, verify=verify, timeout=15,
                          headers={"Authorization": f"token {token.reveal()}"}) as client:
            response = client.get(f"/queue/{queue}")
    except httpx.HTTPError as exc:
        raise ConnectionFailed(f"ticket system {cfg.url}: {type(exc).__name__}: {exc}") from None
    if response.status_code == 401:
        raise AuthenticationFailed(f"ticket system {cfg.url} refused the token (401)")
    if response.status_code != 200:
        raise ConnectionFailed(f"ticket system {cfg.url}: queue {queue}: HTTP "
                               f"{response.status_code}")
    return f"REST2 authenticated, queue {queue} readable"
