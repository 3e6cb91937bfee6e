"""A domain is a plug-in: one installed from tests/ (an entry point in a dist-info folder
on the path, nothing in src/) brings its profile section, its action, its check, and
takes part in journaled runs and resume like the built-in domains.

Also here: resume works from the run row's record alone, and refuses a journal whose
rows were altered.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from adminkit.journal.store import Filters, Journal

PLUGINS = Path(__file__).parent / "plugins"


@dataclass
class Tiny:
    root: Path
    site: Path  # holds the dist-info that announces the domain
    folder: Path  # the tiny domain's working folder (its profile section)
    journal: Path

    def run(self, *args: str, plugin: bool = True) -> subprocess.CompletedProcess[str]:
        path = [str(self.site), str(PLUGINS)] if plugin else []
        env = {**os.environ, "ADMINKIT_CONFIG": str(self.root / "config"),
               "ADMINKIT_JOURNAL": str(self.journal), "ADMINKIT_OPERATOR": "tester",
               "PYTHONPATH": os.pathsep.join([*path, os.environ.get("PYTHONPATH", "")])}
        env.pop("ADMINKIT_PROFILE", None)
        return subprocess.run([sys.executable, "-m", "adminkit.cli.main", *args], env=env,
                              capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def tiny(tmp_path: Path) -> Tiny:
    site = tmp_path / "site"
    info = site / "tinydomain-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinydomain\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[adminkit.domains]\ntiny = tinydomain:DOMAIN\n\n"
        "[adminkit.commands]\ntiny = tinydomain:app\n")
    folder = tmp_path / "tiny"
    folder.mkdir()
    profiles = tmp_path / "config" / "profiles"
    profiles.mkdir(parents=True, exist_ok=True)
    (profiles / "acme.yaml").write_text(f"description: with a tiny section\ntiny:\n"
                                        f"  folder: {folder}\n")
    playbooks = tmp_path / "config" / "playbooks"
    playbooks.mkdir(exist_ok=True)
    (playbooks / "touch-three.yaml").write_text(textwrap.dedent("""\
        name: touch-three
        inputs:
          first: {type: string}
        steps:
          - uses: tiny.touch
            with: {name: "{{ inputs.first }}"}
          - uses: tiny.touch
            with: {name: fail}
          - uses: tiny.touch
            with: {name: last}
        """))
    return Tiny(tmp_path, site, folder, tmp_path / "journal.db")


def test_the_section_is_known_only_with_the_plugin(tiny: Tiny) -> None:
    with_it = tiny.run("profile", "show", "acme", "-o", "json")
    assert with_it.returncode == 0, with_it.stderr
    assert f'"folder": "{tiny.folder}"' in with_it.stdout.replace(": ", ": ")

    without = tiny.run("profile", "show", "acme", plugin=False)
    assert without.returncode == 2
    assert "acme.yaml:2:1: tiny: unknown setting" in without.stderr
    assert "the plug-in that provides it is not installed" in without.stderr


def test_a_bad_value_in_the_section_names_file_line_and_column(tiny: Tiny) -> None:
    (tiny.root / "config" / "profiles" / "bad.yaml").write_text("tiny:\n  folder: /x\n"
                                                                 "  colour: red\n")
    r = tiny.run("profile", "check", "bad")
    assert r.returncode == 2
    assert "bad.yaml:3:3: tiny.colour: unknown setting" in r.stderr


def test_profile_check_runs_the_domains_probe(tiny: Tiny) -> None:
    (tiny.folder / "x").write_text("")
    r = tiny.run("profile", "check", "acme", "-o", "json")
    assert r.returncode == 0, r.stderr
    assert '"system":"tiny"' in r.stdout.replace(" ", "")
    assert "1 file(s)" in r.stdout

    tiny.folder.joinpath("x").unlink()
    tiny.folder.rmdir()
    failed = tiny.run("profile", "check", "acme")
    assert failed.returncode == 3
    assert "is not a folder" in failed.stdout


def test_its_action_runs_in_a_playbook_journaled_and_resumes_from_the_record(
        tiny: Tiny) -> None:
    first = tiny.run("-p", "acme", "run", "touch-three", "-i", "first=alpha")
    assert first.returncode == 1, first.stderr  # step 2 refuses 'fail'
    assert (tiny.folder / "alpha").exists(), first.stdout + first.stderr
    assert not (tiny.folder / "last").exists()  # on_error: stop
    journal = Journal(tiny.journal)
    [run] = journal.entries(Filters(kinds=("run",)))
    record = run["detail"]["request"]
    assert record["playbook"]["inputs"] == {"first": "alpha"}
    assert "argv" not in run["detail"]
    journal.close()

    (tiny.folder / "fail.allowed").write_text("")
    (tiny.folder / "alpha").unlink()  # the server says alpha is gone: the plan decides
    again = tiny.run("run", "--resume", run["run_id"])  # no profile, no playbook, no inputs
    assert again.returncode == 0, again.stderr
    assert (tiny.folder / "fail").read_text() == run["run_id"]
    assert (tiny.folder / "last").read_text() == run["run_id"]
    journal = Journal(tiny.journal)
    actions = journal.entries(Filters(run_id=run["run_id"], settled_intents=True))
    assert [(a["idx"], a["status"]) for a in actions] == [
        (0, "started"), (0, "changed"), (1, "started"), (1, "failed"),  # the first attempt
        (1, "started"), (1, "changed"), (2, "started"), (2, "changed")]  # the resume
    assert journal.verify().ok
    journal.close()


def test_resume_refuses_a_journal_whose_rows_were_altered(tiny: Tiny) -> None:
    first = tiny.run("-p", "acme", "run", "touch-three", "-i", "first=alpha")
    assert first.returncode == 1
    journal = Journal(tiny.journal)
    [run] = journal.entries(Filters(kinds=("run",)))
    journal.close()
    # someone edits the recorded inputs behind adminkit's back, around the triggers
    db = sqlite3.connect(tiny.journal)
    db.execute("DROP TRIGGER entries_append_only_u")
    detail = db.execute("SELECT detail FROM entries WHERE kind = 'run'").fetchone()[0]
    db.execute("UPDATE entries SET detail = ? WHERE kind = 'run'",
               (detail.replace('"alpha"', '"../../etc/evil"'),))
    db.commit()
    db.close()

    (tiny.folder / "fail.allowed").write_text("")
    r = tiny.run("run", "--resume", run["run_id"])
    assert r.returncode == 1
    assert "fails verification" in r.stderr
    assert "will not be resumed" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tiny.folder / "fail").exists()  # nothing ran


def test_a_resume_settles_a_write_whose_outcome_was_unknown_by_the_system(tiny: Tiny) -> None:
    """A step that failed with its outcome unknown (sent, the answer lost) and is found
    done was done by this run: `changed`. One refused outright that someone else did
    meanwhile was not: `ok`, as any plan that finds nothing to do."""
    lost = tiny.run("-p", "acme", "run", "touch-three", "-i", "first=lost")
    assert lost.returncode == 3, lost.stderr  # OutcomeUnknown is a connection failure
    refused = tiny.run("-p", "acme", "run", "touch-three", "-i", "first=alpha")
    assert refused.returncode == 1, refused.stderr  # step 2 refuses 'fail'
    journal = Journal(tiny.journal)
    first, second = (r["run_id"] for r in journal.entries(Filters(kinds=("run",))))
    [unknown] = [r for r in journal.entries(Filters(run_id=first)) if r["status"] == "failed"]
    assert unknown["detail"] == {"error_type": "OutcomeUnknown"}
    journal.close()
    assert (tiny.folder / "lost").exists()  # the write was done

    (tiny.folder / "fail.allowed").write_text("")
    again = tiny.run("-o", "json", "run", "--resume", first)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert [r["status"] for r in report["results"]] == ["changed", "changed", "changed"]
    assert "done by the interrupted attempt" in report["results"][0]["summary"]

    (tiny.folder / "fail").write_text("by hand")  # someone did what step 2 refused
    again = tiny.run("-o", "json", "run", "--resume", second)
    assert again.returncode == 0, again.stderr
    step = json.loads(again.stdout)["results"][1]
    assert step["status"] == "ok", step
    assert "interrupted" not in step["summary"]
    assert (tiny.folder / "fail").read_text() == "by hand"


def test_the_domains_command_group_is_found(tiny: Tiny) -> None:
    r = tiny.run("tiny", "hello")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "tiny says hello"
    assert "tiny" in tiny.run("--help").stdout


def test_resume_last_finishes_the_newest_failed_run_and_then_leaves_it_alone(
        tiny: Tiny) -> None:
    older = tiny.run("-p", "acme", "run", "touch-three", "-i", "first=older")
    newer = tiny.run("-p", "acme", "run", "touch-three", "-i", "first=newer")
    assert older.returncode == newer.returncode == 1
    journal = Journal(tiny.journal)
    runs = [r["run_id"] for r in journal.entries(Filters(kinds=("run",)))]
    journal.close()
    (tiny.folder / "fail.allowed").write_text("")

    resumed = tiny.run("run", "--resume", "last", "-o", "json")
    assert resumed.returncode == 0, resumed.stderr
    assert f'"id":"{runs[1]}"' in resumed.stdout.replace(" ", "")
    assert (tiny.folder / "fail").read_text() == runs[1]

    before = sorted(p.name for p in tiny.folder.iterdir())
    (tiny.folder / "last").unlink()  # even if the systems drifted: a finished run is done
    again = tiny.run("run", "--resume", runs[1])
    assert again.returncode == 0, again.stderr
    assert "nothing to resume" in again.stderr
    assert sorted(p.name for p in tiny.folder.iterdir()) == sorted(set(before) - {"last"})
    journal = Journal(tiny.journal)
    assert len(journal.entries(Filters(run_id=runs[1], kinds=("run",)))) == 2  # no third
    journal.close()

    nothing_left = tiny.run("run", "--resume", "last")  # the older one is next
    assert nothing_left.returncode == 0, nothing_left.stderr
    none = tiny.run("run", "--resume", "last")
    assert none.returncode == 2
    assert "no interrupted or failed run" in none.stderr


# -- secret inputs: masked everywhere, never journaled, never typed on the command line --

SECRET_BOOK = """\
name: keep-secret
inputs:
  name: {type: string}
  token: {type: secret}
steps:
  - uses: tiny.touch
    with: {name: "{{ inputs.name }}", content: "{{ inputs.token }}"}
"""


def _journal_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def test_a_secret_input_typed_on_the_command_line_is_refused(tiny: Tiny) -> None:
    (tiny.root / "config" / "playbooks" / "keep-secret.yaml").write_text(SECRET_BOOK)
    r = tiny.run("-p", "acme", "run", "keep-secret", "-i", "name=a", "-i", "token=Hunter2!x")
    assert r.returncode == 2
    assert "input token: is a secret" in r.stderr and "--secret-stdin" in r.stderr
    assert "Hunter2!x" not in r.stderr + r.stdout
    assert not (tiny.folder / "a").exists()


def test_a_secret_input_from_stdin_reaches_the_action_and_nothing_else(tiny: Tiny) -> None:
    (tiny.root / "config" / "playbooks" / "keep-secret.yaml").write_text(SECRET_BOOK)
    canary = "canary-Secret-Input-4711"
    env = {**os.environ, "ADMINKIT_CONFIG": str(tiny.root / "config"),
           "ADMINKIT_JOURNAL": str(tiny.journal), "ADMINKIT_TICKETS": str(tiny.root / "t.db"),
           "PYTHONPATH": os.pathsep.join([str(tiny.site), str(PLUGINS),
                                          os.environ.get("PYTHONPATH", "")])}
    ticket = subprocess.run([sys.executable, "-m", "adminkit.cli.main", "ticket", "new", "x"],
                            env=env, capture_output=True, text=True, check=True).stdout.strip()
    r = subprocess.run([sys.executable, "-m", "adminkit.cli.main", "-p", "acme", "-t",
                        f"local:{ticket}", "-o", "json", "run", "keep-secret", "-i", "name=b",
                        "--secret-stdin", "token"], input=canary + "\n", env=env,
                       capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stderr
    assert (tiny.folder / "b").read_text() == canary  # it went through, as a Secret
    assert canary not in r.stdout + r.stderr
    assert canary.encode() not in _journal_bytes(tiny.journal)
    assert canary.encode() not in _journal_bytes(tiny.root / "t.db")  # nor in the notes
    journal = Journal(tiny.journal)
    [run] = journal.entries(Filters(kinds=("run",)))
    journal.close()
    assert run["detail"]["request"]["playbook"]["inputs"] == {
        "name": "b", "token": {"not_kept": "secret"}}
    resumed = tiny.run("run", "--resume", run["run_id"])  # finished well: nothing to do
    assert resumed.returncode == 0


def test_a_secret_input_by_reference_is_resolved_and_resumable(tiny: Tiny) -> None:
    (tiny.root / "config" / "playbooks" / "keep-secret.yaml").write_text(SECRET_BOOK)
    os.environ["TINY_TOKEN"] = "from-the-environment-77"
    try:
        r = tiny.run("-p", "acme", "run", "keep-secret", "-i", "name=fail", "-i",
                     "token=env:TINY_TOKEN")
        assert r.returncode == 1  # 'fail' is refused until fail.allowed exists
        journal = Journal(tiny.journal)
        [run] = journal.entries(Filters(kinds=("run",)))
        journal.close()
        assert run["detail"]["request"]["playbook"]["inputs"]["token"] == "env:TINY_TOKEN"
        (tiny.folder / "fail.allowed").write_text("")
        again = tiny.run("run", "--resume", run["run_id"])
        assert again.returncode == 0, again.stderr
        assert (tiny.folder / "fail").read_text() == "from-the-environment-77"
    finally:
        del os.environ["TINY_TOKEN"]


def test_a_secret_input_in_an_inputs_file_takes_references_as_the_command_line_does(
        tiny: Tiny) -> None:
    """`token: env:NAME` in an --inputs file was the password "env:NAME", silently; it is
    the reference -i takes (resolved, kept by name for a resume); a plain input's
    `env:NAME` stays the text it is, as with -i."""
    (tiny.root / "config" / "playbooks" / "keep-secret.yaml").write_text(SECRET_BOOK)
    inputs = tiny.root / "inputs.yaml"
    inputs.write_text("name: fail\ntoken: env:TINY_FILE_TOKEN\n")
    os.environ["TINY_FILE_TOKEN"] = "from-the-environment-88"
    try:
        r = tiny.run("-p", "acme", "run", "keep-secret", "--inputs", str(inputs))
        assert r.returncode == 1, r.stderr  # 'fail' is refused until fail.allowed exists
        journal = Journal(tiny.journal)
        [run] = journal.entries(Filters(kinds=("run",)))
        journal.close()
        assert run["detail"]["request"]["playbook"]["inputs"]["token"] == "env:TINY_FILE_TOKEN"
        (tiny.folder / "fail.allowed").write_text("")
        again = tiny.run("run", "--resume", run["run_id"])
        assert again.returncode == 0, again.stderr
        assert (tiny.folder / "fail").read_text() == "from-the-environment-88"

        inputs.write_text("name: env:TINY_FILE_TOKEN\ntoken: a-literal-secret-99\n")
        r = tiny.run("-p", "acme", "run", "keep-secret", "--inputs", str(inputs))
        assert r.returncode == 0, r.stderr
        assert (tiny.folder / "env:TINY_FILE_TOKEN").read_text() == "a-literal-secret-99"
    finally:
        del os.environ["TINY_FILE_TOKEN"]


@pytest.mark.parametrize(("value", "phrase"), [
    ("env:TINY_UNSET_TOKEN", "environment variable TINY_UNSET_TOKEN is not set"),
    ("file:relative/token", "file: needs an absolute path"),
    ("keyring:no-user", "keyring: needs service/user"),
])
def test_a_bad_reference_in_an_inputs_file_is_refused_not_taken_as_the_secret(
        tiny: Tiny, value: str, phrase: str) -> None:
    (tiny.root / "config" / "playbooks" / "keep-secret.yaml").write_text(SECRET_BOOK)
    inputs = tiny.root / "inputs.yaml"
    inputs.write_text(f"name: c\ntoken: {value}\n")
    r = tiny.run("-p", "acme", "run", "keep-secret", "--inputs", str(inputs))
    assert r.returncode == 2, r.stderr
    assert phrase in r.stderr and "Traceback" not in r.stderr
    assert not (tiny.folder / "c").exists()


@pytest.mark.parametrize("template", ["{{ inputs.token|length }}", "{{ inputs.token|string }}",
                                      "n-{{ inputs.token }}"])
def test_a_secret_input_made_into_a_plain_value_stops_the_run_before_it_acts(
        tiny: Tiny, template: str) -> None:
    """`{{ inputs.token|length }}` named a file (and the journal and the note) with the
    secret's length; `|string` or text around it, with "********", as if that were the
    value. Exit 2, nothing done, nothing journaled."""
    book = SECRET_BOOK.replace('name: "{{ inputs.name }}"', f'name: "{template}"')
    (tiny.root / "config" / "playbooks" / "keep-secret.yaml").write_text(book)
    os.environ["TINY_TOKEN_LEN"] = "seventeen-chars!!"
    try:
        r = tiny.run("-p", "acme", "run", "keep-secret", "-i", "name=a", "-i",
                     "token=env:TINY_TOKEN_LEN")
    finally:
        del os.environ["TINY_TOKEN_LEN"]
    assert r.returncode == 2, r.stdout + r.stderr
    assert "the secret input 'token' used other than whole" in r.stderr
    assert list(tiny.folder.iterdir()) == []
    assert not tiny.journal.exists() or b"17" not in _journal_bytes(tiny.journal)


def test_a_password_attribute_cannot_be_made_settable(tiny: Tiny) -> None:
    (tiny.root / "config" / "profiles" / "leaky.yaml").write_text(
        "accounts:\n  settable_attributes: [title, userPassword]\n")
    r = tiny.run("profile", "show", "leaky")
    assert r.returncode == 2
    assert "leaky.yaml:2:3: accounts.settable_attributes" in r.stderr
    assert "userPassword hold(s) a password" in r.stderr


def test_a_run_and_a_resume_of_it_exclude_each_other(tiny: Tiny) -> None:
    """Two resumes of one run at once would both do its missing work (two processes
    writing the same password files): the second is refused while the first holds it."""
    first = tiny.run("-p", "acme", "run", "touch-three", "-i", "first=alpha")
    assert first.returncode == 1
    journal = Journal(tiny.journal)
    [run] = journal.entries(Filters(kinds=("run",)))
    journal.close()
    from adminkit.automation.runlock import run_lock

    with run_lock(tiny.journal, run["run_id"]):  # as a resume running in another process
        (tiny.folder / "fail.allowed").write_text("")
        refused = tiny.run("run", "--resume", run["run_id"])
        assert refused.returncode == 2
        assert "being resumed, in another process" in refused.stderr
        assert not (tiny.folder / "fail").exists()
    again = tiny.run("run", "--resume", run["run_id"])  # once it is free
    assert again.returncode == 0, again.stderr
    assert (tiny.folder / "fail").exists()
    # the run ended well: its lock file is gone with it
    assert not list((tiny.journal.parent / "run-locks").iterdir())


def test_a_plugin_that_claims_a_built_in_domain_is_refused_by_name(tiny: Tiny) -> None:
    """A package that announces itself as `accounts` must not replace the accounts domain
    (its actions, its settings) by coming first on the path: refused, both named."""
    info = tiny.site / "impostor-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: impostor\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[adminkit.domains]\naccounts = tinydomain:DOMAIN\n")
    for args in (("profile", "show", "acme"), ("-p", "acme", "run", "touch-three",
                                               "-i", "first=x")):
        r = tiny.run(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "both provide 'accounts' in adminkit.domains" in r.stderr
        assert "impostor" in r.stderr and "Traceback" not in r.stderr
    assert not (tiny.folder / "x").exists()


def test_a_playbook_edited_after_its_run_began_is_not_resumed(tiny: Tiny) -> None:
    """The record holds the steps' index; a changed file would redo or skip other steps
    than the ones that ran. Refused (exit 2), nothing run; unchanged, it resumes."""
    first = tiny.run("-p", "acme", "run", "touch-three", "-i", "first=alpha")
    assert first.returncode == 1  # step 2 refuses 'fail'
    book = tiny.root / "config" / "playbooks" / "touch-three.yaml"
    original = book.read_text()
    book.write_text(original.replace("with: {name: last}", "with: {name: other}"))
    (tiny.folder / "fail.allowed").write_text("")
    r = tiny.run("run", "--resume", "last")
    assert r.returncode == 2, r.stderr
    assert "was changed after run" in r.stderr and "Traceback" not in r.stderr
    assert not (tiny.folder / "fail").exists() and not (tiny.folder / "other").exists()
    book.write_text(original)
    r = tiny.run("run", "--resume", "last")
    assert r.returncode == 0, r.stderr
    assert (tiny.folder / "fail").exists() and (tiny.folder / "last").exists()


def test_ctrl_c_says_what_was_done_and_how_to_finish(tiny: Tiny) -> None:
    r = tiny.run("-p", "acme", "run", "touch-three", "-i", "first=ctrl-c")
    assert r.returncode == 130, r.stderr
    journal = Journal(tiny.journal)
    [run] = journal.entries(Filters(kinds=("run",)))
    journal.close()
    assert f"interrupted before any action finished (run {run['run_id']})" in r.stderr
    assert f"finish it: adminkit run --resume {run['run_id']}" in r.stderr
    assert "Traceback" not in r.stderr
