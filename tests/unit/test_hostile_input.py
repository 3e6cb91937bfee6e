"""Hostile input and files: every input a person can type or a file can hold ends in a
clear error with its documented exit code, never a hang, a memory blow-up or an
`internal error`.

The cases that hung or ate memory before run the real `adminkit` in a child process
with a memory ceiling (RLIMIT_AS) and a guard timeout, so a regression fails the test
instead of the machine; no test asserts how fast anything is.
"""

from __future__ import annotations

import json
import os
import resource
import stat
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from adminkit.core.errors import ConfigError, SecretError, UsageError, ValidationError

MEMORY_CEILING = 1 << 30  # the child may use 1 GiB of address space, no more
GUARD = 120  # seconds: only so that a hang fails the test instead of stalling the suite


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CEILING, MEMORY_CEILING))


def adminkit(*args: str, env: dict[str, str] | None = None,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real command in a child process, its memory capped."""
    try:
        return subprocess.run([sys.executable, "-m", "adminkit.cli.main", *args],
                              capture_output=True, text=True, timeout=GUARD, check=False,
                              env={**os.environ, **(env or {})}, cwd=cwd,
                              preexec_fn=_limit_memory, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"adminkit {' '.join(args)} hung (still running after {GUARD} s)")


def assert_clean(proc: subprocess.CompletedProcess[str] | object, code: int) -> None:
    out = getattr(proc, "stdout", None) or getattr(proc, "out", "")
    err = getattr(proc, "stderr", None) or getattr(proc, "err", "")
    rc = getattr(proc, "returncode", None)
    rc = getattr(proc, "code", None) if rc is None else rc
    assert rc == code, f"exit {rc}, expected {code}\n{out}\n{err}"
    assert "internal error" not in err, err
    assert "Traceback" not in out + err
    assert err.startswith("error: "), err


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe"
    os.mkfifo(path)
    return path


@pytest.fixture
def zero_link(tmp_path: Path) -> Path:
    """A harmless-looking name for /dev/zero: a read never ends."""
    path = tmp_path / "zero.yaml"
    path.symlink_to("/dev/zero")
    return path


# -- the shared reader --------------------------------------------------------------------

def test_read_small_reads_a_regular_file(tmp_path: Path) -> None:
    from adminkit.core.files import read_small

    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert read_small(path, 3) == b"abc"


@pytest.mark.parametrize("target", ["fifo", "/dev/zero", "/dev/null", "folder"])
def test_read_small_refuses_what_is_not_a_regular_file(tmp_path: Path, fifo: Path,
                                                        target: str) -> None:
    from adminkit.core.files import read_small

    path = {"fifo": fifo, "folder": tmp_path}.get(target, Path(target))
    with pytest.raises(ValidationError, match="not a regular file"):
        read_small(path, 100, error=ValidationError)


def test_read_small_refuses_a_file_over_the_limit(tmp_path: Path) -> None:
    from adminkit.core.files import read_small

    path = tmp_path / "f"
    path.write_bytes(b"x" * 11)
    with pytest.raises(UsageError, match="larger than 10 bytes"):
        read_small(path, 10)


def test_read_small_does_not_follow_a_link_when_told(tmp_path: Path) -> None:
    from adminkit.core.files import read_small

    real = tmp_path / "real"
    real.write_bytes(b"x")
    link = tmp_path / "link"
    link.symlink_to(real)
    assert read_small(link, 10) == b"x"
    with pytest.raises(UsageError, match="symbolic link"):
        read_small(link, 10, follow_links=False)


def test_read_small_private_refuses_a_file_others_may_read(tmp_path: Path) -> None:
    from adminkit.core.files import read_small

    path = tmp_path / "f"
    path.write_bytes(b"x")
    path.chmod(0o640)
    with pytest.raises(UsageError, match="readable by others"):
        read_small(path, 10, private=True)
    path.chmod(0o600)
    assert read_small(path, 10, private=True) == b"x"


# -- secret references ----------------------------------------------------------------------

def _rt_profile(env, token_ref: str) -> None:
    (env.profiles / "acme.yaml").write_text(textwrap.dedent(f"""\
        tickets:
          kind: rt
          url: http://127.0.0.1:9/REST/2.0
          token: {token_ref}
        """))


@pytest.mark.parametrize("which", ["fifo", "zero"])
def test_secret_file_that_is_a_fifo_or_device_is_refused(env, fifo: Path, which: str) -> None:
    """test: file: secret from a FIFO or /dev/zero: exit 2, no hang, no MemoryError (in a
    child process: the old code hung or ate memory)."""
    path = fifo if which == "fifo" else Path("/dev/zero")
    _rt_profile(env, f"file:{path}")
    proc = adminkit("profile", "check", "acme")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "not a regular file" in proc.stdout
    assert "internal error" not in proc.stderr


def test_secret_file_too_big_is_refused(tmp_path: Path) -> None:
    from adminkit.core.secrets import MAX_SECRET_FILE, resolve

    path = tmp_path / "token"
    path.write_bytes(b"x" * (MAX_SECRET_FILE + 1))
    path.chmod(0o600)
    with pytest.raises(SecretError, match="larger than"):
        resolve(f"file:{path}")


def test_secret_reference_errors_exit_2_in_profile_check(env, cli) -> None:
    """The same error, the same exit code: an unset env: secret is 2 in `profile check`
    as in every other command."""
    _rt_profile(env, "env:ADMINKIT_TEST_UNSET_TOKEN")
    res = cli("profile", "check", "acme")
    assert res.code == 2, res.out + res.err
    assert "ADMINKIT_TEST_UNSET_TOKEN is not set" in res.out


# -- profiles, playbooks, inputs files, CSV files ------------------------------------------

@pytest.mark.parametrize("which", ["fifo", "zero"])
def test_profile_that_is_a_fifo_or_device_is_refused(env, fifo: Path, which: str) -> None:
    path = env.profiles / "acme.yaml"
    if which == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    proc = adminkit("profile", "check", "acme")
    assert_clean(proc, 2)
    assert "not a regular file" in proc.stderr


@pytest.mark.parametrize("which", ["fifo", "zero"])
def test_playbook_that_is_a_fifo_or_device_is_refused(env, which: str) -> None:
    """`playbook list` reads every file in the playbook folders: one that is a FIFO or
    /dev/zero is listed as invalid, not waited on or read until memory runs out."""
    folder = env.config / "playbooks"
    folder.mkdir()
    bad = folder / "bad.yaml"
    if which == "fifo":
        os.mkfifo(bad)
    else:
        bad.symlink_to("/dev/zero")
    (folder / "good.yaml").write_text("name: good\nsteps:\n  - uses: account.unlock\n"
                                      "    with: {login: jnovak}\n")
    proc = adminkit("-o", "json", "playbook", "list")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert "not a regular file" in rows["bad"]["description"]
    assert rows["bad"]["description"].startswith("INVALID")
    assert "good" in rows
    for command in (["playbook", "validate", str(bad)], ["playbook", "show", str(bad)],
                    ["--check", "run", str(bad)]):
        assert_clean(adminkit(*command), 2)


@pytest.mark.parametrize("which", ["fifo", "zero"])
def test_inputs_file_that_is_a_fifo_or_device_is_refused(env, tmp_path: Path, fifo: Path,
                                                         zero_link: Path, which: str) -> None:
    book = tmp_path / "book.yaml"
    book.write_text("name: b\nsteps: []\n")
    proc = adminkit("--check", "run", str(book), "--inputs",
                    str(fifo if which == "fifo" else zero_link))
    assert_clean(proc, 2)
    assert "not a regular file" in proc.stderr


@pytest.mark.parametrize("which", ["fifo", "zero"])
def test_csv_file_that_is_a_fifo_or_device_is_refused(env, tmp_path: Path, fifo: Path,
                                                      zero_link: Path, which: str) -> None:
    _directory_profile(env)
    proc = adminkit("-p", "acme", "account", "bulk", "disable",
                    str(fifo if which == "fifo" else zero_link))
    assert_clean(proc, 2)
    assert "not a regular file" in proc.stderr


def test_playbook_for_each_csv_that_is_a_fifo_is_refused(tmp_path: Path, fifo: Path) -> None:
    from adminkit.core.csvfile import read_rows

    with pytest.raises(ValidationError, match="not a regular file"):
        read_rows(fifo, required=(), any_columns=True)


DIRECTORY = textwrap.dedent("""\
        directory:
          kind: openldap
          url: ldaps://127.0.0.1:9
          base_dn: dc=example,dc=org
          bind_user: cn=admin,dc=example,dc=org
          password: env:ACME_BIND_PW
        """)  # unreachable: a test that gets as far as it fails with 3


def _directory_profile(env) -> None:
    (env.profiles / "acme.yaml").write_text(DIRECTORY)


# -- CSV contents ---------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "expected"), [
    pytest.param(b"login,login\njnovak,admin\n", ":1: column(s) named twice: login",
                 id="duplicate-header"),
    pytest.param(b"login,comment\njnovak,ok\nppetr," + b"x" * 200_000 + b"\n",
                 ":3: a cell longer than", id="oversized-cell"),
    pytest.param(b"login\njnovak\nx\x00y\n", ":3:", id="nul-byte"),  # a guard: was fine
])
def test_csv_problem_is_refused_with_the_line(env, cli, tmp_path: Path, content: bytes,
                                              expected: str) -> None:
    _directory_profile(env)
    path = tmp_path / "people.csv"
    path.write_bytes(content)
    res = cli("-p", "acme", "account", "bulk", "disable", str(path))
    assert_clean(res, 2)
    assert f"{path}{expected}" in res.err


@pytest.mark.parametrize("first_line", [
    "root:$y$j9T$Hc0ffeeSecretHash$Q:19000:0:99999:7:::",  # /etc/shadow
    "s3cr3tT0kenValue42",  # a secret's file: one line that reads as a column name
    "token,s3cr3tT0kenValue42",
])
def test_a_file_that_is_no_csv_of_this_work_is_not_quoted(
        env, cli, tmp_path: Path, first_line: str) -> None:
    """An error reaches the terminal, the journal and a ticket's note: pointed at a
    secret's file, it quoted the file's first line as its "unknown column(s)"."""
    _directory_profile(env)
    path = tmp_path / "people.csv"
    path.write_text(first_line + "\nsecond\n")
    res = cli("-p", "acme", "account", "bulk", "disable", str(path))
    assert_clean(res, 2)
    assert f"{path}:1: the first line names none of the columns (login" in res.err
    for piece in ("s3cr3t", "Hc0ffee", "token"):
        assert piece not in res.out + res.err


def test_a_csv_with_a_typo_in_one_column_names_it(tmp_path: Path) -> None:
    from adminkit.core.csvfile import read_rows

    path = tmp_path / "p.csv"
    path.write_text("login,coment\njnovak,left\n")
    with pytest.raises(ValidationError, match=r"unknown column\(s\): coment \(known: login, "
                                              r"comment\)"):
        read_rows(path, required=["login"], optional=["comment"])


def test_csv_rows_still_read_as_before(tmp_path: Path) -> None:
    from adminkit.core.csvfile import read_rows

    path = tmp_path / "p.csv"
    path.write_text("login;comment\njnovak;left\n\n ppetr ;\n")
    rows = read_rows(path, required=["login"], optional=["comment"])
    assert [(r.line, r.values) for r in rows] == [
        (2, {"login": "jnovak", "comment": "left"}), (4, {"login": "ppetr", "comment": ""})]


# -- templates --------------------------------------------------------------------------------

def _book(tmp_path: Path, template: str, inputs: str = "") -> tuple[Path, str]:
    """A playbook whose one step's login is `template`; its `file:line:col`."""
    text = (f"name: hostile\n{inputs}steps:\n  - uses: account.unlock\n    with:\n"
            f"      login: {json.dumps(template)}\n")
    path = tmp_path / "book.yaml"
    path.write_text(text)
    line = text[:text.index("login:")].count("\n") + 1
    return path, f"{path}:{line}:"


HOSTILE_TEMPLATES = [
    pytest.param("{{ 7**999999999 }}", "refused", id="huge-power-folded-at-compile-time"),
    pytest.param("{{ 7**99999 }}", "refused", id="power-too-long-to-print"),
    pytest.param("{{ 'a'*10**10 }}", "refused", id="huge-string"),
    pytest.param("{{ [0]*10**9 }}", "refused", id="huge-list"),
    pytest.param("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "recursion",
                 id="recursive-macro"),
    pytest.param("{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}"
                 "{{ a() }}", "recursion", id="mutually-recursive-macros"),
    pytest.param("{{ ''.__class__.__mro__ }}", "'__mro__' is not reachable", id="mro"),
    pytest.param("{{ ''|attr('__class__') }}", "'__class__' is not reachable", id="attr-filter"),
    pytest.param("{{ 'a'|center(9999999999) }}", "refused", id="center-width"),
    pytest.param("{{ '%999999999d' % 1 }}", "refused", id="percent-width"),
    pytest.param("{{ ('a'*1000000)|replace('a', 'aa') }}", "refused", id="replace-growth"),
    pytest.param("{{ 1/0 }}", "ZeroDivisionError", id="division-by-zero"),
    pytest.param("{{ " + "9" * 5000 + " }}", "digits", id="literal-too-long-to-read"),
]


@pytest.mark.parametrize(("template", "phrase"), HOSTILE_TEMPLATES)
def test_hostile_template_is_refused_by_validate_and_run(env, tmp_path: Path, template: str,
                                                         phrase: str) -> None:
    """`playbook validate` and a `--check` run refuse it with file:line:col and exit 2
    (no hang from Jinja's constant folding, no internal error)."""
    path, where = _book(tmp_path, template)
    for command in (["playbook", "validate", str(path)], ["--check", "run", str(path)]):
        proc = adminkit(*command)
        assert_clean(proc, 2)
        assert where in proc.stderr and phrase in proc.stderr, proc.stderr


DYNAMIC = [
    pytest.param("{{ inputs.a ** inputs.b }}", "7", "999999999", id="power"),
    pytest.param("{{ inputs.a ** inputs.b }}", "7", "99999", id="power-too-long-to-print"),
    pytest.param("{{ 'a' * inputs.b }}", "1", "10000000000", id="repeat"),
    pytest.param("{{ 'x'.ljust(inputs.b) }}", "1", "1000000000", id="ljust"),
    pytest.param("{{ '{0:{1}}'.format(1, inputs.b) }}", "1", "999999999", id="format-width"),
    pytest.param("{{ lipsum(inputs.b) }}", "1", "1000000000", id="lipsum"),
    pytest.param("{% for i in range(inputs.b) %}{% for j in range(inputs.b) %}{% endfor %}"
                 "{% endfor %}", "1", "100000", id="nested-loops"),
    pytest.param("{% set ns = namespace(x='a') %}{% for i in range(inputs.b) %}"
                 "{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x|length }}", "1", "60",
                 id="doubling-concat"),
    pytest.param("{{ range(inputs.b)|join('x' * inputs.b) }}", "1", "100000", id="join"),
    pytest.param("{{ range(10)|slice(inputs.b)|list }}", "1", "1000000000", id="slice"),
    pytest.param("{% for i in range(inputs.b) %}{{ 'x' * inputs.b }}{% endfor %}", "1",
                 "100000", id="output"),
]


@pytest.mark.parametrize(("template", "a", "b"), DYNAMIC)
def test_hostile_template_from_inputs_is_refused_at_run_time(env, tmp_path: Path,
                                                             template: str, a: str,
                                                             b: str) -> None:
    """What only the inputs make too big fails its step with file:line:col, exit 2."""
    path, _ = _book(tmp_path, template, "inputs:\n  a: {type: int}\n  b: {type: int}\n")
    valid = adminkit("playbook", "validate", str(path))
    assert valid.returncode == 0, valid.stderr
    # a profile, as a run needs one (86010b4 refused the run for want of it, exit 2): its
    # directory is unreachable, so only a refusal before any connection gives exit 2
    (env.profiles / "acme.yaml").write_text(DIRECTORY)
    proc = adminkit("-o", "json", "-p", "acme", "--check", "run", str(path), "-i", f"a={a}",
                    "-i", f"b={b}", env={"ACME_BIND_PW": "x"})
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    [result] = json.loads(proc.stdout)["results"]
    assert result["status"] == "failed"
    assert result["error"].startswith(f"{path}:") and "refused" in result["error"], result


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ 2**64 * 3 }}", 55340232221128654848),
    ("{{ 'ab' ~ 'cd' }}", "abcd"),
    ("{{ ['a', 'b']|join(',') }}", "a,b"),
    ("{{ 'Ticket 1234567: %s' % 'x' }}", "Ticket 1234567: x"),
    ("{{ '%s'|format(12345678901) }}", "12345678901"),
    ("{{ 'x'|center(5) }}", "  x  "),
    ("{{ '-' * 3 }}", "---"),
    ("{% for i in range(3) %}{{ i }}{% endfor %}", "012"),
    ("{{ 10 // 3 }}-{{ 10 % 3 }}", "3-1"),
])
def test_ordinary_templates_still_render(template: str, expected: object) -> None:
    from adminkit.playbook.render import render_value, syntax_error

    assert syntax_error(template) is None
    assert render_value(template, {}) == expected


def test_recursion_the_reader_cannot_see_is_refused_at_run_time() -> None:
    """A macro handed to itself as an argument recurses without naming itself."""
    from adminkit.playbook.render import render_value

    template = "{% macro f(g) %}{{ g(g) }}{% endmacro %}{{ f(f) }}"
    with pytest.raises(ValidationError, match="recursion too deep"):
        render_value(template, {})


# -- ticket references --------------------------------------------------------------------------

def _local_store():
    from adminkit.tickets.local import LocalTickets

    return LocalTickets()


@pytest.mark.parametrize("ref", ["1", "local:1", "LOCAL:1"])
def test_local_ticket_reference_works_for_note_and_close(env, cli, ref: str) -> None:
    store = _local_store()
    number = store.new("printer on fire")
    store.close()
    assert number == "1"
    res = cli("ticket", "note", ref, "checked the toner")
    assert res.code == 0, res.err
    res = cli("ticket", "close", ref)
    assert res.code == 0, res.err
    store = _local_store()
    try:
        assert [n["body"] for n in store.notes("1")] == ["checked the toner"]
        assert store.get("1").status == "closed"
    finally:
        store.close()
    shown = cli("-o", "json", "ticket", "show", ref)
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["status"] == "closed"


@pytest.mark.parametrize("command", [["note", "{ref}", "text"], ["close", "{ref}"],
                                     ["show", "{ref}"]])
def test_missing_local_ticket_is_exit_2_in_every_command(env, cli, command: list[str]) -> None:
    for ref in ("7", "local:7"):
        res = cli("ticket", *[c.format(ref=ref) for c in command])
        assert_clean(res, 2)
        assert "local ticket 7 does not exist" in res.err


@pytest.mark.parametrize("ref", ["abc", "local:abc", "local:", "0", "local:-1", "1.5", "local:1:2",
                                 "9" * 40, "x:1"])
def test_malformed_ticket_reference_is_exit_2(env, cli, ref: str) -> None:
    for command in (["ticket", "note", ref, "text"], ["ticket", "close", ref],
                    ["ticket", "show", ref]):
        res = cli(*command)
        assert_clean(res, 2)
        assert f"ticket {ref!r}" in res.err


def test_missing_ticket_given_to_a_run_is_exit_2(env, cli, tmp_path: Path) -> None:
    book = tmp_path / "book.yaml"
    book.write_text("name: b\nsteps:\n  - uses: account.unlock\n    with: {login: jnovak}\n")
    (env.profiles / "acme.yaml").write_text(DIRECTORY)  # unreachable: 3 if it got that far
    res = cli("-p", "acme", "--ticket", "local:42", "--check", "run", str(book))
    assert_clean(res, 2)
    assert "local ticket 42 does not exist" in res.err


# -- permissions ----------------------------------------------------------------------------

def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_state_folder_is_created_0700(env, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADMINKIT_JOURNAL")
    res = cli("journal", "list")
    assert res.code == 0, res.err
    assert _mode(env.state / "adminkit") == 0o700
    assert _mode(env.state / "adminkit" / "journal.db") == 0o600
    res = cli("ticket", "new", "a ticket")  # the local ticket store lives there too
    assert res.code == 0, res.err
    assert _mode(env.state / "adminkit" / "tickets.db") == 0o600


def test_a_loose_state_folder_is_tightened_with_a_warning(env, cli,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.delenv("ADMINKIT_JOURNAL")
    folder = env.state / "adminkit"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    res = cli("journal", "list")
    assert res.code == 0, res.err
    assert _mode(folder) == 0o700
    assert f"warning: the state folder {folder} had mode 755" in res.err


def test_a_loose_journal_and_head_file_are_tightened_with_a_warning(env, cli) -> None:
    assert cli("journal", "list").code == 0
    from adminkit.journal.store import Journal

    journal = Journal(env.journal)
    journal.append(kind="run", run_id="R-1", operator="t", mode="apply", summary="x",
                   status="started")
    journal.close()  # writes the head file
    head = env.journal.with_name(env.journal.name + ".head")
    assert head.exists()
    env.journal.chmod(0o644)
    head.chmod(0o664)
    res = cli("journal", "list")
    assert res.code == 0, res.err
    assert _mode(env.journal) == 0o600 and _mode(head) == 0o600
    assert f"the journal file {env.journal} had mode 644" in res.err
    assert f"the journal file {head} had mode 664" in res.err
    again = cli("journal", "list")
    assert "had mode" not in again.err  # said once, when it was tightened


@pytest.mark.parametrize(("given", "expected"), [((), 0o600), (("--mode", "0640"), 0o640)])
def test_journal_export_is_0600_unless_mode_says(env, cli, tmp_path: Path,
                                                 given: tuple[str, ...], expected: int) -> None:
    fresh, existing = tmp_path / "new.jsonl", tmp_path / "old.jsonl"
    existing.write_text("stale\n")
    existing.chmod(0o644)
    for out in (fresh, existing):
        res = cli("journal", "export", "--out", str(out), *given)
        assert res.code == 0, res.err
        assert _mode(out) == expected
    assert existing.read_text() == ""  # an empty journal; the stale text is gone


def test_journal_export_refuses_a_bad_mode_and_a_planted_link(env, cli, tmp_path: Path) -> None:
    res = cli("journal", "export", "--out", str(tmp_path / "x"), "--mode", "999")
    assert_clean(res, 2)
    assert "--mode '999': not a file mode" in res.err
    target = tmp_path / "elsewhere"
    target.write_text("keep\n")
    link = tmp_path / "export.jsonl"
    link.symlink_to(target)
    res = cli("journal", "export", "--out", str(link))
    assert_clean(res, 2)
    assert "symbolic link" in res.err
    assert target.read_text() == "keep\n"


# -- credentials in clear ---------------------------------------------------------------------

class Tripwire:
    """A real TCP listener that records what each connection sends, then hangs up
    (after `greeting`, for protocols where the server speaks first)."""

    def __init__(self, host: str, greeting: bytes = b"") -> None:
        import socket
        import threading

        self.sock = socket.create_server((host, 0))
        self.host, self.port = host, self.sock.getsockname()[1]
        self.greeting = greeting
        self.received: list[bytes] = []
        self.recorded = threading.Condition()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                if self.greeting:
                    conn.sendall(self.greeting)
                data = b""
                try:
                    while b"\r\n\r\n" not in data and len(data) < 65536:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except (TimeoutError, OSError):
                    pass
                with self.recorded:
                    self.received.append(data)
                    self.recorded.notify_all()

    def heard(self, count: int = 1, timeout: float = 10.0) -> list[bytes]:
        """What the first `count` connections sent, once they are recorded: the client
        may be done before this thread has read its connection to the end (under load)."""
        with self.recorded:
            self.recorded.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def close(self) -> None:
        self.sock.close()


def _outward_address() -> str:
    """This machine's own address that is not loopback (the kernel's choice of source
    address; no packet is sent)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
            address = str(probe.getsockname()[0])
        except OSError:
            address = ""
    if not address or address.startswith("127."):
        pytest.skip("this machine has no address but loopback to listen on")
    return address


@pytest.fixture
def outward() -> Iterator[Callable[..., Tripwire]]:
    opened: list[Tripwire] = []

    def make(greeting: bytes = b"") -> Tripwire:
        wire = Tripwire(_outward_address(), greeting)
        opened.append(wire)
        return wire

    yield make
    for wire in opened:
        wire.close()


def _tickets_profile(env, url: str, insecure: bool | None = None) -> str:
    token = f"canary-{os.getpid()}-token"
    os.environ["ACME_RT_TOKEN"] = token
    (env.profiles / "acme.yaml").write_text(textwrap.dedent(f"""\
        tickets:
          kind: rt
          url: {url}
          token: env:ACME_RT_TOKEN
        """) + (f"  insecure: {str(insecure).lower()}\n" if insecure is not None else ""))
    return token


def test_ticket_token_over_plain_http_is_refused(env, cli, outward,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """test: http:// to a ticket system not on this machine: refused, nothing sent."""
    wire = outward()
    monkeypatch.setenv("ACME_RT_TOKEN", "")
    _tickets_profile(env, f"http://{wire.host}:{wire.port}/REST/2.0")
    res = cli("profile", "check", "acme")
    assert res.code == 2, res.out + res.err
    assert "the API token or password would travel in clear" in res.out
    res = cli("-p", "acme", "--ticket", "rt:12", "--check", "account", "unlock", "jnovak")
    assert_clean(res, 2)
    assert "insecure: true" in res.err  # the hint says how to allow it
    wire.close()
    assert wire.received == []


def test_ticket_token_over_plain_http_with_insecure_warns(env, cli, outward,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    wire = outward()
    monkeypatch.setenv("ACME_RT_TOKEN", "")
    token = _tickets_profile(env, f"http://{wire.host}:{wire.port}/REST/2.0", insecure=True)
    for _ in range(2):  # on every run
        res = cli("profile", "check", "acme")
        assert res.code == 3, res.out + res.err  # the tripwire hangs up: unreachable
        assert (f"warning: tickets http://{wire.host}:{wire.port}: sending the API token or "
                "password WITHOUT TLS (insecure: true in the profile)") in res.err
        assert token not in res.err + res.out
    assert any(token.encode() in r for r in wire.heard())  # it did go, as allowed


def test_ticket_token_over_http_to_loopback_is_allowed(env, cli) -> None:
    wire = Tripwire("127.0.0.1")
    try:
        token = _tickets_profile(env, f"http://127.0.0.1:{wire.port}/REST/2.0")
        res = cli("profile", "check", "acme")
        assert res.code == 3, res.out + res.err
        assert "warning" not in res.err
    finally:
        wire.close()
    assert any(token.encode() in r for r in wire.heard())


def _mail_profile(env, host: str, port: int, *, starttls: bool, login: bool = True,
                  insecure: bool | None = None) -> None:
    text = f"mail:\n  host: {host}\n  port: {port}\n  sender: adminkit@acme.test\n" \
           f"  starttls: {str(starttls).lower()}\n  password_recipient: l2@acme.test\n"
    if login:
        text += "  user: relay-user\n  password: env:ACME_RELAY_PW\n"
    if insecure is not None:
        text += f"  insecure: {str(insecure).lower()}\n"
    (env.profiles / "acme.yaml").write_text(text + DIRECTORY)


def test_smtp_login_without_starttls_is_refused(env, cli, outward,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """test: a relay not on this machine without STARTTLS gets no login, exit 2."""
    monkeypatch.setenv("ACME_RELAY_PW", "relay-secret-canary")
    monkeypatch.setenv("ACME_BIND_PW", "bind-pw")  # the directory is only unreachable (3)
    wire = outward(b"220 relay ESMTP\r\n")
    _mail_profile(env, wire.host, wire.port, starttls=False)
    res = cli("profile", "check", "acme")
    assert res.code == 2, res.out + res.err
    assert "the relay login and password would travel in clear" in res.out
    wire.close()
    assert wire.received == []


def test_smtp_login_without_starttls_with_insecure_warns(env, cli, outward,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.setenv("ACME_RELAY_PW", "relay-secret-canary")
    monkeypatch.setenv("ACME_BIND_PW", "bind-pw")  # the directory is only unreachable (3)
    wire = outward(b"421 closing\r\n")
    _mail_profile(env, wire.host, wire.port, starttls=False, insecure=True)
    res = cli("profile", "check", "acme")
    assert res.code == 3, res.out + res.err
    assert (f"warning: mail {wire.host}:{wire.port}: sending the relay login and password "
            "WITHOUT TLS") in res.err
    assert len(wire.heard()) == 1  # it connected, as allowed


@pytest.mark.parametrize("insecure", [None, True])
def test_deliver_mail_needs_starttls_even_to_loopback(env, cli, insecure: bool | None,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """test: --deliver mail without STARTTLS: refused before anything runs, exit 2, even on
    loopback and with insecure: true; the relay hears nothing."""
    monkeypatch.setenv("ACME_BIND_PW", "bind-pw")
    wire = Tripwire("127.0.0.1", b"220 sink ESMTP\r\n")
    try:
        _mail_profile(env, "127.0.0.1", wire.port, starttls=False, login=False,
                      insecure=insecure)
        for command in (["account", "password", "jnovak", "--deliver", "mail"],
                        ["account", "create", "--given-name", "Jan", "--surname", "Novák",
                         "--deliver", "mail"]):
            res = cli("-p", "acme", *command)
            assert_clean(res, 2)
            assert "--deliver mail sends a new password, and mail.starttls is off" in res.err
    finally:
        wire.close()
    assert wire.received == []


def test_mail_send_refuses_a_relay_without_starttls() -> None:
    """Whoever calls it (a playbook step's `deliver: mail`), a password never goes plain."""
    from email.message import EmailMessage

    from adminkit.core import mail
    from adminkit.core.config import Profile

    profile = Profile.of(name="t", mail={"host": "127.0.0.1", "port": 9, "sender": "a@b.test",
                                         "starttls": False, "insecure": True})
    with pytest.raises(ConfigError, match=r"mail\.starttls is off"):
        mail.send(profile, EmailMessage())


# -- arguments a person can type ------------------------------------------------------------

@pytest.mark.parametrize("command", [
    ["playbook", "validate", "a" * 5000], ["playbook", "show", "a" * 5000],
    ["--check", "run", "a" * 5000], ["--config", "a" * 5000, "profile", "list"],
    ["--config", "a" * 5000, "profile", "check", "acme"],
    ["journal", "list", "--limit", "9" * 30],
])
def test_odd_arguments_are_usage_errors(env, cli, command: list[str]) -> None:
    res = cli(*command)
    assert res.code == 2, res.err
    assert "internal error" not in res.err and "Traceback" not in res.err
