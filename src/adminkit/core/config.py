"""Profiles: one YAML file per customer, validated with pydantic.

A profile names the customer's systems (each domain owns its own section: see
`core.domains`), mail relay and policy. Secrets appear only as references (`env:`,
`file:`, `keyring:`, `prompt`), resolved when a backend connects.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, create_model
from pydantic import ValidationError as PydanticValidationError

from adminkit.core import paths, startgc, yamlsource
from adminkit.core.entrypoints import entry_points, no_pydantic_plugin_scan
from adminkit.core.errors import ConfigError, UsageError
from adminkit.core.secrets import Secret, check_reference, resolve

no_pydantic_plugin_scan()  # before the first model below
SecretRef = Annotated[str, AfterValidator(check_reference)]
PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}\Z")  # \Z: `$` lets a trailing newline in
M = TypeVar("M")


class Settings(BaseModel):
    """Base for profile sections: unknown settings are errors, values are frozen."""

    # defer_build: the validator is built at first validation, so a command builds
    # only the sections it reads (most of the cost of importing a settings module)
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


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
    # A profile read lazily (`load_profile(..., lazy=True)`): its domains' sections as
    # the file has them, each validated when first read; and the file, for the errors.
    _pending: dict[str, Any] = PrivateAttr(default_factory=dict)
    _read: dict[str, Any] = PrivateAttr(default_factory=dict)
    _source: tuple[yamlsource.Sourced, dict[str, Any]] | None = PrivateAttr(None)

    if not TYPE_CHECKING:
        def __getattr__(self, name: str) -> Any:
            try:
                return super().__getattr__(name)
            except AttributeError:
                private = object.__getattribute__(self, "__pydantic_private__") or {}
                if private.get("_source") is None or name.startswith("_"):
                    raise
                from adminkit.core.domains import section_owners

                if name in private["_pending"]:
                    try:
                        return self._section_now(name, private)
                    except AttributeError as exc:  # from here it would read "no section"
                        owner = section_owners()[name].name
                        raise ConfigError(
                            f"the domain {owner} cannot read the profile section {name!r} "
                            f"({type(exc).__name__} in its settings)",
                            hint="--debug shows it; reinstall or update the package that "
                                 "provides the domain") from exc
                if name in section_owners():
                    return None  # a section the file does not have, as in a full profile
                raise

    def _section_now(self, key: str, private: dict[str, Any]) -> Any:
        """A lazy profile's section, validated at its first read, with the file's positions
        in its errors (as a full load gives them)."""
        read: dict[str, Any] = private["_read"]
        if key in read:
            return read[key]
        from pydantic import TypeAdapter

        from adminkit.core.domains import section_type

        src, data = private["_source"]
        try:
            value = TypeAdapter(section_type(key) | None).validate_python(
                private["_pending"][key])
        except PydanticValidationError as exc:
            raise ConfigError(_describe(exc, src, prefix=(key,)),
                              hint=_fix_hint(data["name"])) from None
        _check_across(self, key, value, src)
        return read.setdefault(key, value)

    def complete(self) -> Profile:
        """This profile with every domain's section validated, as `load_profile` reads it
        (a lazy profile is read again from what its file held)."""
        held = self._source
        if held is None:
            return self
        src, data = held
        return _validate_all(data, src)

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


@functools.cache
def _core_model() -> type[Profile]:
    """`Profile` without the domains' sections: a lazy profile's own settings."""
    model: type[Profile] = create_model("Profile", __base__=Profile)
    return model


def load_profile(name: str, config_dir: Path | None = None, *, lazy: bool = False) -> Profile:
    """The profile `name`, every section validated; `lazy`: core's settings now, each
    domain's section when first read (a read-only command builds only the models it
    uses; `complete()` gives the full profile)."""
    if not PROFILE_NAME.match(name):
        raise UsageError(f"{name!r} is not a profile name",
                         hint="profile names are lower-case letters, digits, - and _")
    path = profile_path(name, config_dir)
    if not _exists(path, "file"):
        known = ", ".join(list_profiles(config_dir)) or "none"
        raise UsageError(f"no profile named {name!r} (looked for {path})",
                         hint=f"known profiles: {known}; `adminkit profile list` shows them")
    profile = load_profile_file(path, name, lazy=lazy)
    startgc.settle()  # a cold command's start-up is over: collect as usual from here
    return profile


def load_profile_file(path: Path, name: str | None = None, *, lazy: bool = False) -> Profile:
    src = yamlsource.load(path)
    if not isinstance(src.data, dict):
        raise ConfigError(f"{path}:1:1: a profile must be a mapping of settings")
    data = {"name": name or path.stem, **src.data, "file": path}
    if not lazy:
        return _validate_all(data, src)
    from adminkit.core.domains import section_owners

    owned = section_owners()
    taken = set(owned) & set(Profile.model_fields)
    if taken:
        raise ConfigError(f"a domain claims a core profile setting: {', '.join(sorted(taken))}")
    try:  # core's settings, and any unknown key (its error as a full load words it)
        profile = _core_model().model_validate({k: v for k, v in data.items()
                                                if k not in owned})
    except PydanticValidationError as exc:
        raise ConfigError(_describe(exc, src), hint=_fix_hint(data["name"])) from None
    profile._pending = {k: v for k, v in data.items() if k in owned}
    profile._source = (src, data)
    return profile


def _validate_all(data: dict[str, Any], src: yamlsource.Sourced) -> Profile:
    try:
        profile = profile_model().model_validate(data)
    except PydanticValidationError as exc:
        raise ConfigError(_describe(exc, src), hint=_fix_hint(data["name"])) from None
    for key in sorted(set(data) & set(type(profile).model_fields)):
        _check_across(profile, key, getattr(profile, key), src)
    return profile


def _check_across(profile: Profile, key: str, section: Any, src: yamlsource.Sourced) -> None:
    """A section whose settings depend on another's says so with `check_across(profile)`:
    (path in the file, problem) pairs, reported as a validation error is (exit 2, the
    file's line and column) by every command that reads the section."""
    check = getattr(section, "check_across", None)
    problems: list[tuple[tuple[str | int, ...], str]] = check(profile) if check else []
    if problems:
        lines = [f"{src.where((key, *path))}: {'.'.join(map(str, (key, *path)))}: {problem}"
                 for path, problem in problems]
        head = f"{src.file}: invalid profile ({len(lines)} problem" \
               f"{'s' if len(lines) != 1 else ''})"
        raise ConfigError("\n".join([head, *lines]), hint=_fix_hint(profile.name))


def _fix_hint(name: str) -> str:
    return f"fix the file; `adminkit profile check {name}` checks it again"


def _describe(exc: PydanticValidationError, src: yamlsource.Sourced,
              prefix: tuple[str, ...] = ()) -> str:
    lines = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = [*prefix, *(p for p in err["loc"]
                          if not (isinstance(p, str) and p.startswith("function-")))]
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
