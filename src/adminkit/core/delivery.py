"""Handing a new secret to exactly one place, and nowhere else.

A generated password goes to the operator's terminal (once), a 0600 file, or an
e-mail to the profile's configured recipient. It never reaches the journal, a
ticket note, a log or a child process's argv; the result records only *how* it was
delivered. Any domain that makes a secret (directory accounts, Entra ID) uses this.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import secrets
import stat
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adminkit.core.config import Profile
from adminkit.core.errors import ActionFailed, UsageError
from adminkit.core.files import STAGED, discard_staged, rename_staged
from adminkit.core.secrets import Secret

if TYPE_CHECKING:
    from adminkit.core.action import Action

log = logging.getLogger("adminkit.delivery")
Send = Callable[[str, Secret], str]  # (who it is for, the secret) -> how it was delivered


@dataclass(frozen=True)
class Delivery:
    """A delivery and the `--deliver` words that made it (a run's record keeps them).

    Callers check it while planning (`check`), hand the secret over *before* they set
    it anywhere (so a crash never leaves a password nobody has), and `withdraw` what
    they handed over if setting it then failed.
    """

    spec: str
    send: Send | None = None  # terminal and mail; files are written here
    folder: Path | None = None  # file deliveries: the folder the files go to
    file: Path | None = None  # file deliveries to one named file
    # the files this delivery wrote, by path: (device, inode), so that `withdraw` takes
    # back only its own file, never one another process wrote there since
    # (keyed by the path's text: a bulk run's 20,000 Path objects are not kept for it)
    wrote: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False,
                                               repr=False)
    swept: set[str] = field(default_factory=set, compare=False, repr=False)  # folders
    # folders found safe while planning, by path: whether others may write there (a bulk
    # run plans thousands of rows into one folder; the writes check it again, per unit)
    planned: dict[str, bool] = field(default_factory=dict, compare=False, repr=False)

    def __call__(self, login: str, secret: Secret) -> str:
        """One secret: a file is written as a bulk unit's are (`many`), relative to its
        folder held open, so a folder swapped after its check gets nothing."""
        if self.send is not None:
            return self.send(login, secret)
        outcome = self.many([(login, secret)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def _mark(self, path: Path, at: int | None = None) -> None:
        with contextlib.suppress(OSError):
            info = os.lstat(path) if at is None else os.lstat(path.name, dir_fd=at)
            self.wrote[str(path)] = (info.st_dev, info.st_ino)

    def many(self, secrets: Sequence[tuple[str, Secret]]) -> list[str | Exception]:
        """Several secrets (a unit of bulk rows), each outcome in order: how it was
        delivered, or why not. The folder is opened once and checked (`_hold_folder`);
        every file is created, renamed and synced relative to that descriptor, so the
        unit's files land in the folder that was checked even if its path is swapped
        meanwhile, and no path is walked again per file. Files are written, synced all
        at once (`_fsync_all`) and renamed, then the folder synced once."""
        if self.send is not None:
            sent: list[str | Exception] = []
            for login, secret in secrets:
                try:
                    sent.append(self.send(login, secret))
                except Exception as exc:  # noqa: BLE001 - this secret's outcome
                    sent.append(exc)
            return sent
        try:
            at, shared = self._hold_folder()
        except UsageError:  # each row says why, with its own error (its own check)
            return [self._refused(login) for login, _ in secrets]
        out: list[str | Exception] = []
        staged: list[tuple[int, int, str, Path]] = []  # (index, fd, temporary, final path)
        renamed: list[int] = []  # indexes of the files renamed into the folder
        paths: dict[int, Path] = {}  # index -> the file its secret goes to
        try:
            for index, (login, secret) in enumerate(secrets):
                try:
                    path = paths[index] = target(self, login, shared=shared, at=at)
                    fd, temp = _stage_in(at, path, (secret.reveal() + "\n").encode())
                except Exception as exc:  # noqa: BLE001 - this secret's outcome
                    out.append(exc)
                    continue
                staged.append((index, fd, temp, path))
                out.append(f"written to {path} (mode 0600)")
            # All written before any is synced: the file system commits them together.
            failed = _fsync_all([fd for _, fd, _, _ in staged])
            while staged:
                index, fd, temp, path = staged.pop(0)
                try:
                    if fd in failed:
                        discard_staged(fd, temp, at)
                        raise failed[fd]
                    rename_staged(fd, temp, path, at)
                except OSError as exc:  # not durable, or not renamed: this secret's outcome
                    out[index] = exc
                    continue
                self._mark(path, at)
                renamed.append(index)
            if renamed:
                try:
                    os.fsync(at)  # the renames on disk: once for the unit
                except OSError as exc:  # not durable: none of them may be set, and no
                    for index in renamed:  # file may name a password nobody will have
                        with contextlib.suppress(OSError):
                            os.unlink(paths[index].name, dir_fd=at)
                        self.wrote.pop(str(paths[index]), None)
                        out[index] = exc
        finally:
            for _, fd, temp, _ in staged:  # left by an error above: never renamed
                discard_staged(fd, temp, at)
            os.close(at)
        for index, outcome in enumerate(out):
            if isinstance(outcome, OSError) and index in paths:
                error = undelivered(paths[index], outcome)
                error.__cause__ = outcome
                out[index] = error
        return out

    def _hold_folder(self) -> tuple[int, bool]:
        """The folder the files go to, opened, and whether others may write there.

        It is checked as `_safe_folder` checks it (by path: its parents and the links on
        the way), and the opened descriptor must be that very folder and pass the
        folder's own rules itself: a folder swapped in before, during or after the
        check is refused or never written to."""
        folder = self.folder or (self.file.parent if self.file else None)
        assert folder is not None
        try:
            at = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise UsageError(f"cannot deliver into {folder}: {exc.strerror}") from None
        try:
            held = os.fstat(at)
            _own_folder(held, folder)
            shared = _safe_folder(folder)
            named = os.stat(folder)
        except OSError as exc:
            os.close(at)
            raise UsageError(f"cannot deliver into {folder}: {exc.strerror}") from None
        except BaseException:
            os.close(at)
            raise
        if (named.st_dev, named.st_ino) != (held.st_dev, held.st_ino):
            os.close(at)
            raise UsageError(f"cannot deliver into {folder}: it was replaced while it was "
                             "checked", hint="find out who changes it; run again")
        return at, shared

    def _refused(self, login: str) -> Exception:
        """Why `login`'s file cannot be written now that the unit's folder was refused."""
        try:
            target(self, login)
        except Exception as exc:  # noqa: BLE001 - this row's outcome
            return exc
        folder = self.folder or (self.file.parent if self.file else None)
        return UsageError(f"cannot deliver into {folder}: it changed while it was checked",
                          hint="run again")

    def check(self, login: str | None = None, *, bulk: bool = False) -> None:
        """Refuse a target that cannot hold the secret safely, before anything is written;
        clear what a killed run left there half-written."""
        if self.folder is None and self.file is None:
            return
        folder = self.folder or (self.file.parent if self.file else None)
        if folder is not None and str(folder) not in self.swept:  # once: a bulk run checks
            self.swept.add(str(folder))  # every row, and a resume's folder is full
            sweep_staged(folder)
        if bulk and self.file is not None:
            raise UsageError(f"--deliver {self.spec}: a run of several accounts needs a folder "
                             "(each gets LOGIN.password), not one file",
                             hint="create a folder (mode 0700) and give file:FOLDER/")
        if login is not None:
            key = str(folder)
            shared = self.planned.get(key)
            if shared is None:
                shared = self.planned[key] = _safe_folder(folder) if folder else False
            target(self, login, shared=shared)

    def withdraw(self, login: str) -> str:
        """Take back a delivered secret that was then not set; says what was done."""
        if self.folder is None and self.file is None:
            return "it was already delivered: disregard it"
        path = target(self, login, new_only=False)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            return f"{path} is gone already"
        if self.wrote.get(str(path)) != (info.st_dev, info.st_ino):
            return (f"{path} was left as it is: it is not the file this run wrote (another "
                    "process wrote it since)")
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return f"{path} was removed"


def check_many(actions: Sequence[Action[Any]]) -> None:
    """Several actions that deliver secrets need a folder: one file would keep only the
    last secret (the others would be set, and lost)."""
    made = [a.deliver for a in actions if a.deliver is not None]
    for deliver in {d.spec: d for d in made}.values():
        deliver.check(bulk=len(made) > 1)


def target(delivery: Delivery, login: str, *, new_only: bool = True,
           shared: bool | None = None, at: int | None = None) -> Path:
    """The file for `login`, in a folder only root or the operator can change.
    `shared`: the folder was just checked (`_safe_folder`, for many files at once)
    and found writable by others (sticky) or not; None: check it now. `at`: the
    folder's descriptor, which the file's own checks are made relative to."""
    if "/" in login or login in ("", ".", ".."):
        raise UsageError(f"{login!r} cannot name a password file")
    path = delivery.folder / f"{login}.password" if delivery.folder else delivery.file
    assert path is not None
    if shared is None:
        shared = _safe_folder(path.parent)
    if new_only:
        if shared and _lexists(path, at):
            raise UsageError(f"cannot deliver to {path}: it is already there, in a folder "
                             "others can write to", hint="use a private folder (mode 0700)")
        _replaceable(path, links=delivery.folder is not None, at=at)
    return path


def _lexists(path: Path, at: int | None) -> bool:
    try:
        os.lstat(path if at is None else path.name, dir_fd=at)
    except FileNotFoundError:
        return False
    return True


def _replaceable(path: Path, *, links: bool, at: int | None = None) -> None:
    """What is at `path` may be replaced: nothing, a regular file, or (`links`: a file
    planted in a folder) a link to one, itself replaced. Never a device, a FIFO, a socket
    or a folder, nor a link the operator named: as root, `file:/dev/null` or
    `file:/dev/stdout` would put a password file in their place. `at`: the folder's
    descriptor (the name is looked up in it)."""
    name: Path | str = path if at is None else path.name
    if not links:
        try:
            link = stat.S_ISLNK(os.lstat(name, dir_fd=at).st_mode)
        except OSError:
            link = False
        if link:
            raise UsageError(f"cannot deliver to {path}: it is a symbolic link (to "
                             f"{os.readlink(name, dir_fd=at)}), which would be replaced, "
                             "not written through",
                             hint="give the path of the file itself, or a folder you own")
    try:
        info = os.stat(name, dir_fd=at)  # a link: what it names
    except FileNotFoundError:
        return  # nothing there, or a dangling link (replaced)
    except OSError as exc:
        raise UsageError(f"cannot deliver to {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UsageError(f"cannot deliver to {path}: not a regular file "
                         f"({stat.filemode(info.st_mode)})",
                         hint="give a folder you own (each account gets LOGIN.password) "
                              "or the path of a new file")


def _safe_ancestors(folder: Path) -> None:
    """Every folder above `folder`, as named and as resolved, is changed only by root or
    the operator (or is sticky, and theirs: a sticky folder's owner may rename any entry
    in it): anyone else who may rename an entry there could swap the folder for their
    own between this check and the write."""
    for chain in (folder, Path(os.path.realpath(folder))):
        for above in chain.parents:
            try:
                info = os.stat(above)
            except OSError:
                continue  # the folder's own check says what is wrong
            if info.st_mode & stat.S_ISVTX and info.st_uid in (0, os.geteuid()):
                continue
            if info.st_uid not in (0, os.geteuid()) or \
                    info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise UsageError(
                    f"cannot deliver into {folder}: {above} above it may be changed by "
                    f"others (owner uid {info.st_uid}, mode {info.st_mode & 0o7777:o}), "
                    "who could swap the folder for their own",
                    hint="use a folder whose every parent only you or root can change")


def _safe_folder(folder: Path) -> bool:
    """Refuse a folder someone else could swap or fill; whether others may write there
    (a sticky folder: only a file that is not there yet may be written)."""
    try:
        info = os.stat(folder)
    except OSError as exc:
        raise UsageError(f"cannot deliver into {folder}: {exc.strerror}",
                         hint="create the folder first, mode 0700") from None
    shared = _own_folder(info, folder)
    _safe_ancestors(folder)
    _trusted_links(folder, [40])
    return shared


def _own_folder(info: os.stat_result, folder: Path) -> bool:
    """The folder's own rules (a folder, root's or the operator's, written by others
    only if sticky); whether others may write there."""
    if not stat.S_ISDIR(info.st_mode):
        raise UsageError(f"cannot deliver into {folder}: not a folder")
    if info.st_uid not in (0, os.geteuid()):
        raise UsageError(f"cannot deliver into {folder}: it belongs to another user "
                         f"(uid {info.st_uid})", hint="use a folder you own, mode 0700")
    shared = info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if shared and not info.st_mode & stat.S_ISVTX:
        raise UsageError(f"cannot deliver into {folder}: others may write there",
                         hint="use a folder only you can write to (chmod 0700)")
    return bool(shared)


def _trusted_links(path: Path, budget: list[int]) -> None:
    """No symbolic link on the way to `path` (in it as named, or in what a link names)
    belongs to anyone but root or the operator: its owner could point it at their own
    folder after the check, and the files written after it (a unit's) would go there.
    `budget`: how many links may still be followed (a loop ends)."""
    path = path.absolute()  # a relative one: the links above the working folder too
    for part in (path, *path.parents):
        try:
            info = os.lstat(part)
        except OSError:
            continue  # the folder's own check says what is wrong
        if not stat.S_ISLNK(info.st_mode):
            continue
        if info.st_uid not in (0, os.geteuid()):
            raise UsageError(f"cannot deliver into {path}: {part} is a symbolic link of "
                             f"another user (uid {info.st_uid}), who could point it elsewhere",
                             hint="give the folder's own path, in folders only you or root "
                                  "can change")
        _safe_ancestors(part)  # whoever may change the folder it is in may replace it
        budget[0] -= 1
        if budget[0] < 0:
            raise UsageError(f"cannot deliver into {path}: too many symbolic links")
        try:
            named = os.readlink(part)
        except OSError:  # gone or changed since: the writes' own checks say so
            continue
        _trusted_links(part.parent / named, budget)


def to_terminal(login: str, password: Secret) -> str:
    if not sys.stderr.isatty():
        raise UsageError("no terminal to show the new password on",
                         hint="use --deliver file:PATH (written 0600) or --deliver mail")
    sys.stderr.write(f"\n  new password for {login} (shown once): {password.reveal()}\n\n")
    return "shown once on the operator's terminal"


def undelivered(path: Path, exc: OSError) -> ActionFailed:
    """A password that could not be handed over (a full disk, an I/O error) is never
    set: the error says so plainly, not a bare `[Errno 28]`."""
    return ActionFailed(f"the new password could not be written to {path}: "
                        f"{exc.strerror or exc}; it was not set, nothing was changed with it",
                        hint="make room or fix the folder, then run the same command again")


# A temporary's whole name: `.NAME` STAGED PID `-` and mkstemp's or token_hex's random
# tail, which never holds a dot; a delivered LOGIN.password always ends with one (a
# login is data: `.x.adminkit-staged-1-y` is one, and its file is no temporary).
_STAGED_NAME = re.compile(r"\..+" + re.escape(STAGED) + r"([0-9]+)-[a-z0-9_]+", re.ASCII)


_STAGE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _stage_in(at: int, path: Path, data: bytes) -> tuple[int, str]:
    """`data` in a fresh 0600 temporary file in the folder open at `at`, beside
    `path` (O_EXCL, never through a link: a name someone planted is skipped); its
    descriptor, still open, and the temporary's name in that folder."""
    for _ in range(100):
        temp = f".{path.name}{STAGED}{os.getpid()}-{secrets.token_hex(6)}"
        try:
            fd = os.open(temp, _STAGE_FLAGS, 0o600, dir_fd=at)
        except FileExistsError:
            continue
        break
    else:
        raise FileExistsError(errno.EEXIST, "no free temporary name", str(path))
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except BaseException:
        discard_staged(fd, temp, at)
        raise
    return fd, temp


SYNC_THREADS = 16  # files synced at once, at most
_SYNCERS: list[Any] = []  # the process's pool of sync threads, made on first use
_SYNCERS_LOCK = threading.Lock()


def _fsync_all(fds: Sequence[int]) -> dict[int, OSError]:
    """fsync every descriptor, all at once: the file system commits syncs that wait
    together in one journal commit (ext4, xfs), so a unit's files cost about one sync,
    not one each; and unlike syncfs, nobody else's dirty data is written back with them
    (a directory server's database on the same disk, say). The ones that failed."""
    if len(fds) < 2:
        failed: dict[int, OSError] = {}
        for fd in fds:
            try:
                os.fsync(fd)
            except OSError as exc:
                failed[fd] = exc
        return failed
    with _SYNCERS_LOCK:
        if not _SYNCERS:
            from concurrent.futures import ThreadPoolExecutor

            _SYNCERS.append(ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="adminkit-sync"))
    outcomes = _SYNCERS[0].map(_fsync_one, fds)
    return {fd: error for fd, error in zip(fds, outcomes, strict=True) if error is not None}


def _fsync_one(fd: int) -> OSError | None:
    try:
        os.fsync(fd)
    except OSError as exc:
        return exc
    return None


def sweep_staged(folder: Path) -> int:
    """Remove the temporary files that a killed adminkit left in `folder` (its PID is
    gone): each holds a secret that was never set (a secret is set only after its file
    is renamed into place), and must not lie about. Returns how many went."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        staged = _STAGED_NAME.fullmatch(entry.name)
        if staged is None or _alive(int(staged[1])):
            continue
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.geteuid():
                os.unlink(entry.path)
                removed += 1
    if removed:
        log.warning("removed %d half-written secret file(s) that a killed run left in %s "
                    "(never set anywhere)", removed, folder)
    return removed


def _alive(pid: int) -> bool:
    """Whether `pid` may still be writing; a number no process can have (planted by
    whoever may write the folder) is kept as alive: not ours to remove."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except (OverflowError, OSError):
        return True
    return True


def to_mail(profile: Profile) -> Send:
    mail = profile.mail
    if mail is None or not mail.password_recipient:
        raise UsageError(f"--deliver mail: profile {profile.name} has no mail.password_recipient",
                         hint=f"add mail: {{host, sender, password_recipient}} to {profile.file}")
    recipient = mail.password_recipient

    def deliver(login: str, password: Secret) -> str:
        from email.message import EmailMessage

        from adminkit.core import mail as smtp

        message = EmailMessage()
        message["From"], message["To"] = mail.sender, recipient
        message["Subject"] = f"adminkit: new password for {login}"
        message.set_content(f"The new password for {login} is:\n\n    {password.reveal()}\n\n"
                            "Hand it over in person or by phone, then delete this message.\n")
        smtp.send(profile, message)
        return f"sent by e-mail to {recipient}"

    return deliver


def check_spec(spec: str) -> str:
    """Catch a misspelt --deliver before anything else is looked at."""
    if spec in ("terminal", "mail") or (spec.startswith("file:") and len(spec) > 5):
        return spec
    raise UsageError(f"--deliver {spec!r}: choose terminal, file:PATH or mail")


def delivery(spec: str, profile: Profile | None = None) -> Delivery:
    """`terminal`, `file:PATH` (a file, or a folder for LOGIN.password), or `mail`."""
    check_spec(spec)
    if spec == "terminal":
        return Delivery(spec, to_terminal)
    if spec.startswith("file:"):
        if "\0" in spec:  # a playbook's value can hold one; the command line cannot
            raise UsageError(f"--deliver {spec!r}: a path cannot hold a NUL character")
        try:  # `~nosuchuser/x`, a name too long: the person's mistake, not a crash
            path = Path(spec[5:]).expanduser().absolute()
            folder = path.is_dir()
        except (OSError, RuntimeError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            raise UsageError(f"--deliver {_cut(spec)}: {why}") from None
        if folder:
            return Delivery(spec, folder=path)
        return Delivery(spec, file=path)
    if profile is None:
        raise UsageError("--deliver mail needs a profile with a mail relay")
    return Delivery(spec, to_mail(profile))


def _cut(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."
