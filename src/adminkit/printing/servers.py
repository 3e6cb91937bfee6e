"""Which print server a command means, and its connection for a run or a listing.

A run leases one connection per server from the run's registry (`ctx.connection`),
so the actions of one command share it and it is closed on every path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from adminkit.core import transport
from adminkit.core.config import Profile
from adminkit.core.errors import SecretError, UsageError
from adminkit.core.secrets import Secret, resolve
from adminkit.core.targets import Limits
from adminkit.printing.server import PrintServer
from adminkit.printing.settings import PrintServerConfig, print_servers

if TYPE_CHECKING:  # a listing (`job list`) has no run, so no Context
    from adminkit.core.context import Context

LIMITS = Limits(per_target=4)
WINDOWS_LIMITS = Limits(per_target=1)  # one WinRM shell per host: its scripts take turns


def server_config(profile: Profile, name: str | None) -> PrintServerConfig:
    """The named print server, or the profile's first one when no name is given."""
    servers = print_servers(profile)
    if not servers:
        raise UsageError(f"profile {profile.name} has no print servers",
                         hint="add a `print_servers:` section (name, kind, host)")
    if name is None:
        return servers[0]
    for cfg in servers:
        if cfg.name == name:
            return cfg
    raise UsageError(f"profile {profile.name} has no print server {name!r}",
                     hint="choose from " + ", ".join(s.name for s in servers))


def _password(cfg: PrintServerConfig) -> Secret | None:
    if cfg.password is None:
        return None
    asks = cfg.password == "prompt"  # noqa: S105 - a reference, not a value
    if asks and threading.current_thread() is not threading.main_thread():
        raise SecretError(f"print server {cfg.name}: `prompt` cannot ask from a worker",
                          hint="use env:, file: or keyring: for the password")
    transport.require_tls("print_servers", cfg.name, cfg.host, tls=cfg.tls or cfg.kind != "cups",
                          insecure=cfg.insecure, carries="the password",
                          fix="set `tls: true` for this print server")
    return resolve(cfg.password, label=f"print server {cfg.name} password")


def open_server(cfg: PrintServerConfig, *,
                cancelled: Callable[[], bool] = lambda: False) -> PrintServer:
    """The backend for the server's kind (its heavy library is imported here only)."""
    if cfg.kind == "cups":
        from adminkit.printing.cups_backend import CupsPrintServer

        return CupsPrintServer(cfg, _password(cfg), cancelled=cancelled)
    if cfg.kind == "windows":
        from adminkit.printing.windows_backend import WindowsPrintServer

        return WindowsPrintServer(cfg, _password(cfg), cancelled=cancelled)
    raise UsageError(f"print server {cfg.name}: kind {cfg.kind} has no backend")


def server_of(ctx: Context, name: str | None) -> PrintServer:
    """The run's connection to the print server `name` (None: the profile's first)."""
    cfg = server_config(ctx.require_profile(), name)
    targets = ctx.targets

    def make() -> PrintServer:
        return open_server(cfg, cancelled=lambda: targets.cancelled)

    return ctx.connection(f"print-{cfg.kind}", cfg.name, make, lambda s: s.close(),
                          limits=LIMITS if cfg.kind == "cups" else WINDOWS_LIMITS)


@contextmanager
def opened(profile: Profile, name: str | None) -> Iterator[PrintServer]:
    """A print server for a read-only command (no run, no journal)."""
    server = open_server(server_config(profile, name))
    try:
        yield server
    finally:
        server.close()
