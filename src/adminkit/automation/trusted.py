"""Whose file the command line's approver map may come from.

`adminkit approve|reject` reads `automation.console_approvers` from the profile the
caller chooses (--profile, --config, ADMINKIT_CONFIG): a user who may read the real
profile but not change it could point adminkit at a copy of their own that names them
approver. So the map counts only from a file that nobody but root, or the one account
the profile names as its owner (`automation.console_approvers_owner`, e.g. the service
account that deploys profiles), can have written: the file and every folder on the way
to it (symbolic links followed, each link's own folder too) owned by one of them and
writable by neither group nor others. A root-owned sticky folder (/tmp) is the one
exception: nobody else may rename or remove what others made in it, and the entry
below it is checked in turn (a symbolic link too: its owner may replace it at will, so
it must be one of them). The file must have one name (a hard link elsewhere would keep
an old map alive after the profile is replaced), and `..` is taken after the link before
it, as the kernel takes it. In a user namespace (`unshare -r`) any user is uid 0 and may
own "/": no uid seen there is the system's, so nothing there is trusted. The named owner
may not itself be a login the map names. The file judged is then read again (opened
without following links, the same file by device and inode): its map must be the one
the profile was loaded with, or that was some other file, or changed since.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from adminkit.core.errors import PolicyRefused

if TYPE_CHECKING:
    from adminkit.core.config import Profile

_HINT = ("make root (or the account automation.console_approvers_owner names) own the "
         "profile and every folder above it, none writable by group or others "
         "(chown root: FILE; chmod go-w FILE and its folders); or answer /approve on "
         "the ticket")
_MAX_LINKS = 40  # as the kernel's own limit on links in one lookup


def check_map_file(path: str | os.PathLike[str], owner: str | None,
                   mapped: Mapping[str, str]) -> None:
    """PolicyRefused (exit 4) unless the approver map at `path` can only have been
    written by root or `owner`, and is `mapped` (with `owner`), the map the profile was
    loaded with; saying which file or folder and why."""
    host_uids()
    trusted = {0: "root"}
    if owner:
        uid = _uid_of(owner)
        if owner in mapped or uid in _uids_of(mapped):  # by name, or an alias's uid
            raise PolicyRefused(f"automation.console_approvers_owner {owner} is also a "
                                "login the map names: the map's owner could make itself "
                                "any approver", hint=_HINT)
        trusted[uid] = owner
    try:
        place, st = os.sep, os.stat(os.sep)
        for place, st in _traversed(os.fspath(path)):
            if stat.S_ISLNK(st.st_mode):
                _judge_link(place, st, trusted)
            else:
                _judge(place, st, trusted)
        held = _map_in(place, st)
    except OSError as exc:
        raise PolicyRefused(f"{exc.filename or path}: {exc.strerror}: cannot tell who may "
                            "change the approver map", hint=_HINT) from None
    if held != (dict(mapped), owner):
        raise PolicyRefused(f"{place}: its approver map is not the one the profile was "
                            "read with (the file changed meanwhile, or the path led "
                            "elsewhere then)", hint="run the command again")


def map_honoured(profile: Profile) -> str | None:
    """What `approve` at the command line makes of the profile's console approver map,
    by the very check it runs (check_map_file): None when there is none to judge (no
    map, or a profile built in code), a sentence when it is honoured, PolicyRefused
    saying why not (owner, mode, links, user namespace) when it is not."""
    from adminkit.automation.settings import AutomationConfig

    cfg = profile.section("automation", AutomationConfig)
    if cfg is None or not cfg.console_approvers or profile.file is None:
        return None
    owner = cfg.console_approvers_owner
    check_map_file(profile.file, owner, cfg.console_approvers)
    whose = f"root or {owner}" if owner else "root"
    return (f"honoured: {len(cfg.console_approvers)} login(s) may approve at the command "
            f"line; only {whose} can change {profile.file} and the folders above it")


def _map_in(place: str, judged: os.stat_result) -> tuple[Any, Any]:
    """The map and owner in the file judged at `place` (a path without links), read
    from that very file: (console_approvers, console_approvers_owner) as its YAML has
    them."""
    from adminkit.core import yamlsource

    fd = os.open(place, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != (judged.st_dev, judged.st_ino):
            raise OSError(116, "the file changed while it was judged", place)
        raw = b""
        while len(raw) <= yamlsource.MAX_BYTES:
            chunk = os.read(fd, yamlsource.MAX_BYTES + 1 - len(raw))
            if not chunk:
                break
            raw += chunk
    finally:
        os.close(fd)
    data = yamlsource.loads(raw, Path(place)).data
    section = data.get("automation") if isinstance(data, dict) else None
    if not isinstance(section, dict):
        return None, None
    return section.get("console_approvers"), section.get("console_approvers_owner")


def host_uids() -> None:
    """PolicyRefused unless this process sees the system's own uids (the initial user
    namespace): in one a user made (`unshare -r`, `--map-user`) their uid reads 0, or any
    login's, and their files read root's."""
    try:
        with open("/proc/self/uid_map", encoding="ascii") as f:
            mapping = f.read().split()
    except OSError:
        return  # no user namespaces on this system (not Linux)
    if mapping != ["0", "0", "4294967295"]:
        raise PolicyRefused("this process runs in a user namespace (uid_map "
                            f"{' '.join(mapping)!r}): the uids it sees are not the "
                            "system's, so neither the login nor the profile's owner can "
                            "be told", hint="approve from a login on the host, or answer "
                            "/approve on the ticket")


def _uid_of(login: str) -> int:
    import pwd

    try:
        return pwd.getpwnam(login).pw_uid
    except KeyError:
        raise PolicyRefused(f"automation.console_approvers_owner {login} is no login on "
                            "this machine", hint=_HINT) from None


def _uids_of(logins: Mapping[str, str]) -> set[int]:
    """The uids of the map's logins that exist here (two names may share one uid)."""
    import pwd

    found = set()
    for login in logins:
        try:
            found.add(pwd.getpwnam(login).pw_uid)
        except KeyError:
            continue
    return found


def _judge(place: str, st: os.stat_result, trusted: dict[int, str]) -> None:
    folder = stat.S_ISDIR(st.st_mode)
    if not folder and not stat.S_ISREG(st.st_mode):
        raise PolicyRefused(f"{place}: not a regular file: the approver map is read only "
                            "from one", hint=_HINT)
    whose = " or ".join(trusted.values())
    if st.st_uid not in trusted:
        raise PolicyRefused(f"{place}: owned by {_name_of(st.st_uid)}, not by {whose}: "
                            "that user could name anyone approver, themselves too",
                            hint=_HINT)
    sticky = folder and st.st_uid == 0 and st.st_mode & stat.S_ISVTX
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not sticky:
        kind = "folder" if folder else "file"
        raise PolicyRefused(f"{place}: the {kind} is writable by group or others (mode "
                            f"{stat.S_IMODE(st.st_mode):04o}): they could change the "
                            "approver map", hint=_HINT)
    if not folder and st.st_nlink != 1:
        raise PolicyRefused(f"{place}: the file has {st.st_nlink} names (hard links): "
                            "another name would keep this map after the profile is "
                            "replaced", hint=_HINT)


def _judge_link(place: str, st: os.stat_result, trusted: dict[int, str]) -> None:
    """A link's owner may replace it (in a sticky folder too, where it is theirs)."""
    if st.st_uid not in trusted:
        raise PolicyRefused(f"{place}: a link owned by {_name_of(st.st_uid)}, not by "
                            f"{' or '.join(trusted.values())}: its owner could point it at "
                            "another map", hint=_HINT)


def _name_of(uid: int) -> str:
    import pwd

    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _traversed(path: str) -> Iterator[tuple[str, os.stat_result]]:
    """Every folder the lookup of `path` passes through, each symbolic link resolved
    by hand (the link itself, then its folder is passed through too), then the file
    itself: (path, stat). `..` is taken where the lookup is, after any link before it
    (os.path.abspath would drop `link/..` as text: the kernel does not)."""
    whole = path if os.path.isabs(path) else os.path.join(os.getcwd(), path)
    pending = [p for p in reversed(whole.split(os.sep)) if p]
    here, links = os.sep, 0
    yield here, os.stat(here)
    while pending:
        part = pending.pop()
        if part == ".":
            continue
        if part == "..":
            here = os.path.dirname(here)
            continue
        step = os.path.join(here, part)
        st = os.lstat(step)
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > _MAX_LINKS:
                raise OSError(40, "too many levels of symbolic links", step)
            yield step, st
            target = os.readlink(step)
            if os.path.isabs(target):
                here = os.sep
            pending.extend(p for p in reversed(target.split(os.sep)) if p)
            continue
        here = step
        yield here, st
