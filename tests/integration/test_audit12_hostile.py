"""Issue 12 on the lab's real AD and OpenLDAP, through the real command: password
delivery (a planted link, a target that cannot work, one file for many rows, a disk
that fills up), protected accounts with nothing to do, and secret playbook inputs.
Every outcome is read back from the server (a bind with the password, the entry).
The map of the whole hostile-input suite is in tests/README.md."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adminkit.journal.store import Filters, Journal
from adminkit.lab.base import LabServer
from tests.integration import test_accounts_cli as accounts
from tests.integration.test_accounts_cli import Cli, Dir, create, run, status

directory = accounts.directory  # the module-scoped fixture: AD and OpenLDAP, reset once


def tag() -> str:
    return uuid.uuid4().hex[:6]


def known_password(cli: Cli, d: Dir, login: str) -> str:
    """Set a password the test knows, and prove it binds."""
    canary = f"Known-Pw.{tag()}-x9"
    out = run(cli, d, "account", "password", login, "--password-stdin", "--no-must-change",
              input=canary + "\n")
    assert status(out) == "changed", out
    assert d.bind_result(login, canary)["result"] == 0
    return canary


def private(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True)
    return path


def by_surname(d: Dir, surname: str) -> list[str]:
    from ldap3.utils.conv import escape_filter_chars

    d.conn.search(d.cfg.base_dn, f"(sn={escape_filter_chars(surname)})", attributes=["1.1"])
    return [e["dn"] for e in d.conn.response if e["type"] == "searchResEntry"]


# -- password delivery ------------------------------------------------------------------

def test_a_planted_link_at_the_password_file_is_not_followed(
        cli: Cli, directory: Dir, tmp_path: Path) -> None:
    """Running as root, `--deliver file:FOLDER` with `LOGIN.password` planted there as a
    link: the file it points to keeps its text and mode; the password goes to a new
    regular 0600 file, and it is the one the directory holds."""
    login = create(cli, directory, "Odkaz", f"Podvrzeny{tag()}", tmp_path / "first")
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    victim.chmod(0o644)
    box = private(tmp_path / "box")
    (box / f"{login}.password").symlink_to(victim)
    out = run(cli, directory, "account", "password", login, "--no-must-change",
              "--deliver", f"file:{box}")
    assert status(out) == "changed", out
    assert victim.read_text() == "precious\n"
    assert victim.stat().st_mode & 0o777 == 0o644
    written = box / f"{login}.password"
    assert not written.is_symlink()
    assert written.stat().st_mode & 0o777 == 0o600
    assert directory.bind_result(login, written.read_text().strip())["result"] == 0


def test_a_delivery_that_cannot_work_is_refused_before_the_password_is_set(
        cli: Cli, directory: Dir, tmp_path: Path) -> None:
    """A target in a folder that does not exist: exit 2 from the plan; the password the
    account had still binds (it was set first, and then nobody knew the new one)."""
    login = create(cli, directory, "Cesta", f"Nikam{tag()}", tmp_path / "first")
    canary = known_password(cli, directory, login)
    out = run(cli, directory, "account", "password", login, "--no-must-change",
              "--deliver", f"file:{tmp_path / 'no-such-folder' / 'pw.txt'}")
    assert directory.bind_result(login, canary)["result"] == 0  # read back: unchanged
    assert out["_code"] == 2, out
    assert "cannot deliver into" in out["results"][0]["error"], out
    assert not (tmp_path / "no-such-folder").exists()


def test_a_bulk_import_into_one_file_is_refused_before_anything_runs(
        cli: Cli, directory: Dir, tmp_path: Path) -> None:
    """Every row would truncate the same file: all passwords but the last lost. Refused
    with exit 2 before any account is made; the file is never created."""
    surnames = [f"Hromadny{tag()}", f"Hromadny{tag()}"]
    rows = tmp_path / "rows.csv"
    rows.write_text("given_name,surname\n" + "".join(f"Jan,{s}\n" for s in surnames))
    target = tmp_path / "all.txt"
    out = run(cli, directory, "account", "import", str(rows), "--deliver", f"file:{target}")
    assert out["_code"] == 2, out
    assert "needs a folder" in out["_err"] + json.dumps(out), out
    assert [by_surname(directory, s) for s in surnames] == [[], []]
    assert not target.exists()


def _fill(path: Path) -> int:
    """Write until the file system refuses; the errno it refused with."""
    with path.open("wb", buffering=0) as filler:
        while True:
            try:
                filler.write(b"x" * 4096)
            except OSError as exc:
                return exc.errno or 0


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A private folder on a small tmpfs of the test's own, filled to the last block."""
    mount = tmp_path / "full"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs",
                           str(mount)], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        pytest.fail(f"this test mounts a tmpfs (the lab runs as root): {made.stderr}")
    try:
        box = private(mount / "box")
        assert _fill(mount / "filler") == errno.ENOSPC
        yield box
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_disk_full_at_delivery_leaves_the_password_as_it_was_and_says_so(
        cli: Cli, directory: Dir, tmp_path: Path, full_disk: Path) -> None:
    """The target passes the plan's check, then the write fails (ENOSPC): the row fails,
    no password nobody knows is set, and the error says so plainly."""
    login = create(cli, directory, "Plny", f"Disk{tag()}", tmp_path / "first")
    canary = known_password(cli, directory, login)
    out = run(cli, directory, "account", "password", login, "--no-must-change",
              "--deliver", f"file:{full_disk}")
    assert directory.bind_result(login, canary)["result"] == 0  # read back: unchanged
    assert out["_code"] == 1, out
    [result] = out["results"]
    assert result["status"] == "failed", result
    error = result["error"]
    assert f"could not be written to {full_disk / login}.password: No space left on device; "\
        "it was not set" in error, error
    assert [p.name for p in full_disk.iterdir()] == []  # no half-written file left


# -- protected accounts ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def ad(samba: LabServer, lab_config_dir: Path) -> Iterator[Dir]:
    """The lab's AD alone: krbtgt and Guest are Active Directory's own accounts."""
    d = Dir("lab", lab_config_dir)
    yield d
    d.conn.unbind()


@pytest.mark.parametrize("login", ["krbtgt", "Guest"])
def test_a_protected_account_already_disabled_is_refused_all_the_same(
        cli: Cli, ad: Dir, login: str) -> None:
    """Both are disabled in every AD: a disable has nothing to do, and used to answer 0
    'already disabled', while one with a change to make was refused (exit 4). A script
    sees one answer either way."""
    directory = ad
    before = directory.entry(login, ["userAccountControl"])
    assert before is not None and not directory.enabled(login)
    out = run(cli, directory, "account", "disable", login)
    assert out["_code"] == 4, out
    assert out["results"][0]["status"] == "failed", out
    assert "protected" in out["results"][0]["error"], out
    assert directory.entry(login, ["userAccountControl"]) == before


# -- secret playbook inputs -----------------------------------------------------------------

SECRET_BOOK = """\
name: set-known-password
inputs:
  login: {type: string}
  pw: {type: secret}
steps:
  - name: set it
    uses: account.password
    with: {login: "{{ inputs.login }}", password: "{{ inputs.pw }}", must_change: false}
"""


def _everything_kept(cli: Cli, tmp_path: Path) -> bytes:
    """The journal (and its WAL), the local ticket store, and an export of the journal."""
    kept = b"".join(p.read_bytes() for p in tmp_path.glob("journal.db*"))
    kept += b"".join(p.read_bytes() for p in tmp_path.glob("tickets.db*"))
    export = tmp_path / "export.jsonl"
    r = cli("journal", "export", "--out", str(export))
    assert r.returncode == 0, r.stderr
    return kept + export.read_bytes()


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "set-known-password.yaml"
    path.write_text(SECRET_BOOK)
    return path


def test_a_secret_input_typed_on_the_command_line_is_refused_with_a_hint(
        cli: Cli, directory: Dir, tmp_path: Path, book: Path) -> None:
    login = create(cli, directory, "Tajny", f"Vstup{tag()}", tmp_path / "first")
    old = known_password(cli, directory, login)
    canary = f"Typed-In.{tag()}-Q7"
    out = run(cli, directory, "run", str(book), "-i", f"login={login}", "-i", f"pw={canary}")
    assert out["_code"] == 2, out
    assert "is a secret" in out["_err"] and "--secret-stdin" in out["_err"], out["_err"]
    assert canary not in json.dumps(out)
    assert directory.bind_result(login, old)["result"] == 0  # nothing was set
    assert canary.encode() not in _everything_kept(cli, tmp_path)


@pytest.mark.parametrize("how", ["stdin", "inputs-file", "env", "keyring"])
def test_a_secret_input_reaches_the_directory_and_nothing_else(
        cli: Cli, directory: Dir, tmp_path: Path, book: Path, how: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Given on stdin, in an --inputs file, as env: or keyring: - the directory holds
    it (a bind proves it), and the output, the journal, its export and the notes never."""
    login = create(cli, directory, "Tajny", f"Vstup{tag()}", tmp_path / "first")
    canary = f"Secret-In.{tag()}-Z3"
    ticket = cli("ticket", "new", "set a password").stdout.strip()
    args = ["-t", f"local:{ticket}", "run", str(book), "-i", f"login={login}"]
    stdin = None
    if how == "stdin":
        args += ["--secret-stdin", "pw"]
        stdin = canary + "\n"
    elif how == "inputs-file":
        given = tmp_path / "inputs.yaml"
        given.write_text(f"pw: '{canary}'\n")
        given.chmod(0o600)
        args += ["--inputs", str(given)]
    elif how == "env":
        monkeypatch.setenv("AUDIT12_PW", canary)
        args += ["-i", "pw=env:AUDIT12_PW"]
    else:
        monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
        subprocess.run([sys.executable, "-c", "import keyring, sys; "
                        "keyring.set_password('audit12', 'pw', sys.argv[1])", canary],
                       check=True, env=dict(os.environ))
        args += ["-i", "pw=keyring:audit12/pw"]
    out = run(cli, directory, *args, input=stdin)
    assert out["_code"] == 0, out
    assert directory.bind_result(login, canary)["result"] == 0
    assert canary not in json.dumps(out) + out["_err"]
    notes = cli("ticket", "show", f"local:{ticket}", "-o", "json")
    assert notes.returncode == 0 and login in notes.stdout, notes  # the note was written
    assert canary not in notes.stdout
    kept = _everything_kept(cli, tmp_path)
    assert canary.encode() not in kept
    journal = Journal(cli.journal)
    [row] = [r for r in journal.entries(Filters(kinds=("run",)))
             if r["summary"].startswith("run set-known-password")]
    journal.close()
    record: Any = row["detail"]["request"]["playbook"]["inputs"]
    assert canary not in json.dumps(record)
    if how in ("stdin", "inputs-file"):
        assert record["pw"] == {"not_kept": "secret"}, record
