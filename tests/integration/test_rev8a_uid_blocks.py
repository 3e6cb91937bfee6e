"""rev8a: uidNumber blocks on the lab's real slapd, attacked: two bulk imports and single
creates at once never share a number; an import killed with a block in hand leaves a gap
only. Read back through the rootdn's own connection, never through the backend."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest
from ldap3 import BASE, SUBTREE, Connection

from adminkit.accounts.directory import NewUser, open_directory
from adminkit.core.config import Profile
from adminkit.core.secrets import Secret
from adminkit.lab.slapd import SUFFIX
from tests.integration.test_directory_openldap import profile, root, server

__all__ = ["profile", "root", "server"]  # the rootdn witness and the lab profile, shared

pytestmark = pytest.mark.integration
PEOPLE = f"ou=people,{SUFFIX}"
PASSWORD = "Initial-Pass-1"


def _counter(profile: Profile, root: Connection) -> int:
    dn = str(profile.directory.options["uid_counter_dn"])  # type: ignore[union-attr]
    assert root.search(dn, "(objectClass=*)", BASE, attributes=["uidNumber"])
    value = root.response[0]["attributes"]["uidNumber"]
    return int(value[0] if isinstance(value, list) else value)


def _numbers(root: Connection, tag: str) -> list[int]:
    root.search(PEOPLE, f"(uid=r8.{tag}.*)", SUBTREE, attributes=["uidNumber"])
    return [int(_one(e["attributes"]["uidNumber"])) for e in root.response
            if e["type"] == "searchResEntry"]


def _one(value: object) -> object:
    return value[0] if isinstance(value, list) else value


def _user(tag: str, i: int) -> NewUser:
    login = f"r8.{tag}.{i}.{uuid.uuid4().hex[:4]}"
    return NewUser(login, "R", "Eight", login, Secret(PASSWORD), PEOPLE, must_change=False)


def test_two_bulk_imports_and_single_creates_at_once_never_share_a_uid_number(
        profile: Profile, root: Connection) -> None:
    tag = uuid.uuid4().hex[:6]
    before = _counter(profile, root)
    errors: list[BaseException] = []

    def bulk(who: str) -> None:
        directory = open_directory(profile)
        try:
            for unit in range(3):  # units of 25: blocks of 100, then 256
                made = directory.create_users([_user(f"{tag}.{who}{unit}", i) for i in range(25)])
                errors.extend(m for m in made if isinstance(m, Exception))
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)
        finally:
            directory.close()

    def single() -> None:
        try:
            for i in range(10):
                directory = open_directory(profile)  # `account create`: a process each
                try:
                    directory.create_user(_user(f"{tag}.s", i))
                finally:
                    directory.close()
        except BaseException as exc:  # noqa: BLE001 - asserted below
            errors.append(exc)

    threads = [threading.Thread(target=bulk, args=("a",)),
               threading.Thread(target=bulk, args=("b",)), threading.Thread(target=single)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    numbers = _numbers(root, tag)
    assert len(numbers) == 2 * 75 + 10
    assert len(set(numbers)) == len(numbers)
    assert min(numbers) >= before and max(numbers) < _counter(profile, root)


KILLED = textwrap.dedent("""
    import os, signal, sys
    from adminkit.core.config import load_profile
    from adminkit.accounts.directory import open_directory
    from pathlib import Path
    d = open_directory(load_profile("lab-openldap", Path(sys.argv[1])))
    d._size_uid_block(25)                  # a bulk unit of 25: a block of 100
    print(d.next_uid_number(), flush=True) # a block in hand, the add never sent
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_an_import_killed_with_a_block_in_hand_leaves_a_gap_never_a_reuse(
        profile: Profile, root: Connection, lab_config_dir: Path) -> None:
    run = subprocess.run([sys.executable, "-c", KILLED, str(lab_config_dir)],
                         capture_output=True, text=True, timeout=60, env={**os.environ})
    assert run.returncode == -signal.SIGKILL, run.stderr
    taken = int(run.stdout.split()[0])
    assert _counter(profile, root) >= taken + 100  # the whole block stays reserved
    tag = uuid.uuid4().hex[:6]
    directory = open_directory(profile)
    try:
        directory.create_user(_user(tag, 0))
    finally:
        directory.close()
    (number,) = _numbers(root, tag)
    assert number >= taken + 100


def test_a_small_import_gives_its_blocks_unused_numbers_back_when_nobody_took_more(
        profile: Profile, root: Connection) -> None:
    """A daily 3-row import (a unit of 3: a block of 12) left 9 numbers unused each run,
    a 26-row one 74: a site whose uid range is bounded (10000-60000) ran out within a
    couple of years. Closed while the counter still stands at its block's end, the
    connection sets the counter back to its first unused number (a compare-and-swap:
    had anyone reserved since, the gap stays)."""
    tag = uuid.uuid4().hex[:6]
    start = _counter(profile, root)
    directory = open_directory(profile)
    try:
        made = directory.create_users([_user(tag, i) for i in range(3)])
    finally:
        directory.close()
    assert not [m for m in made if isinstance(m, Exception)]
    assert sorted(_numbers(root, tag)) == [start, start + 1, start + 2]
    assert _counter(profile, root) == start + 3


def test_a_block_is_not_given_back_once_another_creator_reserved_after_it(
        profile: Profile, root: Connection) -> None:
    tag = uuid.uuid4().hex[:6]
    start = _counter(profile, root)
    first, other = open_directory(profile), open_directory(profile)
    try:
        first.create_users([_user(f"{tag}.a", i) for i in range(3)])  # block of 12
        other.create_user(_user(f"{tag}.b", 0))  # reserves after it
    finally:
        first.close()  # its counter moved on: the 9 stay a gap
        other.close()
    assert sorted(_numbers(root, f"{tag}.a")) == [start, start + 1, start + 2]
    assert _numbers(root, f"{tag}.b") == [start + 12]
    assert _counter(profile, root) == start + 13
    again = open_directory(profile)
    try:
        again.create_user(_user(f"{tag}.c", 0))
    finally:
        again.close()
    assert _numbers(root, f"{tag}.c") == [start + 13]  # nothing handed out twice
