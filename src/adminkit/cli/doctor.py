"""What `adminkit doctor` looks at: this machine's installation and adminkit's own files.

Each check returns Findings: what it looked at, ok / warn / fail / skip, what it saw,
and what to do about it. The modes are read before anything is opened; no check creates
a folder or a journal. An existing journal is opened as `journal verify` opens it
(which, like every run, takes from a journal file any access others had, and says so).
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from adminkit.cli.extras import Extra, extras

if TYPE_CHECKING:
    from adminkit.core.config import Profile

Status = Literal["ok", "warn", "fail", "skip"]
MIN_PYTHON = (3, 11)
OUTBOX_STALE = timedelta(hours=1)  # a note older than this: the ticket system is not taking them
SKEW_WARN, SKEW_FAIL = timedelta(minutes=1), timedelta(minutes=5)  # Kerberos allows five


@dataclass(frozen=True)
class Finding:
    check: str  # python, extra, keyring, config, state, journal, outbox, clock, approvers
    subject: str  # what exactly: an extra's name, a path, a profile
    status: Status
    detail: str
    fix: str = ""  # what to do; empty when there is nothing to do

    def row(self) -> dict[str, Any]:
        return asdict(self)


def python_version() -> Iterator[Finding]:
    found = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info[:2] >= MIN_PYTHON:
        yield Finding("python", sys.executable, "ok", f"Python {found}")
    else:  # pragma: no cover - the package itself refuses to install there
        yield Finding("python", sys.executable, "fail", f"Python {found} is too old",
                      "install adminkit with Python 3.11 or newer")


def installed_extras() -> Iterator[Finding]:
    found = extras()
    if not found:
        yield Finding("extra", "adminkit", "warn", "adminkit's package metadata is not "
                      "installed: the extras cannot be told", "install adminkit with pip or pipx")
    for extra in found:
        yield _extra(extra)


def _extra(extra: Extra) -> Finding:
    needs = ", ".join(extra.needs)
    if not extra.installed:
        return Finding("extra", extra.name, "warn", f"not installed (needs {needs})",
                       install_hint(extra))
    broken = [f"{module}: {problem}" for module, problem in _imports(extra.needs)]
    if broken:
        return Finding("extra", extra.name, "fail", "installed but cannot be imported: "
                       + "; ".join(broken), "reinstall it, with the system packages it builds "
                       f"against (README: Install): {install_hint(extra)}")
    return Finding("extra", extra.name, "ok", f"installed and importable ({needs})")


def install_hint(extra: Extra) -> str:
    """The command that installs an extra where this adminkit is installed."""
    if "/pipx/venvs/" in sys.prefix.replace(os.sep, "/") + "/":
        return f"pipx inject adminkit {' '.join(extra.needs)}"
    return f"{sys.executable} -m pip install 'adminkit[{extra.name}]'"


def _imports(dists: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """Each top-level module of `dists` that fails to import, with why."""
    import importlib

    for module in sorted({m for dist in dists for m in _modules(dist)}):
        try:
            importlib.import_module(module)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - any failure to import is
            # the finding; a module that calls sys.exit() on import must not end doctor
            yield module, f"{type(exc).__name__}: {exc}"


def _modules(dist: str) -> set[str]:
    """The top-level modules `dist` installed, from its RECORD: top_level.txt may name
    what no wheel ships (azure-identity's lists `images`, a folder of its sdist)."""
    import csv
    from importlib import metadata
    from pathlib import PurePosixPath

    from adminkit.cli.extras import canonical

    try:  # RECORD itself: metadata.files() leaves out the files that are gone
        record = metadata.distribution(dist).read_text("RECORD") or ""
    except metadata.PackageNotFoundError:
        return set()
    found = set()
    for row in csv.reader(record.splitlines()):
        file = PurePosixPath(row[0]) if row else PurePosixPath()
        top = file.parts[0] if file.parts else ""
        if file.suffix in (".py", ".so", ".pyd") and top not in ("..", "__pycache__") \
                and not top.endswith((".dist-info", ".data")):
            found.add(top.split(".")[0] if len(file.parts) == 1 else top)
    if not found:  # no RECORD (an egg-info or editable install): what it declares
        found = {module for module, owners in metadata.packages_distributions().items()
                 if canonical(dist) in {canonical(o) for o in owners}}
    return {m for m in found if m.isidentifier() and not m.startswith("_")}


def keyring_backend() -> Iterator[Finding]:
    try:
        import keyring
    except ImportError:
        yield Finding("keyring", "keyring", "warn", "the keyring extra is not installed: "
                      "keyring: secret references cannot be resolved",
                      "install the keyring extra, or use env: and file: references")
        return
    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # noqa: BLE001 - a broken keyring configuration is the finding
        yield Finding("keyring", "keyring", "fail", f"cannot load a backend: "
                      f"{type(exc).__name__}: {exc}",
                      "check keyringrc.cfg and PYTHON_KEYRING_BACKEND")
        return
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    priority = float(getattr(backend, "priority", 0) or 0)
    if "fail" in type(backend).__module__.split(".") or priority <= 0:
        yield Finding("keyring", name, "warn", "no usable keyring backend: keyring: references "
                      "and `profile new --store keyring` fail",
                      "run in a desktop session with a Secret Service (gnome-keyring), set "
                      "PYTHON_KEYRING_BACKEND, or use env: and file: references")
    else:
        yield Finding("keyring", name, "ok", f"backend {name} (priority {priority:g})")


def folder_modes(config: Path, state: Path, journal: Path) -> Iterator[Finding]:
    """The config folder (its profiles and playbooks) and the state folder (the journal, its
    key): open to other users, they show or let others change whom adminkit acts on."""
    yield from _mode("config", config, folder=True)
    for sub in ("profiles", "playbooks"):
        yield from _mode("config", config / sub, folder=True, quiet=True)
        folder = config / sub
        try:
            files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
        except OSError:  # a path the system cannot look up: _mode said so already
            files = []
        for file in files:
            yield from _mode("config", file, folder=False, quiet=True)
    yield from _mode("state", state, folder=True)
    for file in (journal, journal.with_name(journal.name + ".head"), state / "journal.key"):
        yield from _mode("state", file, folder=False, quiet=True)


def _mode(check: str, path: Path, *, folder: bool, quiet: bool = False) -> Iterator[Finding]:
    """A finding for `path`'s mode; `quiet`: none when it is fine (files below a folder)."""
    try:
        info = path.stat()  # a link (stow's) is judged by what it points at, as it is read
    except FileNotFoundError:
        if not quiet:
            yield Finding(check, str(path), "ok", "not there yet (made private on first use)")
        return
    except OSError as exc:
        yield Finding(check, str(path), "fail", f"cannot be read: {exc.strerror}",
                      "check the path and its owner")
        return
    mode = stat.S_IMODE(info.st_mode)
    want = 0o700 if folder else 0o600
    what = "folder" if folder else "file"
    if info.st_uid != os.geteuid():
        yield Finding(check, str(path), "warn", f"{what} belongs to uid {info.st_uid}, "
                      f"not to you ({os.geteuid()})", f"chown {os.geteuid()} {path}")
    if mode & want & 0o700 != want & 0o700:  # adminkit runs as the owner: it needs these
        yield Finding(check, str(path), "fail", f"{what} is not readable and writable by you "
                      f"(mode {mode:o})", f"chmod {want:o} {path}")
    elif mode & 0o002 or mode & 0o020:
        yield Finding(check, str(path), "fail", f"{what} is writable by others (mode {mode:o})",
                      f"chmod {want:o} {path}")
    elif mode & 0o004:
        yield Finding(check, str(path), "fail", f"{what} is readable by every user "
                      f"(mode {mode:o})", f"chmod {want:o} {path}")
    elif mode & 0o070:
        yield Finding(check, str(path), "warn", f"{what} is open to its group (mode {mode:o})",
                      f"chmod {want:o} {path}")
    elif not quiet:
        yield Finding(check, str(path), "ok", f"{what}, mode {mode:o}")


def journal_health(path: Path, now: datetime) -> Iterator[Finding]:
    """The journal verifies (chain, keying, triggers, head), and its outbox is moving.
    Only a regular file with something in it is opened: opening makes a journal of an
    empty file and takes access from others, and SQLite on a FIFO or a folder fails."""
    import sqlite3

    where = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        yield Finding("journal", where, "ok", "no journal yet (made on the first run)")
        return
    except OSError as exc:
        yield Finding("journal", where, "fail", f"cannot be read: {exc.strerror}",
                      "check ADMINKIT_JOURNAL and the folders above the journal")
        return
    if not stat.S_ISREG(info.st_mode):
        yield Finding("journal", where, "fail", f"is not a regular file ({_kind(info)})",
                      "point ADMINKIT_JOURNAL at the journal file, or move this away")
        return
    if info.st_size == 0:
        yield Finding("journal", where, "ok", "empty: made a journal on the first run")
        return
    from adminkit.core.errors import AdminkitError
    from adminkit.journal.store import Journal

    try:
        journal = Journal(path)
    except AdminkitError as exc:
        yield Finding("journal", where, "fail", exc.message,
                      _open_fix(path, exc.message, exc.hint))
        return
    try:
        yield _verified(journal)
        yield from _outbox(journal, now)
    except sqlite3.DatabaseError as exc:  # pages SQLite cannot read, or a writer holding it
        yield Finding("journal", where, "fail", f"the journal file is damaged: {exc}",
                      _open_fix(path, str(exc), DAMAGED))
    finally:
        journal.close()


DAMAGED = ("keep the file as evidence; `sqlite3 FILE .recover` copies out what can still be "
           "read; start a new journal (ADMINKIT_JOURNAL) for new runs")


def _open_fix(path: Path, problem: str, fix: str | None) -> str:
    """What to do when the journal cannot be read; a lock is no damage."""
    if "database is locked" in problem:
        return ("another adminkit process (a long run, `serve`) holds the journal: try "
                f"again once it is done; `fuser -v {path}` shows which")
    return fix or ""


def _kind(info: os.stat_result) -> str:
    if stat.S_ISDIR(info.st_mode):
        return "a folder"
    if stat.S_ISFIFO(info.st_mode):
        return "a FIFO"
    if stat.S_ISSOCK(info.st_mode):
        return "a socket"
    return "a device"


def _verified(journal: Any) -> Finding:
    report = journal.verify()
    where = str(journal.path)
    if report.ok:
        keyed = f", keyed from row {report.keyed_from}" if report.keyed_from else ""
        return Finding("journal", where, "ok", f"{report.rows} rows verified{keyed}")
    if report.damaged:  # pages SQLite cannot read
        return Finding("journal", where, "fail", f"the journal file is damaged: "
                       f"{report.damaged}", _open_fix(journal.path, report.damaged, DAMAGED))
    first = f" (first bad row {report.first_bad})" if report.first_bad is not None else ""
    if journal.key is None:  # nothing else can be told without the key
        return Finding("journal", where, "fail", f"cannot be verified: {journal.key_problem}",
                       "put the journal key back from your backups (the key file, or what "
                       "ADMINKIT_JOURNAL_KEY names); without it the journal can be read and "
                       "exported, not verified nor appended to")
    fix = ("keep the file as evidence; `adminkit journal verify` lists every problem. A "
           "dropped trigger or a lost head file alone: `journal verify --restore` once you "
           "know why; altered rows: start a new journal (ADMINKIT_JOURNAL) for new runs")
    return Finding("journal", where, "fail", f"fails verification{first}: {report.reason}", fix)


def _outbox(journal: Any, now: datetime) -> Iterator[Finding]:
    rows = [r for r in journal.outbox() if r["status"] != "delivered"]
    failed = [r for r in rows if r["status"] == "failed"]
    pending = [r for r in rows if r["status"] == "pending"]
    where = f"{journal.path} outbox"
    if failed:
        yield Finding("outbox", where, "fail", f"{len(failed)} ticket notes failed for good "
                      f"(last error: {failed[-1]['last_error'] or 'none'})",
                      "adminkit ticket outbox --status failed; then adminkit ticket flush "
                      "--retry-failed")
    if not pending:
        if not failed:
            yield Finding("outbox", where, "ok", "no ticket notes waiting")
        return
    oldest = min(datetime.fromisoformat(r["created"]) for r in pending)
    age = now - (oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC))
    text = f"{len(pending)} ticket notes waiting, the oldest for {_duration(age)}"
    if age > OUTBOX_STALE:
        yield Finding("outbox", where, "fail", text, "the ticket system is not taking notes: "
                      "`adminkit ticket outbox` shows the last errors; `adminkit -p PROFILE "
                      "profile check` the system; then `adminkit ticket flush --now`")
    else:
        yield Finding("outbox", where, "ok", text + " (delivered by the next run or "
                      "`adminkit ticket flush`)")


def clock_skew(profile: Profile, now: Callable[[], datetime]) -> Iterator[Finding]:
    """This machine's clock against the profile's directory."""
    from adminkit.accounts.settings import directory_settings

    cfg = directory_settings(profile)
    subject = f"profile {profile.name}"
    if cfg is None:
        yield Finding("clock", subject, "skip", "the profile names no directory")
        return
    from adminkit.accounts.clock import server_time
    from adminkit.accounts.directory import open_directory
    from adminkit.core.errors import AdminkitError

    subject = cfg.url
    try:
        directory = open_directory(profile)
    except AdminkitError as exc:
        yield Finding("clock", subject, "fail", f"cannot ask the directory: {exc.message}",
                      f"adminkit profile check {profile.name}")
        return
    try:
        before = now()
        theirs = server_time(directory)
        mine = before + (now() - before) / 2  # the middle of the question
    except AdminkitError as exc:
        yield Finding("clock", subject, "fail", f"cannot read the directory's time: "
                      f"{exc.message}", f"adminkit profile check {profile.name}")
        return
    finally:
        directory.close()
    if theirs is None:
        yield Finding("clock", subject, "skip", "the directory does not publish its time "
                      "(OpenLDAP without the monitor backend)")
        return
    skew = mine - theirs
    ahead = "ahead of" if skew > timedelta(0) else "behind"
    size = abs(skew)
    text = f"this machine is {size.total_seconds():.0f} s {ahead} the directory"
    if size > SKEW_FAIL:
        yield Finding("clock", subject, "fail", text + ": Kerberos refuses more than 5 min, "
                      "and password-expiry and inactivity reports count from the wrong day",
                      "synchronise this machine's clock (systemd-timesyncd or chrony) with "
                      "the domain's time source")
    elif size > SKEW_WARN:
        yield Finding("clock", subject, "warn", text, "synchronise this machine's clock "
                      "(systemd-timesyncd or chrony)")
    else:
        yield Finding("clock", subject, "ok", text)


def approver_map(profile: Profile) -> Iterator[Finding]:
    """Whether `approve` at the command line would honour the profile's console approver
    map: judged by the check approve itself runs (automation/trusted.py), its reason
    (owner, mode, links, user namespace) shown where an operator looks."""
    from adminkit.automation.trusted import map_honoured
    from adminkit.core.errors import AdminkitError

    subject = str(profile.file or f"profile {profile.name}")
    try:
        honoured = map_honoured(profile)
    except AdminkitError as exc:  # refused; or the file, read again, is no profile now
        yield Finding("approvers", subject, "fail", "the console approver map is not "
                      f"honoured: {exc.message}", exc.hint or "")
        return
    if honoured is None:
        yield Finding("approvers", subject, "skip", "no console approver map "
                      "(automation.console_approvers)")
    else:
        yield Finding("approvers", subject, "ok", honoured)


def _duration(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
