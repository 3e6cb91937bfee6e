"""Profiles: one YAML file per customer, validated with pydantic.

A profile names the customer's systems (each domain owns its own section: see
`core.domains`), mail relay and policy. Secrets appear only as references (`env:`,
`file:`, `keyring:`, `prompt`), resolved when a backend connects.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from pydantic import ValidationError as PydanticValidationError

from adminkit.core import paths, yamlsource
from adminkit.core.errors import ConfigError, UsageError
from adminkit.core.secrets import Secret, check_reference, resolve

SecretRef = Annotated[str, AfterValidator(check_reference)]
PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}\Z")  # \Z: `$` lets a trailing newline in
M = TypeVar("M")


class Settings(BaseModel):
    """Base for profile sections: unknown settings are errors, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def one_line(value: str) -> str:
    """A mail header's value: a line break in it would start another header (a Bcc)."""
    if any(ord(c) < 32 or c in "\x7f\x85\u2028\u2029" for c in value):
        raise ValueError("a line break or control character in an address")
    return value


Address = Annotated[str, AfterValidator(one_line)]


class MailConfig(Settings):
    host: str
    port: int = Field(25, ge=1, le=65535)
    sender: Address
    starttls: bool = True
    insecure: bool = Field(False, description="allow the login to a relay not on this machine "
                                              "without STARTTLS (warned each run); never for "
                                              "--deliver mail")
    user: str | None = None
    password: SecretRef | None = None
    ca_file: Path | None = None
    password_recipient: Address | None = Field(
        None, description="where `--deliver mail` sends a new password"
    )


class PolicyConfig(Settings):
    protected_accounts: list[str] = Field(default_factory=list)
    protected_groups: list[str] = Field(default_factory=list)
    bulk_limit: int = Field(25, ge=0, description="disables/deletes per run before --force")


class Profile(Settings):
    """A customer's settings. Core owns `mail` and `policy`; every other section
    (`directory`, `tickets`, `print_servers`, ...) belongs to a domain, which reads it
    with `section()`. Build one with `Profile.of(...)` or `load_profile`: they validate
    every installed domain's sections."""

    name: str
    description: str = ""
    mail: MailConfig | None = None
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    file: Path | None = Field(None, exclude=True)

    def secret(self, ref: str, label: str) -> Secret:
        return resolve(ref, label=f"profile {self.name}: {label}")

    def section(self, key: str, kind: type[M]) -> M | None:
        """A domain's section of this profile, or None if the profile has none."""
        value = getattr(self, key, None)
        if value is None:
            return None
        if not isinstance(value, kind):
            raise TypeError(f"profile section {key!r} is {type(value).__name__}, "
                            f"not {kind.__name__}")
        return value

    @classmethod
    def of(cls, **data: Any) -> Profile:
        """A profile from values (tests, the lab), validated like a file."""
        return profile_model().model_validate(data)

    @classmethod
    def model_validate(cls, obj: Any, *args: Any, **kwargs: Any) -> Profile:
        """On `Profile` itself: validated with every installed domain's sections."""
        model = profile_model() if cls is Profile else cls
        return super(Profile, model).model_validate(obj, *args, **kwargs)


@functools.cache
def profile_model() -> type[Profile]:
    """`Profile` with a field for each section that an installed domain owns."""
    from adminkit.core.domains import sections

    fields: dict[str, Any] = {key: (kind | None, None) for key, kind in sections().items()}
    taken = set(fields) & set(Profile.model_fields)
    if taken:
        raise ConfigError(f"a domain claims a core profile setting: {', '.join(sorted(taken))}")
    model: type[Profile] = create_model("Profile", __base__=Profile, **fields)
    return model


def kind_of(group: str, kind: str, *, extra: tuple[str, ...] = ()) -> str:
    """Check a backend `kind` against the backends installed under an entry point group."""
    from adminkit.core.entrypoints import entry_points

    known = set(entry_points(group)) | set(extra)
    if kind not in known:
        raise ValueError(f"unknown kind {kind!r}; installed: {', '.join(sorted(known)) or 'none'}")
    return kind


def profiles_dir(config_dir: Path | None = None) -> Path:
    return (config_dir or paths.config_home()) / "profiles"


def profile_path(name: str, config_dir: Path | None = None) -> Path:
    return profiles_dir(config_dir) / f"{name}.yaml"


def list_profiles(config_dir: Path | None = None) -> list[str]:
    folder = profiles_dir(config_dir)
    if not _exists(folder, "folder"):
        return []
    return sorted(p.stem for p in folder.glob("*.yaml"))


def _exists(path: Path, what: str) -> bool:
    """Whether `path` is there; a path the system cannot even look up (a name too long,
    a file where a folder should be) is a usage error, not a crash."""
    try:
        return path.is_dir() if what == "folder" else path.exists()
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}",
                         hint="check --config / ADMINKIT_CONFIG") from None


def load_profile(name: str, config_dir: Path | None = None) -> Profile:
    if not PROFILE_NAME.match(name):
        raise UsageError(f"{name!r} is not a profile name",
                         hint="profile names are lower-case letters, digits, - and _")
    path = profile_path(name, config_dir)
    if not _exists(path, "file"):
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
        return profile_model().model_validate(data)
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
            if len(loc) == 1:  # a whole section: its domain may just not be installed
                msg += (" (no installed domain has this section: a typo, or the plug-in "
                        "that provides it is not installed)")
        lines.append(f"{src.where(loc)}: {field}: {msg}")
    head = f"{src.file}: invalid profile ({len(lines)} problem{'s' if len(lines) != 1 else ''})"
    return "\n".join([head, *lines])


def dump_profile(profile: dict[str, Any]) -> str:
    """YAML text for a profile dict (used by `lab up` to write the lab profile)."""
    import yaml

    return yaml.safe_dump(profile, sort_keys=False, allow_unicode=True)
