"""The print servers' probe for `profile check`: one listing through the backend."""

from __future__ import annotations

from adminkit.core.config import Profile
from adminkit.core.errors import UsageError
from adminkit.core.health import Probe
from adminkit.printing.servers import open_server
from adminkit.printing.settings import PrintServerConfig, print_servers


def check(cfg: PrintServerConfig, profile: Profile | None = None) -> str:
    if cfg.kind == "windows" and profile is not None:
        return check_windows(cfg, profile)
    if cfg.kind != "cups":
        raise UsageError(f"print server kind {cfg.kind}: no backend yet")
    server = open_server(cfg)
    try:
        queues = server.printers()
    finally:
        server.close()
    return f"{cfg.kind} answered, {len(queues)} queue(s)"


def check_windows(cfg: PrintServerConfig, profile: Profile) -> str:
    """A Windows print server: log in over WinRM and run the transport's probe script."""
    from adminkit.core.winrm import WinRMTarget
    from adminkit.core.winrm import check as check_winrm

    if cfg.user is None or cfg.password is None:
        raise UsageError(f"print server {cfg.name}: a Windows print server needs `user` and "
                         "`password`")
    password = profile.secret(cfg.password, f"print server {cfg.name} password")
    return check_winrm(WinRMTarget(cfg.name, cfg.host, cfg.user, password, port=cfg.port,
                                   ca_file=cfg.ca_file, insecure=cfg.insecure, deadline=30,
                                   section="print_servers"))


def probes(profile: Profile) -> list[Probe]:
    return [Probe("print", f"{s.name} ({s.host})",
                  lambda s=s: check(s, profile))  # type: ignore[misc]
            for s in print_servers(profile)]
