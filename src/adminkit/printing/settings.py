"""The profile section the printing domain owns: `print_servers`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from adminkit.core.config import Profile, SecretRef, Settings


class PrintServerConfig(Settings):
    name: str
    kind: Literal["cups", "windows"]
    host: str
    port: int | None = None
    user: str | None = None
    password: SecretRef | None = None
    ca_file: Path | None = None
    insecure: bool = False
    tls: bool = False  # IPP over TLS (CUPS); WinRM always uses HTTPS


SECTIONS: dict[str, Any] = {"print_servers": list[PrintServerConfig]}


def print_servers(profile: Profile) -> list[PrintServerConfig]:
    value = getattr(profile, "print_servers", None)
    return list(value or [])
