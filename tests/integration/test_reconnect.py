"""A lost answer never makes adminkit send a write twice; a lost read is asked again.

Against the lab's real slapd and Samba AD, through a proxy (ldapproxy.py) that passes a
request on, lets the directory do and answer it, and then closes the connection instead
of passing the answer back. Afterwards the directory itself is read, on a connection of
its own: an add, delete or rename went to the server exactly once and the error says it
"may or may not have been done"; a read and an idempotent modify went again and
succeeded. The lab's servers are never stopped.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ldap3
import pytest
import yaml
from ldap3.utils.conv import escape_filter_chars

from adminkit.accounts.directory import Directory, NewUser, UserEntry, backend_class
from adminkit.accounts.ldaperrors import OutcomeUnknown
from adminkit.accounts.settings import DirectoryConfig, directory_settings
from adminkit.core import config
from adminkit.core.config import Profile, load_profile
from adminkit.core.errors import ExitCode
from adminkit.core.secrets import Secret
from adminkit.lab.base import LabServer
from adminkit.lab.samba import SambaServer
from adminkit.lab.slapd import SlapdServer
from tests.integration.ldapproxy import DropProxy

pytestmark = pytest.mark.integration

PASSWORD = "Drop-Pass-7x!"
MAYBE = "may or may not have been done"
# lab server -> (its profile, the directory's own certificate and key, its CA)
LABS = {"samba": ("lab", "dc.pem", "dc.key", "ca.pem"),
        "slapd": ("lab-openldap", "server.crt", "server.key", "ca.crt")}


@dataclass
class Lab:
    """One lab directory: its profile, a proxy in front of it, and a witness connection."""

    name: str
    profile: Profile
    cfg: DirectoryConfig
    password: Secret
    proxy: DropProxy
    witness: ldap3.Connection

    @property
    def login_attr(self) -> str:
        return "sAMAccountName" if self.cfg.kind == "ad" else "uid"

    def proxied_cfg(self) -> DirectoryConfig:
        host = self.cfg.url.removeprefix("ldaps://").rsplit(":", 1)[0]
        return self.cfg.model_copy(update={"url": self.proxy.url(host)})

    def through_proxy(self) -> Directory:
        directory: Directory = backend_class(self.cfg.kind)(  # type: ignore[call-arg]
            self.proxied_cfg(), self.password)
        return directory

    def direct(self) -> Directory:
        directory: Directory = backend_class(self.cfg.kind)(  # type: ignore[call-arg]
            self.cfg, self.password)
        return directory

    def on_server(self, login: str) -> list[str]:
        """The DNs of every entry holding `login`, read from the directory itself."""
        self.witness.search(self.cfg.base_dn, f"({self.login_attr}={escape_filter_chars(login)})",
                            attributes=["1.1"])
        return [e["dn"] for e in self.witness.response or [] if e["type"] == "searchResEntry"]

    def new_user(self, login: str) -> NewUser:
        assert self.cfg.users_ou is not None
        return NewUser(login=login, given_name="Drop", surname="Test",
                       display_name=f"Drop Test {login}", password=Secret(PASSWORD),
                       ou=self.cfg.users_ou, must_change=False)

    def make_user(self, login: str) -> UserEntry:
        """An account made directly (not through the proxy), found through the proxy."""
        direct = self.direct()
        try:
            direct.create_user(self.new_user(login))
        finally:
            direct.close()
        directory = self.through_proxy()
        try:
            user = directory.find_user(login)
        finally:
            directory.close()
        assert user is not None
        return user

    def remove(self, login: str) -> None:
        for dn in self.on_server(login):
            assert self.witness.delete(dn), self.witness.result


@pytest.fixture(scope="module", params=list(LABS))
def lab(request: pytest.FixtureRequest, lab_config_dir: Path) -> Iterator[Lab]:
    server: LabServer = request.getfixturevalue(request.param)
    profile_name, cert, key, ca = LABS[request.param]
    profile = load_profile(profile_name, lab_config_dir)
    cfg = directory_settings(profile)
    assert cfg is not None and cfg.ca_file is not None
    password = profile.secret(cfg.password, "directory password")
    host, port = cfg.url.removeprefix("ldaps://").rsplit(":", 1)
    assert isinstance(server, SambaServer | SlapdServer)
    tls_dir = server.tls  # the lab's CA, and the certificate the proxy shows the client
    tls = ldap3.Tls(ca_certs_file=str(cfg.ca_file), validate=ssl.CERT_REQUIRED)
    witness = ldap3.Connection(ldap3.Server(host, port=int(port), use_ssl=True, tls=tls,
                                            get_info=ldap3.NONE),
                               cfg.bind_user, password.reveal(), auto_bind=True,
                               receive_timeout=30)
    with DropProxy((host, int(port)), ca_file=tls_dir / ca, cert_file=tls_dir / cert,
                   key_file=tls_dir / key) as proxy:
        yield Lab(request.param, profile, cfg, password, proxy, witness)
    witness.unbind()


@pytest.fixture
def login(lab: Lab) -> Iterator[str]:
    name = f"dr{uuid.uuid4().hex[:8]}"
    yield name
    lab.remove(name)


@pytest.fixture
def directory(lab: Lab) -> Iterator[Directory]:
    opened = lab.through_proxy()
    yield opened
    opened.close()


def requests_after(lab: Lab, before: list[tuple[int, str]], what: str) -> int:
    return sum(1 for _, k in lab.proxy.requests[len(before):] if k == what)


# -- writes whose answer is lost: reported, sent once ----------------------------------------
def test_a_create_whose_answer_is_lost_is_reported_and_made_exactly_once(
        lab: Lab, directory: Directory, login: str) -> None:
    before = list(lab.proxy.requests)
    lab.proxy.drop_answer("addResponse")
    with pytest.raises(OutcomeUnknown, match=MAYBE) as exc:
        directory.create_user(lab.new_user(login))
    assert exc.value.exit_code == ExitCode.CONNECTION
    assert lab.proxy.dropped[-1] == "addResponse"
    assert requests_after(lab, before, "add") == 1
    assert len(lab.on_server(login)) == 1  # it was done, once


def test_a_delete_whose_answer_is_lost_is_reported_and_sent_once(
        lab: Lab, directory: Directory, login: str) -> None:
    user = lab.make_user(login)
    before = list(lab.proxy.requests)
    lab.proxy.drop_answer("deleteResponse")
    with pytest.raises(OutcomeUnknown, match=MAYBE):
        directory.delete(user)
    assert requests_after(lab, before, "delete") == 1
    assert lab.on_server(login) == []  # done, once: a second would have answered "no such"


def test_a_move_whose_answer_is_lost_is_reported_and_sent_once(
        lab: Lab, directory: Directory, login: str) -> None:
    user = lab.make_user(login)
    target = lab.cfg.quarantine_ou
    assert target is not None
    before = list(lab.proxy.requests)
    lab.proxy.drop_answer("modifyDNResponse")
    with pytest.raises(OutcomeUnknown, match=MAYBE):
        directory.move(user, target)
    assert requests_after(lab, before, "modifyDN") == 1
    (moved,) = lab.on_server(login)  # exactly one entry, and it is where it was sent
    assert moved.lower().endswith(target.lower())


def test_a_password_reset_whose_answer_is_lost_is_reported_and_sent_once(
        lab: Lab, directory: Directory, login: str) -> None:
    user = lab.make_user(login)
    request, answer = (("modify", "modifyResponse") if lab.cfg.kind == "ad"
                       else ("extended", "extendedResponse"))
    before = list(lab.proxy.requests)
    lab.proxy.drop_answer(answer)
    with pytest.raises(OutcomeUnknown, match=MAYBE) as exc:
        directory.set_password(user, Secret("Other-Pass-8y!"), must_change=False)
    assert "Other-Pass-8y!" not in str(exc.value)
    assert requests_after(lab, before, request) == 1


# -- what is asked again ------------------------------------------------------------------------
def test_a_read_whose_answer_is_lost_is_asked_again_and_succeeds(
        lab: Lab, directory: Directory, login: str) -> None:
    lab.make_user(login)
    before, opened = list(lab.proxy.requests), lab.proxy.connections
    lab.proxy.drop_answer("searchResEntry", "searchResDone")
    user = directory.find_user(login)
    assert user is not None and user.login == login
    assert lab.proxy.dropped[-1] in ("searchResEntry", "searchResDone")
    assert requests_after(lab, before, "search") == 2
    assert lab.proxy.connections == opened + 1


def test_an_idempotent_modify_whose_answer_is_lost_is_sent_again(
        lab: Lab, directory: Directory, login: str) -> None:
    user = lab.make_user(login)
    before = list(lab.proxy.requests)
    lab.proxy.drop_answer("modifyResponse")
    directory.set_attributes(user, {"description": ["set twice, same result"]})
    assert requests_after(lab, before, "modify") == 2
    assert directory.read_attributes(user, ["description"]) == {
        "description": ["set twice, same result"]}


def test_a_create_after_the_connection_was_cut_while_idle_goes_once(
        lab: Lab, directory: Directory, login: str) -> None:
    """Nothing was sent on the cut connection: the add goes on a new one, once."""
    assert directory.find_user("no-such-login-here") is None  # the connection is up
    lab.proxy.cut()
    before = list(lab.proxy.requests)
    directory.create_user(lab.new_user(login))
    assert requests_after(lab, before, "add") == 1
    assert len(lab.on_server(login)) == 1


# -- the command line: exit 3 --------------------------------------------------------------
@pytest.fixture
def proxied_cli(lab: Lab, tmp_path: Path) -> Any:
    """`adminkit --profile dropping ...` whose directory is reached through the proxy."""
    data = yaml.safe_load(lab.profile.file.read_text())
    data["directory"]["url"] = lab.proxied_cfg().url
    config_dir = tmp_path / "config"
    path = config.profile_path("dropping", config_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))

    def run(*args: str, input: str | None = None) -> tuple[int, dict[str, Any], str]:
        """(exit code, the JSON report, stderr)."""
        env = {**os.environ, "ADMINKIT_CONFIG": str(config_dir),
               "ADMINKIT_JOURNAL": str(tmp_path / "journal.db"), "ADMINKIT_OPERATOR": "pytest",
               "ADMINKIT_TICKETS": str(tmp_path / "tickets.db")}
        done = subprocess.run([sys.executable, "-m", "adminkit.cli.main", "--profile",
                               "dropping", "-o", "json", *args], input=input,
                              capture_output=True, text=True, env=env, timeout=120, check=False)
        assert "Traceback" not in done.stderr, done.stderr
        report = json.loads(done.stdout) if done.stdout.strip().startswith("{") else {}
        return done.returncode, report, done.stderr
    return run


def failure(report: dict[str, Any]) -> str:
    (result,) = report["results"]
    assert result["status"] == "failed", result
    return str(result["error"])


def test_the_cli_says_a_lost_create_may_or_may_not_be_done_and_exits_3(
        lab: Lab, proxied_cli: Any, login: str) -> None:
    lab.proxy.drop_answer("addResponse")
    code, report, stderr = proxied_cli("account", "create", "--given-name", "Drop", "--surname",
                                       "Cli", "--login", login, "--no-must-change",
                                       "--password-stdin", input=PASSWORD + "\n")
    assert code == 3 and report["exit_code"] == 3, (report, stderr)
    assert MAYBE in failure(report)
    assert len(lab.on_server(login)) == 1


def test_the_cli_says_a_lost_hard_delete_may_or_may_not_be_done_and_exits_3(
        lab: Lab, proxied_cli: Any, login: str) -> None:
    lab.make_user(login)
    lab.proxy.drop_answer("deleteResponse")
    code, report, stderr = proxied_cli("account", "delete", login, "--hard")
    assert code == 3 and report["exit_code"] == 3, (report, stderr)
    assert MAYBE in failure(report)
    assert lab.on_server(login) == []
