"""`adminkit profile new`: a first profile from what a technician knows.

It asks for the directory (kind, address, service account), the ticket system and the
mail relay, or takes them all from flags (`--no-input` for scripts: nothing is asked,
a missing answer is an error). A secret typed in goes to the keyring, or to a 0600
file; the profile holds only the reference (`keyring:`, `file:`, `env:`). The YAML is
written with a comment on every setting, checked against the profile model before it
is written, and written 0600 in a 0700 folder.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adminkit.core.errors import SecretError, UsageError

DIRECTORY_KINDS = ("ad", "openldap")
TICKET_KINDS = ("rt", "jira", "servicenow", "zammad", "glpi", "redmine", "local")
STORES = ("keyring", "file", "env")
KEYRING_SERVICE = "adminkit"
# AD's own accounts and groups that adminkit must never touch: a new profile protects them.
AD_PROTECTED_ACCOUNTS = ["Administrator", "krbtgt"]
AD_PROTECTED_GROUPS = ["Domain Admins", "Enterprise Admins", "Schema Admins", "Administrators"]


@dataclass
class Given:
    """What the flags said; None: not given (asked for, unless --no-input)."""

    description: str | None = None
    directory_kind: str | None = None
    directory_url: str | None = None
    base_dn: str | None = None
    bind_user: str | None = None
    bind_password: str | None = None
    ca_file: str | None = None
    users_ou: str | None = None
    quarantine_ou: str | None = None
    upn_suffix: str | None = None
    tickets_kind: str | None = None
    tickets_url: str | None = None
    tickets_token: str | None = None
    tickets_user: str | None = None
    tickets_password: str | None = None
    queue: str | None = None
    mail_host: str | None = None
    mail_port: int | None = None
    mail_sender: str | None = None
    password_recipient: str | None = None
    store: str | None = None  # where a secret typed in goes: keyring, file, env


@dataclass
class Asker:
    """Asks on the terminal (or reads answers piped to stdin); never when `no_input`.
    Questions go to stderr: stdout is the check's report (`-o json` stays parseable)."""

    no_input: bool
    prompt: Callable[..., Any]  # typer.prompt
    echo: Callable[[str], None]
    notes: list[str] = field(default_factory=list)  # what the operator must still do
    # Secrets typed in, kept only once every answer is in and the profile is valid: an
    # interrupted `profile new` leaves nothing behind, nor replaces an existing profile's.
    keep: list[Callable[[], None]] = field(default_factory=list)

    def value(self, given: str | None, flag: str, question: str, default: str | None = None,
              *, optional: bool = False, choices: tuple[str, ...] = ()) -> str | None:
        if given is not None:
            answer = given.strip()
        elif self.no_input:
            if default is not None or optional:
                return default or None
            raise UsageError(f"{flag} is needed with --no-input")
        else:
            shown = f"{question} [{'/'.join(choices)}]" if choices else question
            if optional and default is None:
                shown += " (empty: none)"
            # Required and without a default: click asks again until it gets an answer.
            blank = "" if optional else None
            answer = self.ask(flag, shown, default=blank if default is None else default,
                              show_default=default is not None)
        if choices and answer and answer not in choices:
            raise UsageError(f"{flag}: {answer!r} is not one of {', '.join(choices)}")
        if not answer and not optional:
            raise UsageError(f"{flag}: an answer is needed")
        return answer or None

    def ask(self, flag: str, shown: str, **options: Any) -> str:
        """One question. Click turns both Ctrl-C and the end of piped answers into an
        Abort (exit 1, "Aborted!"): Ctrl-C is an interruption again (exit 130), answers
        that ran out a usage error naming the question's flag."""
        import typer

        try:
            return str(self.prompt(shown, err=True, **options)).strip()
        except typer.Abort as exc:
            if isinstance(exc.__context__, EOFError):
                raise UsageError(f"{flag}: no answer (the input ended)",
                                 hint="for scripts: --no-input and every answer as a flag"
                                 ) from None
            raise KeyboardInterrupt from None

    def secret(self, label: str) -> str:
        """A secret typed in: hidden on a terminal, one line from a pipe."""
        if sys.stdin.isatty():
            import getpass

            value = getpass.getpass(f"{label} (not shown): ", stream=sys.stderr)
        else:
            value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            raise UsageError(f"{label}: nothing entered")
        return value


def secret_ref(ask: Asker, given: str | None, *, flag: str, label: str, profile: str,
               slot: str, store: str | None, config_dir: Path) -> str:
    """A reference for one secret: the one given, or the secret asked for and kept."""
    from adminkit.core.secrets import check_reference

    if given is not None:
        try:
            ref = check_reference(given.strip())
        except ValueError as exc:
            raise UsageError(f"{flag}: {exc}") from None
        if ref.startswith("env:"):
            env_name(ref.removeprefix("env:"), flag)
        return ref
    if ask.no_input:
        raise UsageError(f"{flag} is needed with --no-input",
                         hint="give a reference: env:NAME, file:/path or keyring:service/user")
    where = ask.value(store, "--store", f"Keep the {label} in", default=default_store(),
                      choices=STORES)
    if where == "env":
        var = f"ADMINKIT_{profile}_{slot}".upper().replace("-", "_")
        name = env_name(str(ask.value(None, flag, f"Environment variable that will hold the "
                                             f"{label}", var)), flag)
        ask.notes.append(f"export {name}=... (the {label}) before running adminkit")
        return f"env:{name}"
    if where == "keyring":
        keyring_module()  # missing: said before the secret is typed
    value = ask.secret(label)
    if where == "keyring":
        user = f"{profile}-{slot}"
        ask.keep.append(lambda: keep_in_keyring(user, value))
        return f"keyring:{KEYRING_SERVICE}/{user}"
    default = (config_dir / "secrets" / f"{profile}-{slot}").absolute()
    path = Path(str(ask.value(None, flag, f"File to keep the {label} in", str(default))))
    path = path.expanduser()
    if not path.is_absolute():
        # It would land wherever this command runs (the answers one question out of step
        # once put a secret there, named after another). Not echoed: it may be a secret.
        raise UsageError(f"{flag}: the file needs a full path (/… or ~/…), not a relative "
                         "one", hint=f"or an empty answer for {default}")
    # Only this profile's own secret file is replaced: a path typed in may be any file,
    # an SSH key or the CA file.
    replace = path == default
    if os.path.lexists(path) and not replace:
        raise UsageError(f"{path} exists", hint="name a file that is not there yet")
    ask.keep.append(lambda: write_private(path, value + "\n", replace=replace))
    return f"file:{path}"


def keyring_module() -> Any:
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise SecretError("the keyring extra is not installed",
                          hint="install adminkit[keyring], or --store file or env") from None
    return keyring


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def env_name(name: str, flag: str) -> str:
    """A name a shell can `export`: the operator is told to run `export NAME=...`."""
    if not ENV_NAME.match(name):
        raise UsageError(f"{flag}: {name!r} is not an environment variable name",
                         hint="letters, digits and _, not starting with a digit")
    return name


def default_store() -> str:
    """keyring where a usable keyring backend is, else file."""
    try:
        import keyring
    except ImportError:
        return "file"
    try:
        priority = float(getattr(keyring.get_keyring(), "priority", 0) or 0)
    except Exception:  # noqa: BLE001 - a broken keyring configuration: do not offer it
        return "file"
    return "keyring" if priority > 0 else "file"


def keep_in_keyring(user: str, value: str) -> None:
    keyring = keyring_module()
    try:
        keyring.set_password(KEYRING_SERVICE, user, value)
    except keyring.errors.KeyringError as exc:
        raise SecretError(f"the keyring refused the secret: {type(exc).__name__}",
                          hint="`adminkit doctor` shows the keyring backend; or --store "
                               "file or env") from None


def refuse_open_folders(profiles: Path) -> None:
    """A profiles folder (or the config folder above it) that others may write: anyone
    could swap the profile for one that sends the service account's password to their
    own server. Refused before anything is asked."""
    import stat

    for folder in (profiles.parent, profiles):
        try:
            mode = stat.S_IMODE(folder.stat().st_mode)
        except FileNotFoundError:
            continue  # made 0700 when the profile is written
        except OSError as exc:
            raise UsageError(f"{folder}: {exc.strerror}",
                             hint="check --config / ADMINKIT_CONFIG") from None
        if mode & 0o022:
            raise UsageError(f"{folder} is writable by others (mode {mode:o})",
                             hint=f"chmod 700 {folder}; `adminkit doctor` checks the rest")


def write_private(path: Path, text: str, *, replace: bool = True) -> None:
    """`text` to `path`, 0600, its missing folders 0700; atomically, never half written.
    A path that cannot be written (a folder there, a file where a folder should be) is a
    usage error naming it."""
    from adminkit.core.paths import private_dir

    try:
        private_dir(path.parent)
    except OSError as exc:
        raise UsageError(f"{exc.filename or path.parent}: cannot write: {exc.strerror}"
                         ) from None
    from adminkit.core.files import write_private as write_durably

    try:  # synced, renamed or linked to its name, the folder synced (core/files.py)
        write_durably(path, text.encode("utf-8"), replace=replace)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror}") from None


def domain_dn(host: str, kind: str) -> str | None:
    """`dc1.acme.example` -> `DC=acme,DC=example` (AD) or `dc=acme,dc=example`: a guess."""
    parts = host.split(".")[1:] if host.count(".") >= 2 else []
    if not parts or any(not p.isalnum() and not p.replace("-", "").isalnum() for p in parts):
        return None
    attr = "DC" if kind == "ad" else "dc"
    return ",".join(f"{attr}={p}" for p in parts)


def ldap_url(address: str) -> str:
    """An address as the technician knows it (`dc1.acme.example`) as an LDAPS URL."""
    if "://" in address:
        return address
    return f"ldaps://{address}" if ":" in address else f"ldaps://{address}:636"


def host_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or url


def checked_url(url: str, flag: str, secret_flag: str) -> str:
    """`url` if it parses and carries no password: `user:password@` would put the secret in
    the YAML, and `profile show` and `profile check` print URLs. The URL is never echoed."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        has_password = parts.password is not None
        parts.hostname  # noqa: B018 - parsing the host is what raises on a bad one
    except ValueError as exc:
        raise UsageError(f"{flag}: not a URL ({exc})") from None
    if has_password:
        raise UsageError(f"{flag}: the URL holds a password",
                         hint=f"give it without user:password@; the secret goes in "
                              f"{secret_flag}, as a reference") from None
    return url


def gather(name: str, given: Given, ask: Asker, config_dir: Path) -> list[Section]:
    """The profile's sections, each setting with its comment."""
    description = ask.value(given.description, "--description", "Customer (a description)",
                            name)
    sections = [Section("", "", [Setting("description", description, "shown in `profile list`")])]
    sections += directory(name, given, ask, config_dir)
    sections += tickets(name, given, ask, config_dir)
    sections += mail(given, ask)
    return sections


@dataclass
class Setting:
    key: str
    value: Any
    comment: str = ""


@dataclass
class Section:
    key: str  # "" for top-level settings
    comment: str
    settings: list[Setting]


def directory(name: str, given: Given, ask: Asker, config_dir: Path) -> list[Section]:
    kind = ask.value(given.directory_kind, "--directory-kind", "Directory",
                     "ad", choices=(*DIRECTORY_KINDS, "none"))
    if kind == "none":
        return []
    assert kind is not None
    address = str(ask.value(given.directory_url, "--directory-url",
                            "Directory address (host name or ldaps:// URL)"))
    url = checked_url(ldap_url(address), "--directory-url", "--bind-password")
    base_dn = ask.value(given.base_dn, "--base-dn", "Base DN", domain_dn(host_of(url), kind))
    bind_user = ask.value(given.bind_user, "--bind-user",
                          "Service account (UPN, DOMAIN\\user or DN)" if kind == "ad" else
                          "Service account (its DN)")
    password = secret_ref(ask, given.bind_password, flag="--bind-password",
                          label="service account's password", profile=name, slot="directory",
                          store=given.store, config_dir=config_dir)
    ca_file = ask.value(given.ca_file, "--ca-file",
                        "CA certificate file (PEM) the directory's certificate is signed by",
                        optional=True)
    users_ou = ask.value(given.users_ou, "--users-ou", "OU for new accounts", optional=True)
    quarantine_ou = ask.value(given.quarantine_ou, "--quarantine-ou",
                              "OU deleted accounts are moved to", optional=True)
    settings = [
        Setting("kind", kind, "ad (Active Directory) or openldap"),
        Setting("url", url, "LDAPS, certificate verified"),
        Setting("base_dn", base_dn, "where accounts and groups are searched"),
        Setting("bind_user", bind_user, "the service account adminkit binds as"),
        Setting("password", password, "a reference, never the password itself"),
        Setting("ca_file", ca_file and str(Path(ca_file).expanduser().absolute()),
                "the CA that signed the directory's certificate (empty: the system's)"),
        Setting("users_ou", users_ou, "new accounts go here"),
        Setting("quarantine_ou", quarantine_ou, "`account delete` moves accounts here"),
    ]
    if kind == "ad":
        suffix = bind_user.rpartition("@")[2] if bind_user and "@" in bind_user else None
        upn = ask.value(given.upn_suffix, "--upn-suffix", "UPN suffix for new accounts",
                        suffix, optional=True)
        settings.append(Setting("upn_suffix", upn, "login@upn_suffix"))
    found = [Section("directory", "the customer's directory: accounts and groups", settings)]
    if kind == "ad":
        found.append(Section("policy", "never touched, in bulk neither (exit 4)", [
            Setting("protected_accounts", AD_PROTECTED_ACCOUNTS),
            Setting("protected_groups", AD_PROTECTED_GROUPS, "and their members, nested"),
            Setting("bulk_limit", 25, "disables or deletes per run before --force")]))
    return found


def tickets(name: str, given: Given, ask: Asker, config_dir: Path) -> list[Section]:
    kind = ask.value(given.tickets_kind, "--tickets-kind", "Ticket system", "none",
                     choices=(*TICKET_KINDS, "none"))
    if kind in (None, "none"):
        return []
    if kind == "local":
        return [Section("tickets", "requests kept in adminkit's own store (local:N)",
                        [Setting("kind", "local")])]
    url = ask.value(given.tickets_url, "--tickets-url",
                    "Ticket system API URL (RT: https://rt.example/REST/2.0)")
    url = checked_url(str(url), "--tickets-url", "--tickets-token or --tickets-password")
    settings = [Setting("kind", kind, "notes go to this system's tickets"),
                Setting("url", url, "https:// (http only on this machine)")]
    token_given = given.tickets_token is not None
    user = given.tickets_user
    if not token_given and user is None and not ask.no_input:
        user = ask.value(None, "--tickets-user",
                         "Ticket system user (empty: a token instead)", optional=True)
    if user:
        settings.append(Setting("user", user, "the account notes are written as"))
        settings.append(Setting("password", secret_ref(
            ask, given.tickets_password, flag="--tickets-password",
            label="ticket system password", profile=name, slot="tickets",
            store=given.store, config_dir=config_dir), "a reference"))
    else:
        settings.append(Setting("token", secret_ref(
            ask, given.tickets_token, flag="--tickets-token", label="ticket system token",
            profile=name, slot="tickets", store=given.store, config_dir=config_dir),
            "a reference to the API token"))
    queue = ask.value(given.queue, "--queue", "Queue or project new tickets go to",
                      optional=True)
    settings.append(Setting("queue", queue, "RT queue, Jira project, ..."))
    return [Section("tickets", "where each action is noted", settings)]


def mail(given: Given, ask: Asker) -> list[Section]:
    host = ask.value(given.mail_host, "--mail-host", "Mail relay host", optional=True)
    if not host:
        return []
    port = ask.value(None if given.mail_port is None else str(given.mail_port),
                     "--mail-port", "Mail relay port", "25")
    sender = ask.value(given.mail_sender, "--mail-sender", "Sender address of adminkit's mail")
    recipient = ask.value(given.password_recipient, "--password-recipient",
                          "Where `--deliver mail` sends new passwords", optional=True)
    try:
        port_number = int(str(port))
    except ValueError:
        raise UsageError(f"--mail-port: {port!r} is not a port number") from None
    return [Section("mail", "the relay for --deliver mail (always over STARTTLS)", [
        Setting("host", host), Setting("port", port_number), Setting("sender", sender),
        Setting("starttls", True, "a new password only ever travels over STARTTLS"),
        Setting("password_recipient", recipient, "the service desk's mailbox")])]


def render(name: str, sections: list[Section]) -> str:
    """The profile as YAML, a comment on each setting."""
    lines = [f"# adminkit profile {name!r}, written by `adminkit profile new`.",
             "# Secrets are references (keyring:, file:, env:), never values.",
             f"# Check it with `adminkit profile check {name}`; every setting: the docs, "
             "Profiles."]
    for section in sections:
        pad = "  " if section.key else ""
        if section.key:
            lines += ["", f"{section.key}:  # {section.comment}"]
        for s in section.settings:
            if s.value is None:
                continue
            comment = f"  # {s.comment}" if s.comment else ""
            lines.append(f"{pad}{s.key}: {scalar(s.value)}{comment}")
    return "\n".join(lines) + "\n"


def scalar(value: Any) -> str:
    """One value as YAML on one line (flow style, quoted where YAML needs it)."""
    import yaml

    text: str = yaml.safe_dump([value], default_flow_style=True, allow_unicode=True,
                               width=1 << 16).strip()
    return text[1:-1]  # the list's brackets


def data_of(sections: list[Section]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section in sections:
        values = {s.key: s.value for s in section.settings if s.value is not None}
        if section.key:
            out[section.key] = values
        else:
            out.update(values)
    return out
