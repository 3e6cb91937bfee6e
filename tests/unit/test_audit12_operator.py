"""audit12: the operator a journal row and a ticket note record keeps the name claimed
(ADMINKIT_OPERATOR, a trigger's) AND the OS login that acted, and sudo's user: any local
user sets ADMINKIT_OPERATOR, so the claim alone let anyone act under another's name.

The forms (core/run.current_operator, docs/journal.md "Who acted"): `alice`,
`alice (as root)`, `jnovak (login alice)`, `jnovak (login alice as root)`,
`watch rt for x (login svc)`. The OS identity is set for real in a child (a throwaway
login made for the test, conftest `two_logins`), never mocked."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adminkit.automation.report import monthly
from adminkit.core.run import current_operator, operator_is, operator_names
from adminkit.journal.store import Filters, Journal
from tests.unit.forked import in_forked_child, unused_uid

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = Path(__file__).parent / "plugins"
Logins = tuple[pwd.struct_passwd, pwd.struct_passwd]
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="sets the uid: needs root")


def _as(login: pwd.struct_passwd, environ: dict[str, str], work: Callable[[], str]) -> str:
    """`work()` in a forked child whose real and effective uid are `login`'s (and with
    `environ` as its ADMINKIT_OPERATOR / SUDO_USER): `ok:` what it returned, or the error."""
    current_operator()  # pwd and the codecs it needs, loaded while still root

    def child() -> str:
        for name in ("ADMINKIT_OPERATOR", "SUDO_USER"):
            os.environ.pop(name, None)
        os.environ.update(environ)
        if login.pw_uid != 0:
            os.setgid(login.pw_gid)
            os.setuid(login.pw_uid)
        return "ok:" + work()

    return in_forked_child(child)


@root_only
def test_a_claimed_name_keeps_the_login_that_claimed_it(two_logins: Logins) -> None:
    alice, bob = two_logins
    a = alice.pw_name
    assert _as(alice, {"ADMINKIT_OPERATOR": "boss"}, current_operator) == \
        f"ok:boss (login {a})"
    assert _as(alice, {}, current_operator) == f"ok:{a}"  # nothing claimed: the login
    assert _as(alice, {"ADMINKIT_OPERATOR": a}, current_operator) == f"ok:{a}"
    # LOGNAME and USER are anyone's to set: the uid's passwd entry is the login
    assert _as(alice, {"LOGNAME": bob.pw_name, "USER": bob.pw_name},
               current_operator) == f"ok:{a}"
    # a trigger's claim: which service login acted is still there
    assert _as(alice, {}, lambda: current_operator("watch rt for x@acme")) == \
        f"ok:watch rt for x@acme (login {a})"


@root_only
def test_through_sudo_the_user_behind_it_and_the_account_it_became(
        two_logins: Logins) -> None:
    alice, _ = two_logins
    root = pwd.getpwuid(0)
    a = alice.pw_name
    assert _as(root, {"SUDO_USER": a}, current_operator) == f"ok:{a} (as root)"
    assert _as(root, {"SUDO_USER": a, "ADMINKIT_OPERATOR": a}, current_operator) == \
        f"ok:{a} (as root)"
    assert _as(root, {"SUDO_USER": a, "ADMINKIT_OPERATOR": "boss"}, current_operator) == \
        f"ok:boss (login {a} as root)"
    assert _as(root, {"SUDO_USER": "x (login y)"}, current_operator).startswith(
        "error:UsageError: SUDO_USER 'x (login y)' is not a login name")


@root_only
def test_a_uid_without_a_passwd_entry_is_its_number(two_logins: Logins) -> None:
    alice, _ = two_logins
    uid = unused_uid()
    nobody = pwd.struct_passwd(("x", "x", uid, alice.pw_gid, "", "/", "/bin/false"))
    assert _as(nobody, {"ADMINKIT_OPERATOR": "boss"}, current_operator) == \
        f"ok:boss (login #{uid})"


def test_the_parts_read_back_and_what_operator_matches() -> None:
    names = operator_names("jnovák (helpdesk) (login alice as root)")
    assert (names.claim, names.login, names.acting) == ("jnovák (helpdesk)", "alice", "root")
    assert operator_names("alice (as root)").login == "alice"
    assert operator_names("tester").login is None  # one name, or an older journal's row
    assert operator_is("tester (login root)", "tester")
    assert operator_is("tester (login root)", "root")
    assert operator_is("alice (as root)", "alice")
    assert operator_is("tester", "tester")
    assert not operator_is("tester (helpdesk) (login root)", "tester")
    assert not operator_is("boss (login alice) (login bob)", "alice")  # only the last is ours
    assert operator_is("boss (login alice) (login bob)", "bob")


def _tiny(root: Path, owner: pwd.struct_passwd | None) -> tuple[dict[str, str], Path]:
    """A tiny-domain profile, a one-step playbook and a local ticket store, all owned by
    `owner`: the environment of a child that runs `adminkit` as that login."""
    site = root / "site" / "tinydomain-0.1.dist-info"
    site.mkdir(parents=True)
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: tinydomain\nVersion: 0.1\n")
    (site / "entry_points.txt").write_text("[adminkit.domains]\ntiny = tinydomain:DOMAIN\n")
    for folder in ("config/profiles", "config/playbooks", "tiny", "state"):
        (root / folder).mkdir(parents=True)
    (root / "config/profiles/acme.yaml").write_text(f"tiny:\n  folder: {root / 'tiny'}\n")
    (root / "config/playbooks/touch.yaml").write_text(textwrap.dedent("""\
        name: touch
        inputs:
          name: {type: string}
        steps:
          - uses: tiny.touch
            with: {name: "{{ inputs.name }}"}
        """))
    if owner is not None:
        for path in [root, *root.rglob("*")]:
            os.chown(path, owner.pw_uid, owner.pw_gid)
    env = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1",
           "ADMINKIT_CONFIG": str(root / "config"), "ADMINKIT_JOURNAL": str(root / "j.db"),
           "ADMINKIT_TICKETS": str(root / "tickets.db"), "XDG_STATE_HOME": str(root / "state"),
           "ADMINKIT_SYSLOG": "off", "ADMINKIT_DELIVER_LATER": "off", "ADMINKIT_WARM": "0",
           "PYTHONPATH": os.pathsep.join([str(root / "site"), str(PLUGINS), str(ROOT)])}
    return env, root


def _adminkit(env: dict[str, str], login: pwd.struct_passwd | None, *args: str
              ) -> subprocess.CompletedProcess[str]:
    """`adminkit ARGS` in a child process, as `login` for real (setpriv: its uid, gid, no
    other groups). The interpreter here may live where that login cannot read (pyenv
    under /root), so the child keeps CAP_DAC_READ_SEARCH alone, which reads files but
    changes no identity: getuid() is the login's."""
    argv = [sys.executable, "-m", "adminkit.cli.main", *args]
    if login is not None:
        argv = ["setpriv", f"--reuid={login.pw_uid}", f"--regid={login.pw_gid}",
                "--clear-groups", "--inh-caps=+dac_read_search",
                "--ambient-caps=+dac_read_search", *argv]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


@root_only
def test_a_run_as_another_login_records_both_in_the_journal_and_the_note(
        two_logins: Logins) -> None:
    """The login alice sets ADMINKIT_OPERATOR=boss and runs a playbook on a ticket: the
    journal's rows and the ticket's note say boss AND alice; `journal list --operator`
    finds them by either name; the monthly report counts them under both."""
    alice, _ = two_logins
    home = Path(tempfile.mkdtemp(prefix="adminkit-audit12-"))  # pytest's are root's, 0700
    os.chown(home, alice.pw_uid, alice.pw_gid)
    try:
        _run_as_alice(alice, home)
    finally:
        shutil.rmtree(home)


def _run_as_alice(alice: pwd.struct_passwd, home: Path) -> None:
    env, root = _tiny(home / "alice", alice)
    env["ADMINKIT_OPERATOR"] = "boss"
    made = _adminkit(env, alice, "ticket", "new", "touch a file")
    assert made.returncode == 0, made.stderr
    ran = _adminkit(env, alice, "-p", "acme", "--ticket", "local:1", "run", "touch",
                    "-i", "name=one")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert (root / "tiny" / "one").stat().st_uid == alice.pw_uid  # alice's process did it
    want = f"boss (login {alice.pw_name})"

    journal = Journal(root / "j.db")
    try:
        rows = journal.entries(Filters(kinds=("run", "action", "end")))
        assert {r["operator"] for r in rows} == {want}
        report = monthly(journal, "acme", rows[0]["time"][:7])
    finally:
        journal.close()
    assert dict(report.by_operator) == {want: 1}
    with sqlite3.connect(root / "tickets.db") as db:
        bodies = [b for (b,) in db.execute("SELECT body FROM notes")]
    assert any(f"by {want} " in b for b in bodies), bodies

    for name in ("boss", alice.pw_name, want):
        found = _adminkit(env, alice, "-o", "json", "journal", "list", "--operator", name)
        assert found.returncode == 0, found.stderr
        assert [r["operator"] for r in json.loads(found.stdout)] == [want], name
        runs = _adminkit(env, alice, "-o", "json", "journal", "list", "--runs",
                         "--operator", name)
        assert [r["operator"] for r in json.loads(runs.stdout)] == [want], name
    other = _adminkit(env, alice, "-o", "json", "journal", "list", "--operator", "root")
    assert json.loads(other.stdout) == []


def test_the_report_counts_a_trigger_by_trigger_and_login(env: Any) -> None:
    journal = Journal(env.journal)
    try:
        for run_id, who in (("R-1", "watch rt for a@x (login svc)"),
                            ("R-2", "watch rt for b@x (login svc)"),
                            ("R-3", "jnovak (login alice)"), ("R-4", "jnovak (login bob)")):
            journal.append(kind="run", run_id=run_id, operator=who, profile="acme",
                           mode="apply")
        when = journal.entries(Filters(kinds=("run",)))[0]["time"][:7]
        report = monthly(journal, "acme", when)
    finally:
        journal.close()
    assert dict(report.by_operator) == {"watch rt (login svc)": 2,
                                        "jnovak (login alice)": 1, "jnovak (login bob)": 1}
