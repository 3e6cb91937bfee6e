"""Files a person names: reading a small regular one safely, and writing one privately.

A path in a profile, on the command line or in a playbook may point at a FIFO (the
read waits for a writer forever), a device (`/dev/zero` never ends) or a file far
larger than anything adminkit reads. So the type is checked before the file is
opened (opening some devices has effects), checked again on the opened descriptor
(the name may have been swapped in between), the size is checked before reading, and
reading stops one byte past the limit whatever the size said.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from adminkit.core.errors import ActionFailed, ConfigError, UsageError

if TYPE_CHECKING:
    import ssl

CHUNK = 1 << 16


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def read_small(path: Path | str, limit: int, *, error: type[UsageError] = UsageError,
               follow_links: bool = True, private: bool = False, what: str = "") -> bytes:
    """The bytes of `path`, a regular file of at most `limit` bytes, or `error` saying why
    not (every `error` is a usage error: exit 2).

    `follow_links=False`: a symbolic link at `path` itself is refused (for files adminkit
    keeps itself). `private=True`: a file others may read or write is refused (secrets).
    """
    name = f"{what}: {path}" if what else str(path)
    try:
        before = os.stat(path, follow_symlinks=follow_links)
    except OSError as exc:
        raise error(f"{name}: cannot read: {exc.strerror}") from None
    _check(before, path, name, limit, error, private)
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_links:
            raise error(f"{name}: is a symbolic link, which is not followed here") from None
        raise error(f"{name}: cannot read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != (before.st_dev, before.st_ino):
            raise error(f"{name}: the file changed while it was opened; try again")
        _check(info, path, name, limit, error, private)
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            chunk = os.read(fd, min(CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise error(f"{name}: cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)
    if size > limit:
        raise error(f"{name}: file is larger than {limit} bytes")
    return b"".join(chunks)


def _check(info: os.stat_result, path: Path | str, name: str, limit: int,
           error: type[UsageError], private: bool) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{name}: {_kind(info.st_mode)}, not a regular file",
                    hint="give the path of an ordinary file")
    if private and info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise error(f"{name}: readable by others (mode {info.st_mode & 0o777:o})",
                    hint=f"chmod 600 {path}")
    if info.st_size > limit:
        raise error(f"{name}: file is larger than {limit} bytes")



def parse_mode(text: str, option: str = "--mode") -> int:
    """`0600`, `600` or `0o600` as a file mode."""
    try:
        mode = int(text.removeprefix("0o"), 8)
    except ValueError:
        mode = -1
    if not 0 <= mode <= 0o777:
        raise UsageError(f"{option} {text!r}: not a file mode", hint="like 0600 or 0640")
    return mode


@contextmanager
def written(path: Path, mode: int = 0o600) -> Iterator[TextIO]:
    """`path` opened for writing text, with exactly `mode` whether it is new or not (an
    export of the journal is 0600 unless asked otherwise). A symbolic link, a FIFO or a
    device at `path` is refused, not written through, and so is a file that belongs to
    another user or has other names (hard links). A write that fails (a full disk)
    leaves the file empty, and says so (exit 1)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, mode)
    except OSError as exc:
        why = "is a symbolic link" if exc.errno == errno.ELOOP else exc.strerror
        raise UsageError(f"cannot write {path}: {why}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"cannot write {path}: {_kind(info.st_mode)}, not a regular file")
        if info.st_uid != os.geteuid():  # its owner could read what is written, whatever mode
            raise UsageError(f"cannot write {path}: the file belongs to another user "
                             f"(uid {info.st_uid}), who could read what is written there",
                             hint="give a path in a folder of your own")
        if info.st_nlink > 1:  # a hard link: the same file under a name chosen by another
            raise UsageError(f"cannot write {path}: the file has other names (hard links)",
                             hint="remove it first, or give another path")
        os.fchmod(fd, mode)
        os.ftruncate(fd, 0)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    keep = os.dup(fd)  # to empty the file after the stream is closed, whatever happened
    stream = os.fdopen(fd, "w", newline="", encoding="utf-8")
    try:
        try:
            yield stream
            stream.close()
        except BaseException:
            # a file written halfway (a full disk, Ctrl-C) would pass for the whole export:
            # what the stream still holds is dropped with it, then the file is emptied
            with contextlib.suppress(OSError):
                stream.close()
            with contextlib.suppress(OSError):
                os.ftruncate(keep, 0)
            raise
    except OSError as exc:
        if isinstance(exc, BrokenPipeError) or exc.filename is not None:
            raise
        raise ActionFailed(f"cannot write {path}: {exc.strerror or exc}; the file was "
                           "left empty") from None
    finally:
        os.close(keep)


# Files a profile names for a library (a CA bundle, a key, known_hosts, a certificate):
# read here, bounded, and handed over as data; a library that takes only a path gets it
# after the same checks. A FIFO there would hang the library's open(), a device or a
# huge file would be read whole.
NAMED_LIMIT = 16 << 20  # the system's whole CA bundle is about 200 KB


def read_named(path: Path | str, key: str, *, limit: int = NAMED_LIMIT,
               error: type[UsageError] = ConfigError) -> bytes:
    """The bytes of the file the profile's `key` names (exit 2 naming key and path)."""
    return read_small(Path(path).expanduser(), limit, error=error, what=key)


def checked_path(path: Path | str, key: str, *, limit: int = NAMED_LIMIT) -> str:
    """`path` for a library that opens it itself, once it is known to be a bounded
    regular file (a symbolic link judged by its target)."""
    read_named(path, key, limit=limit)
    return str(Path(path).expanduser())


def tls_context(ca_file: Path | str | None, key: str) -> ssl.SSLContext:
    """A verifying client context trusting `ca_file` (None: the system's CAs)."""
    import ssl

    if ca_file is None:
        return ssl.create_default_context()
    return _trusting(read_named(ca_file, key).decode("utf-8", errors="replace"), ca_file, key)


def ca_text(ca_file: Path | str, key: str) -> str:
    """The PEM text of the CA bundle at `ca_file`, checked to hold a certificate."""
    text = read_named(ca_file, key).decode("utf-8", errors="replace")
    _trusting(text, ca_file, key)
    return text


def _trusting(text: str, ca_file: Path | str, key: str) -> ssl.SSLContext:
    import ssl

    try:
        if "-----BEGIN CERTIFICATE-----" not in text:  # cadata="" would trust nothing, silently
            raise ValueError("no certificate in it")
        return ssl.create_default_context(cadata=text)
    except (ssl.SSLError, ValueError) as exc:
        raise ConfigError(f"{key}: {ca_file}: not a PEM file of CA certificates ({exc})",
                          hint=f"`{key}` must be a PEM file of the CA that signed the "
                               "server's certificate") from None


# Writing a secret's file: never half written, never through a link, 0600 throughout.
STAGED = ".adminkit-staged-"  # in a temporary file's name, then its writer's PID
STAGED_NAME = 120  # bytes of the final name at most in a temporary's name
PROC_FDS = "/proc/self/fd"


def write_private(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Durably, 0600 from creation: a fresh file in the same folder (never following a
    link), synced, then renamed over `path` (a link planted there is replaced, not
    followed; a reader of an older file never sees the new content). Where the kernel
    allows it the file has no name until then (O_TMPFILE), so a process killed before
    the rename leaves no secret behind; elsewhere it is a temporary name (O_EXCL).

    `replace=False`: linked to `path` instead, which never replaces anything there
    (a file, a link, a FIFO, even one made meanwhile): a usage error saying it exists."""
    fd, temp = _stage(path, data)
    if replace:
        _commit(fd, temp, path)
    else:
        _link_new(fd, temp, path)
    _sync_folder(path.parent)


# O_TMPFILE refused: a filesystem without it (EOPNOTSUPP), a kernel older than 3.11
# (EISDIR: it read O_DIRECTORY | O_WRONLY), or flags it does not know (EINVAL)
NO_TMPFILE = (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL)


def _stage(path: Path, data: bytes) -> tuple[int, str | None]:
    """`data` in a fresh 0600 file in `path`'s folder; its descriptor, still open, and
    its temporary name: None for an unnamed file (O_TMPFILE, named only by a link
    through /proc/self/fd), which a process killed before that leaves nowhere."""
    fd = _unnamed(path.parent)
    if fd is None:
        return _stage_named(path, data)
    try:
        _write_all(fd, data)
    except BaseException:
        discard_staged(fd, None)
        raise
    return fd, None


def _unnamed(folder: Path) -> int | None:
    """A file in `folder` with no name, write-only, 0600; None where it cannot be made."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir(PROC_FDS):  # /proc: how it gets its name
        return None
    try:
        return os.open(folder, flag | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno in NO_TMPFILE:
            return None
        raise


def _stage_named(path: Path, data: bytes) -> tuple[int, str]:
    """`data` in a fresh 0600 temporary file beside `path`; its descriptor, still open."""
    import tempfile

    # the name cut short: `.NAME` and the rest would pass the 255 bytes a name may have
    fd, temp = tempfile.mkstemp(prefix=_staging_prefix(path), dir=path.parent)
    try:
        _write_all(fd, data)
    except BaseException:
        discard_staged(fd, temp)
        raise
    return fd, temp


def _staging_prefix(path: Path) -> str:
    """`.NAME` cut to STAGED_NAME bytes (a name's limit is 255 bytes, not characters: 120
    two-byte letters are 240), at a whole character, then the marker and this PID."""
    cut = os.fsencode(path.name)[:STAGED_NAME].decode("utf-8", errors="ignore")
    return f".{cut}{STAGED}{os.getpid()}-"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _commit(fd: int, temp: str | None, path: Path) -> None:
    """Sync a staged file and rename it over `path`; the descriptor is closed. An unnamed
    one is linked to a staging name first, just before the rename (the one moment a
    kill would leave it named)."""
    try:
        os.fsync(fd)
        if temp is None:
            temp = _link_staging(fd, path)
    except BaseException:
        discard_staged(fd, temp)
        raise
    rename_staged(fd, temp, path)


def _link_staging(fd: int, path: Path) -> str:
    """The unnamed file `fd` linked to a fresh staging name beside `path` (one taken
    meanwhile is never replaced: another name is tried); that name."""
    import secrets

    for _ in range(100):
        temp = str(path.parent / f"{_staging_prefix(path)}{secrets.token_hex(6)}")
        try:
            _link_fd(fd, temp)
        except FileExistsError:
            continue
        return temp
    raise FileExistsError(errno.EEXIST, "no free staging name", str(path.parent))


def _link_fd(fd: int, path: Path | str) -> None:
    """Link the file open as `fd` itself to `path`, which must not exist. A dir_fd makes
    CPython call linkat(), the one call that follows the /proc link (link() would link
    the link: EXDEV); an absolute path ignores it."""
    os.link(f"{PROC_FDS}/{fd}", path, src_dir_fd=fd, follow_symlinks=True)


def _link_new(fd: int, temp: str | None, path: Path) -> None:
    """Sync a staged file and link it to `path` only if nothing is there; the staging
    name (if it has one) is removed and the descriptor closed whatever happens."""
    try:
        os.fsync(fd)
        if temp is None or os.path.isdir(PROC_FDS):  # the staged file itself, by its
            # descriptor: the name may since be someone else's (renamed away in a folder
            # they may write)
            _link_fd(fd, path)
        else:
            os.link(temp, path, follow_symlinks=False)
    except FileExistsError:
        raise UsageError(f"{path} exists", hint="name a file that is not there yet") from None
    finally:
        discard_staged(fd, temp)


def rename_staged(fd: int, temp: str, path: Path, at: int | None = None) -> None:
    """Close a staged file that is synced already and rename it over `path` (`at`:
    both named in the folder open there)."""
    try:
        os.close(fd)
        fd = -1
        if at is None:
            os.replace(temp, path)
        else:
            os.replace(temp, path.name, src_dir_fd=at, dst_dir_fd=at)
    except BaseException:
        discard_staged(fd, temp, at)
        raise


def discard_staged(fd: int, temp: str | None, at: int | None = None) -> None:
    """Close a staged file (fd -1: closed already) and remove it (None: it has no name,
    closing it is enough)."""
    if fd >= 0:
        with contextlib.suppress(OSError):
            os.close(fd)
    if temp is None:
        return
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp, dir_fd=at)


def _sync_folder(folder: Path) -> None:
    """The folder's entries (the renames) on disk too."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
