"""Where and how to reach one Windows host over WinRM, and the profile settings for it.

Printing (`print_servers`) and deploy (`inventory`) both name Windows hosts; both use
`WinRMSettings` for how to log in and `WinRMTarget` for one resolved host.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from adminkit.core.config import Profile, SecretRef, Settings
from adminkit.core.secrets import Secret

Scheme = Literal["https", "http"]
Auth = Literal["ntlm", "basic"]


class WinRMSettings(Settings):
    """How to log in to Windows hosts over WinRM (a profile section's `winrm:` block).

    Production: HTTPS (5986) with `ca_file` the CA that signed the hosts' WinRM
    certificates, or `scheme: http` with NTLM, whose messages are then encrypted.
    """

    user: str = Field(description=r"DOMAIN\user or a local user of the host")
    password: SecretRef
    scheme: Scheme = "https"
    auth: Auth = "ntlm"
    port: int | None = Field(None, ge=1, le=65535, description="5986 (https), 5985 (http)")
    ca_file: Path | None = Field(None, description="CA of the hosts' certificates; "
                                                   "unset: the system's trust store")
    deadline: float = Field(600.0, gt=0, description="seconds one script may run")
    operation_timeout: int = Field(5, ge=1, le=60, description="seconds one WS-Management "
                                   "Receive may wait on the host (a deadline's granularity)")
    read_timeout: int = Field(15, ge=2, le=300, description="seconds to wait for any answer")
    insecure: bool = False


@dataclass(frozen=True)
class WinRMTarget:
    """One host, resolved: its password is a `Secret`, never a plain string."""

    name: str  # what messages call it (an inventory host or a print server)
    address: str
    user: str
    password: Secret
    scheme: Scheme = "https"
    auth: Auth = "ntlm"
    port: int | None = None
    ca_file: Path | None = None
    deadline: float = 600.0
    operation_timeout: int = 5
    read_timeout: int = 15
    insecure: bool = False
    section: str = "winrm"  # the profile section to name in hints

    @property
    def endpoint(self) -> str:
        port = self.port or (5986 if self.scheme == "https" else 5985)
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{self.scheme}://{host}:{port}/wsman"

    @property
    def key(self) -> str:
        """The connection registry's key: one session per endpoint and user."""
        return f"{self.user}@{self.endpoint}"

    @classmethod
    def from_settings(cls, name: str, address: str, settings: WinRMSettings,
                      profile: Profile, *, port: int | None = None,
                      section: str = "winrm") -> WinRMTarget:
        """Resolve `settings` (the secret reference too) for host `name` at `address`."""
        password = profile.secret(settings.password, f"{section} password for {name}")
        return cls(name=name, address=address, user=settings.user, password=password,
                   scheme=settings.scheme, auth=settings.auth, port=port or settings.port,
                   ca_file=settings.ca_file, deadline=settings.deadline,
                   operation_timeout=settings.operation_timeout,
                   read_timeout=max(settings.read_timeout, settings.operation_timeout + 1),
                   insecure=settings.insecure, section=section)
