"""Review of serve's kept directory connections (automation/warm.py) against a slapd of
the test's own: what a worker hands its next run after the directory changed under it."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adminkit.accounts.actions.base import LoginParams
from adminkit.accounts.actions.state import DisableAccount, EnableAccount
from adminkit.automation.request import RunRequest
from adminkit.automation.service import RunService
from adminkit.automation.warm import Warm
from adminkit.core.config import Profile
from adminkit.journal.store import Filters, Journal
from adminkit.lab.slapd import HOST, NOBODY_DN, SERVICE_DN, SUFFIX, SlapdServer, ssha

pytestmark = pytest.mark.integration

LOGIN = "kept"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _ldapi(server: SlapdServer, ldif: str, tool: str = "ldapmodify") -> None:
    done = subprocess.run([tool, "-Q", "-Y", "EXTERNAL", "-H", server.ldapi_url],
                          input=ldif, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlapdServer]:
    server = SlapdServer(tmp_path_factory.mktemp("own") / "lab", ldap_port=_free_port(),
                         ldaps_port=_free_port())
    with server.running():
        _ldapi(server, f"dn: uid={LOGIN},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\n"
                       f"uid: {LOGIN}\ncn: Kept\nsn: Kept\n", tool="ldapadd")
        yield server


def _disabled(server: SlapdServer, login: str = LOGIN) -> bool:
    done = subprocess.run(["ldapsearch", "-LLL", "-Q", "-Y", "EXTERNAL", "-H",
                           server.ldapi_url, "-b", f"uid={login},ou=people,{SUFFIX}",
                           "-s", "base", "+"], capture_output=True, text=True, check=True)
    return "pwdAccountLockedTime: 000001010000Z" in done.stdout


def test_a_rotated_service_password_is_used_once_the_kept_connection_is_gone(
        slapd: SlapdServer, tmp_path: Path) -> None:
    """The service account's password is rotated (server and secret file) and slapd
    restarts: the next run must bind with the new password, as a run of its own does,
    not reconnect with the kept directory's old one for up to a minute."""
    secret = slapd.secret_file("adminkit")
    old = secret.read_text()
    warm, run = _worker(slapd, tmp_path)
    try:
        assert run(DisableAccount) == 0 and _disabled(slapd)
        new = "Rotated-Secret-4711"
        _ldapi(slapd, f"dn: {SERVICE_DN}\nchangetype: modify\nreplace: userPassword\n"
                      f"userPassword: {ssha(new)}\n")
        secret.write_text(new)
        slapd.stop()
        slapd.start()
        slapd.wait_ready()
        assert run(EnableAccount) == 0
        assert not _disabled(slapd)
    finally:
        warm.close()
        _ldapi(slapd, f"dn: {SERVICE_DN}\nchangetype: modify\nreplace: userPassword\n"
                      f"userPassword: {ssha(old)}\n")
        secret.write_text(old)


def _worker(slapd: SlapdServer, tmp_path: Path, login: str = LOGIN, **extra: Any
            ) -> tuple[Warm, Callable[[type[DisableAccount]], int]]:
    """A serve worker's kept connections, and its runs of one action on `login`."""
    profile = Profile.of(name="own", **extra, **slapd.profile())
    service, warm = RunService(journal_path=tmp_path / "journal.db"), Warm()
    service.deliver_later = False
    return warm, _runner(service, warm, profile, login)


def _runner(service: RunService, warm: Warm, profile: Profile, login: str
            ) -> Callable[[type[DisableAccount]], int]:
    def run(action: type[DisableAccount]) -> int:
        report = service.run(RunRequest(command=action.name, profile=profile,
                                        actions=[action(LoginParams(login=login))]),
                             warm=warm)
        return int(report.exit_code)

    return run


def test_a_protected_group_recreated_between_two_runs_is_read_afresh(
        slapd: SlapdServer, tmp_path: Path) -> None:
    """The protected group is deleted and made again (a new entryUUID) with the account
    in it: the next run on the kept connection must refuse to disable that account."""
    login, group = "guarded", f"cn=admins,ou=groups,{SUFFIX}"
    _ldapi(slapd, f"dn: uid={login},ou=people,{SUFFIX}\nobjectClass: inetOrgPerson\n"
                  f"uid: {login}\ncn: Guarded\nsn: Guarded\n\n"
                  f"dn: {group}\nobjectClass: groupOfNames\ncn: admins\n"
                  f"member: {NOBODY_DN}\n", tool="ldapadd")
    warm, run = _worker(slapd, tmp_path, login, policy={"protected_groups": ["admins"]})
    try:
        assert run(DisableAccount) == 0  # not protected yet: the group's DN and UUID read
        assert run(EnableAccount) == 0
        _ldapi(slapd, f"dn: {group}\nchangetype: delete\n\n"
                      f"dn: {group}\nchangetype: add\nobjectClass: groupOfNames\n"
                      f"cn: admins\nmember: uid={login},ou=people,{SUFFIX}\n")
        assert run(DisableAccount) == 4  # refused by policy
        assert not _disabled(slapd, login)
    finally:
        warm.close()


def test_a_write_after_slapd_restarted_between_two_runs_is_done_once(
        slapd: SlapdServer, tmp_path: Path) -> None:
    """The kept connection died with slapd: the next run writes on a new one, once."""
    warm, run = _worker(slapd, tmp_path)
    try:
        assert run(EnableAccount) == 0
        slapd.stop()
        slapd.start()
        slapd.wait_ready()
        assert run(DisableAccount) == 0 and _disabled(slapd)
        assert run(EnableAccount) == 0 and not _disabled(slapd)
    finally:
        warm.close()
    journal = Journal(tmp_path / "journal.db")
    try:
        rows = journal.entries(Filters(kinds=("action",)))
    finally:
        journal.close()
    writes = [r["action"] for r in rows if r["status"] == "changed"]
    assert writes == ["account.disable", "account.enable"]


def test_many_runs_on_a_kept_connection_leave_no_descriptor_or_thread_behind(
        slapd: SlapdServer, tmp_path: Path) -> None:
    """A worker runs one playbook after another: what it holds stays the same."""
    import os
    import threading

    def fds() -> list[str]:
        targets = []
        for fd in os.listdir("/proc/self/fd"):
            try:
                targets.append(os.readlink(f"/proc/self/fd/{fd}"))
            except OSError:  # the listing's own descriptor, closed by now
                continue
        return sorted(targets)

    warm, run = _worker(slapd, tmp_path)
    held: list[tuple[list[str], int]] = []
    try:
        for n in range(60):
            assert run(DisableAccount if n % 2 == 0 else EnableAccount) == 0
            if n in (19, 59):  # after a warm-up: what the first runs make once is kept
                held.append((fds(), threading.active_count()))
    finally:
        warm.close()
    # 40 runs apart: a leak of one per run shows as 40; the targets say what it is. One
    # fewer is no leak (a descriptor in use at run 20, such as a socket being closed,
    # gone by run 60: CI saw 15 then 14)
    (before, threads_before), (after, threads_after) = held
    assert len(after) <= len(before) and threads_after <= threads_before, (
        sorted(set(after) - set(before)), threading.enumerate())
