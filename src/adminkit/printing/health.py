"""An IPP request to a CUPS server."""

from __future__ import annotations

from adminkit.core.config import Profile
from adminkit.core.errors import ConnectionFailed, UsageError
from adminkit.core.health import Probe
from adminkit.printing.settings import PrintServerConfig, print_servers


def check(cfg: PrintServerConfig) -> str:
    if cfg.kind != "cups":
        raise UsageError(f"print server kind {cfg.kind}: no backend yet")
    try:
        import cups
    except ImportError:
        raise UsageError("CUPS support needs pycups", hint="pip install 'adminkit[cups]'") from None
    try:
        conn = cups.Connection(host=cfg.host, port=cfg.port or 631)
        queues = conn.getPrinters()
    except (RuntimeError, cups.IPPError) as exc:
        raise ConnectionFailed(f"CUPS at {cfg.host}:{cfg.port or 631}: {exc}") from None
    return f"IPP answered, {len(queues)} queue(s)"


def probes(profile: Profile) -> list[Probe]:
    return [Probe("print", f"{s.name} ({s.host})", lambda s=s: check(s))  # type: ignore[misc]
            for s in print_servers(profile)]
