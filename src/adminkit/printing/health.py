"""The print servers' probe for `profile check`: one listing through the backend."""

from __future__ import annotations

from adminkit.core.config import Profile
from adminkit.core.health import Probe
from adminkit.printing.servers import open_server
from adminkit.printing.settings import PrintServerConfig, print_servers


def check(cfg: PrintServerConfig) -> str:
    server = open_server(cfg)
    try:
        queues = server.printers()
    finally:
        server.close()
    return f"{cfg.kind} answered, {len(queues)} queue(s)"


def probes(profile: Profile) -> list[Probe]:
    return [Probe("print", f"{s.name} ({s.host})", lambda s=s: check(s))  # type: ignore[misc]
            for s in print_servers(profile)]
