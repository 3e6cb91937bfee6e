"""Review of serve's kept directory connections (automation/warm.py) against a slapd of
the test's own: what a worker hands its next run after the directory changed under it."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from adminkit.accounts.actions.base import LoginParams
from adminkit.accounts.actions.state import DisableAccount, EnableAccount
from adminkit.automation.request import RunRequest
from adminkit.automation.service import RunService
from adminkit.automation.warm import Warm
from adminkit.core.config import Profile
from adminkit.lab.slapd import HOST, SERVICE_DN, SUFFIX, SlapdServer, ssha

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


def _disabled(server: SlapdServer) -> bool:
    done = subprocess.run(["ldapsearch", "-LLL", "-Q", "-Y", "EXTERNAL", "-H",
                           server.ldapi_url, "-b", f"uid={LOGIN},ou=people,{SUFFIX}",
                           "-s", "base", "+"], capture_output=True, text=True, check=True)
    return "pwdAccountLockedTime: 000001010000Z" in done.stdout


def test_a_rotated_service_password_is_used_once_the_kept_connection_is_gone(
        slapd: SlapdServer, tmp_path: Path) -> None:
    """The service account's password is rotated (server and secret file) and slapd
    restarts: the next run must bind with the new password, as a run of its own does,
    not reconnect with the kept directory's old one for up to a minute."""
    secret = slapd.secret_file("adminkit")
    old = secret.read_text()
    profile = Profile.of(name="own", **slapd.profile())
    service, warm = RunService(journal_path=tmp_path / "journal.db"), Warm()
    service.deliver_later = False

    def run(action: type[DisableAccount]) -> int:
        report = service.run(RunRequest(command=action.name, profile=profile,
                                        actions=[action(LoginParams(login=LOGIN))]),
                             warm=warm)
        return report.exit_code

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
