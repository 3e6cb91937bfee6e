"""Profiles: one YAML file per customer, validated with pydantic.

A profile names the customer's directory, print servers, hosts, ticket system,
mail relay and policy. Secrets appear only as references (`env:`, `file:`,
`keyring:`, `prompt`), resolved when a backend connects. The shapes here are
plain connection settings; what a backend does with them is the backend's business.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from adminkit.core import paths, yamlsource
from adminkit.core.errors import ConfigError, UsageError
from adminkit.core.secrets import Secret, check_reference, resolve

SecretRef = Annotated[str, AfterValidator(check_reference)]
PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DirectoryConfig(_Model):
    kind: Literal["ad", "openldap"]
    url: str = Field(description="ldaps://host:636, or ldap://host:389 with starttls")
    base_dn: str
    bind_user: str = Field(description="DN, UPN or DOMAIN\\user of the service account")
    password: SecretRef
    ca_file: Path | None = None
    starttls: bool = False
    insecure: bool = Field(False, description="allow a password bind without TLS (logged)")
    timeout: float = 10.0
    users_ou: str | None = None
    groups_ou: str | None = None
    quarantine_ou: str | None = None
    upn_suffix: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class PrintServerConfig(_Model):
    name: str
    kind: Literal["cups", "windows"]
    host: str
    port: int | None = None
    user: str | None = None
    password: SecretRef | None = None
    ca_file: Path | None = None
    insecure: bool = False


class SSHSettings(_Model):
    user: str
    key_file: Path
    known_hosts: Path
    port: int = 22
    sudo: bool = True
    timeout: float = 10.0


class HostConfig(_Model):
    name: str
    address: str
    port: int | None = None
    transport: Literal["ssh", "winrm"] = "ssh"
    groups: list[str] = Field(default_factory=list)


class InventoryConfig(_Model):
    ssh: SSHSettings | None = None
    hosts: list[HostConfig] = Field(default_factory=list)


class TicketsConfig(_Model):
    kind: Literal["rt", "jira", "servicenow", "zammad", "glpi", "redmine", "local"]
    url: str | None = None
    token: SecretRef | None = None
    user: str | None = None
    password: SecretRef | None = None
    queue: str | None = None
    ca_file: Path | None = None
    note_per: Literal["action", "run"] = "action"
    public_actions: list[str] = Field(
        default_factory=list, description="actions whose notes the customer sees (public)")
    flush_seconds: float = Field(5.0, ge=0, description="how long a run waits for delivery")
    options: dict[str, Any] = Field(default_factory=dict)


class MailConfig(_Model):
    host: str
    port: int = 25
    sender: str
    starttls: bool = True
    user: str | None = None
    password: SecretRef | None = None
    ca_file: Path | None = None
    password_recipient: str | None = Field(
        None, description="where `--deliver mail` sends a new password"
    )


class AccountTemplate(_Model):
    """What a new account gets unless the CLI or a CSV row says otherwise."""

    ou: str | None = None
    groups: list[str] = Field(default_factory=list)
    attributes: dict[str, str] = Field(
        default_factory=dict, description="values may use {login}, {given_name}, {surname}, "
                                          "{display_name}, {mail}")
    home_directory: str | None = Field(None, description=r"e.g. \\fs1\home\{login}")
    home_drive: str | None = None
    expires_after_days: int | None = Field(None, ge=1)
    must_change: bool = True


class NamingRules(_Model):
    login: Literal["first-initial-surname", "given.surname", "surname"] = "first-initial-surname"
    max_length: int = Field(20, ge=3, le=64)
    german_umlauts: bool = Field(False, description="ä -> ae (Müller -> mueller)")
    upn: Literal["login", "given.surname"] = "login"


class AccountsConfig(_Model):
    template: AccountTemplate = Field(default_factory=AccountTemplate)
    naming: NamingRules = Field(default_factory=NamingRules)
    settable_attributes: list[str] = Field(
        default_factory=lambda: ["title", "department", "telephoneNumber", "mobile",
                                 "physicalDeliveryOfficeName", "description", "company"],
        description="attributes `account set` may change")
    password_length: int = Field(16, ge=12, le=128)
    workers: int = Field(4, ge=1, le=32, description="connections for bulk runs")


class PolicyConfig(_Model):
    protected_accounts: list[str] = Field(default_factory=list)
    protected_groups: list[str] = Field(default_factory=list)
    bulk_limit: int = Field(25, ge=0, description="disables/deletes per run before --force")


class Profile(_Model):
    name: str
    description: str = ""
    directory: DirectoryConfig | None = None
    print_servers: list[PrintServerConfig] = Field(default_factory=list)
    inventory: InventoryConfig | None = None
    tickets: TicketsConfig | None = None
    mail: MailConfig | None = None
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    accounts: AccountsConfig = Field(default_factory=AccountsConfig)
    file: Path | None = Field(None, exclude=True)

    def secret(self, ref: str, label: str) -> Secret:
        return resolve(ref, label=f"profile {self.name}: {label}")


def profiles_dir(config_dir: Path | None = None) -> Path:
    return (config_dir or paths.config_home()) / "profiles"


def profile_path(name: str, config_dir: Path | None = None) -> Path:
    return profiles_dir(config_dir) / f"{name}.yaml"


def list_profiles(config_dir: Path | None = None) -> list[str]:
    folder = profiles_dir(config_dir)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_profile(name: str, config_dir: Path | None = None) -> Profile:
    if not PROFILE_NAME.match(name):
        raise UsageError(f"{name!r} is not a profile name",
                         hint="profile names are lower-case letters, digits, - and _")
    path = profile_path(name, config_dir)
    if not path.exists():
        known = ", ".join(list_profiles(config_dir)) or "none"
        raise UsageError(f"no profile named {name!r} (looked for {path})",
                         hint=f"known profiles: {known}; `adminkit profile list` shows them")
    return load_profile_file(path, name)


def load_profile_file(path: Path, name: str | None = None) -> Profile:
    src = yamlsource.load(path)
    if not isinstance(src.data, dict):
        raise ConfigError(f"{path}:1:1: a profile must be a mapping of settings")
    data = {"name": name or path.stem, **src.data, "file": path}
    try:
        return Profile.model_validate(data)
    except PydanticValidationError as exc:
        raise ConfigError(_describe(exc, src), hint="fix the file; `adminkit profile check "
                          f"{data['name']}` checks it again") from None


def _describe(exc: PydanticValidationError, src: yamlsource.Sourced) -> str:
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
        field = ".".join(str(p) for p in loc) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown setting"
        lines.append(f"{src.where(loc)}: {field}: {msg}")
    head = f"{src.file}: invalid profile ({len(lines)} problem{'s' if len(lines) != 1 else ''})"
    return "\n".join([head, *lines])


def dump_profile(profile: dict[str, Any]) -> str:
    """YAML text for a profile dict (used by `lab up` to write the lab profile)."""
    import yaml

    return yaml.safe_dump(profile, sort_keys=False, allow_unicode=True)
