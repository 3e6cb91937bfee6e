"""Exit codes, error messages, and what reaches the terminal when something goes wrong."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adminkit.cli.errors import report
from adminkit.core import errors
from adminkit.core.errors import AdminkitError, ExitCode
from adminkit.core.result import Result, Status
from adminkit.core.run import Run
from adminkit.core.runner import RunReport
from adminkit.core.secrets import MASK, Secret


def test_exit_code_values() -> None:
    assert [(c.name, int(c)) for c in ExitCode] == [
        ("OK", 0), ("FAILED", 1), ("USAGE", 2), ("CONNECTION", 3), ("POLICY", 4),
        ("INTERRUPTED", 130)]


@pytest.mark.parametrize(("cls", "code"), [
    (errors.AdminkitError, 1),
    (errors.UsageError, 2),
    (errors.ConfigError, 2),
    (errors.ValidationError, 2),
    (errors.SecretError, 2),
    (errors.ConnectionFailed, 3),
    (errors.AuthenticationFailed, 3),
    (errors.PolicyRefused, 4),
    (errors.ActionFailed, 1),
    (errors.JournalError, 1),
    (errors.Interrupted, 130),
    (errors.LabError, 1),
])
def test_error_classes_carry_their_exit_code(cls: type[AdminkitError], code: int) -> None:
    assert cls("x").exit_code == code
    assert issubclass(cls, AdminkitError)


def test_error_text_with_and_without_hint() -> None:
    assert str(errors.UsageError("bad thing")) == "bad thing"
    err = errors.UsageError("bad thing", hint="do this")
    assert str(err) == "bad thing\n  hint: do this"
    assert err.message == "bad thing"
    assert err.hint == "do this"


@pytest.mark.parametrize(("exc", "code"), [
    (errors.UsageError("no profile named 'x'", hint="see profile list"), 2),
    (errors.ConnectionFailed("dc1:636 unreachable", hint="check the VPN"), 3),
    (errors.PolicyRefused("Domain Admins is protected", hint="ask a domain admin"), 4),
    (errors.ActionFailed("it broke", hint="look at it"), 1),
])
def test_report_adminkit_error(exc: AdminkitError, code: int,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert report(exc, debug=False) == code
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"error: {exc.message}\n  hint: {exc.hint}\n"


def test_report_unexpected_exception_without_debug(capsys: pytest.CaptureFixture[str]) -> None:
    exc = _raised(KeyError("zone"))
    assert report(exc, debug=False) == 1
    _, err = capsys.readouterr()
    assert err.startswith("internal error: KeyError: 'zone'\n")
    assert "--debug" in err
    assert "Traceback" not in err


def test_report_unexpected_exception_with_debug(capsys: pytest.CaptureFixture[str]) -> None:
    exc = _raised(KeyError("zone"))
    assert report(exc, debug=True) == 1
    _, err = capsys.readouterr()
    assert "Traceback (most recent call last)" in err
    assert "in _raised" in err
    assert "internal error: KeyError: 'zone'" in err


def test_report_adminkit_error_with_debug_shows_traceback(
        capsys: pytest.CaptureFixture[str]) -> None:
    exc = _raised(errors.PolicyRefused("refused"))
    assert report(exc, debug=True) == 4
    _, err = capsys.readouterr()
    assert "Traceback (most recent call last)" in err
    assert err.endswith("error: refused\n")


def test_report_redacts_known_secret_values(capsys: pytest.CaptureFixture[str]) -> None:
    value = Secret("report-canary-8f3e2a").reveal()
    report(errors.ConnectionFailed(f"bind as svc with {value} refused"), debug=False)
    report(_raised(RuntimeError(f"server echoed {value}")), debug=False)
    _, err = capsys.readouterr()
    assert value not in err
    assert err.count(MASK) == 2


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001 - we want the exception with its traceback
        return caught


# -- RunReport.exit_code --------------------------------------------------------------------------

def _result(status: Status, code: int = 0) -> Result:
    return Result(action="a", target="t", status=status, summary="s", exit_code=code)


@pytest.mark.parametrize(("results", "code", "status"), [
    ([], 0, "ok"),
    ([(Status.OK, 0), (Status.SKIPPED, 0)], 0, "ok"),
    ([(Status.OK, 0), (Status.CHANGED, 0)], 0, "changed"),
    ([(Status.CHANGED, 0), (Status.FAILED, 1)], 1, "failed"),
    ([(Status.FAILED, 0)], 1, "failed"),  # a failure without a code still fails
    ([(Status.FAILED, 1), (Status.FAILED, 3)], 3, "failed"),
    ([(Status.FAILED, 3), (Status.FAILED, 1)], 3, "failed"),
    ([(Status.FAILED, 1), (Status.FAILED, 4), (Status.FAILED, 3)], 4, "failed"),
    ([(Status.FAILED, 4), (Status.FAILED, 3), (Status.FAILED, 1)], 4, "failed"),
    ([(Status.FAILED, 2), (Status.FAILED, 1)], 2, "failed"),
    ([(Status.CHANGED, 0), (Status.SKIPPED, 0)], 0, "changed"),
])
def test_run_report_exit_code(results: list[tuple[Status, int]], code: int, status: str) -> None:
    rep = RunReport(Run(command="x"), [_result(s, c) for s, c in results])
    assert rep.exit_code == code
    assert rep.status == status


def test_run_report_counts() -> None:
    rep = RunReport(Run(command="x"), [_result(Status.OK), _result(Status.CHANGED),
                                       _result(Status.CHANGED), _result(Status.FAILED, 1)])
    assert rep.counts == {"ok": 1, "changed": 2, "failed": 1, "skipped": 0}


# -- the command line ------------------------------------------------------------------------------

def test_unknown_global_option_is_usage_error(cli) -> None:
    res = cli("--frobnicate")
    assert res.code == 2
    assert "No such option" in res.err
    assert "Traceback" not in res.err


def test_unknown_subcommand_option_is_usage_error(cli) -> None:
    res = cli("journal", "list", "--colour", "red")
    assert res.code == 2
    assert "No such option" in res.err


def test_unknown_command_is_usage_error(cli) -> None:
    res = cli("teleport")
    assert res.code == 2
    assert "No such command" in res.err


def test_bad_choice_is_usage_error(cli) -> None:
    res = cli("--output", "yaml", "journal", "list")
    assert res.code == 2


def test_version(cli) -> None:
    from adminkit import __version__

    res = cli("--version")
    assert res.code == 0
    assert res.out.splitlines()[0] == f"adminkit {__version__}"


def test_help(cli) -> None:
    res = cli("--help")
    assert res.code == 0
    for group in ("profile", "journal", "account", "run"):
        assert group in res.out


def test_unknown_profile_names_it(cli) -> None:
    # --check: plan only; no terminal is needed for a generated password
    res = cli("--profile", "nosuch", "--check", "account", "create",
              "--given-name", "a", "--surname", "b")
    assert res.code == 2
    assert res.err.startswith("error: no profile named 'nosuch'")
    assert "Traceback" not in res.err


def test_unknown_profile_names_it_with_file_delivery(cli, tmp_path: Path) -> None:
    res = cli("--profile", "nosuch", "account", "create", "--given-name", "a", "--surname", "b",
              "--deliver", f"file:{tmp_path / 'pw'}")
    assert res.code == 2
    assert "no profile named 'nosuch'" in res.err
    assert not (tmp_path / "pw").exists()


def test_unknown_profile_names_it_from_a_terminal(env) -> None:
    """The exact command a person types: stderr is a terminal, the password would go there."""
    master, slave = pty.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "adminkit.cli.main", "--profile", "nosuch", "account",
             "create", "--given-name", "a", "--surname", "b"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, timeout=60,
            check=False, env={**os.environ, "TERM": "dumb"})
        os.close(slave)
        slave = -1
        err = _drain(master)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    assert proc.returncode == 2, err
    assert "no profile named 'nosuch'" in err
    assert "Traceback" not in err


def _drain(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def test_without_terminal_account_create_is_still_a_usage_error(cli) -> None:
    res = cli("--profile", "nosuch", "account", "create", "--given-name", "a", "--surname", "b")
    assert res.code == 2
    assert res.err.startswith("error: ")
    assert "Traceback" not in res.err


def test_account_create_bad_delivery_is_usage_error(cli) -> None:
    res = cli("--profile", "nosuch", "account", "create", "--given-name", "a", "--surname", "b",
              "--deliver", "pigeon")
    assert res.code == 2
    assert "--deliver 'pigeon'" in res.err


def test_run_without_resume_is_usage_error(cli) -> None:
    res = cli("run")
    assert res.code == 2
    assert "nothing to run" in res.err


def test_run_resume_unknown_run(cli) -> None:
    res = cli("run", "--resume", "R-nosuch")
    assert res.code == 2
    assert "no run R-nosuch in the journal" in res.err


def test_broken_journal_is_an_error_without_traceback(cli, env) -> None:
    env.journal.parent.mkdir(parents=True)
    env.journal.write_bytes(b"this is not a database" * 100)
    env.journal.chmod(0o600)  # private, as adminkit keeps it: nothing to warn about
    res = cli("journal", "verify")
    assert res.code == 1
    assert res.err.startswith("error: cannot open the journal")
    assert "Traceback" not in res.err
    res = cli("--debug", "journal", "verify")
    assert res.code == 1
    assert "Traceback" in res.err


def test_unexpected_error_in_a_command(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(config_dir: object = None) -> list[str]:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("adminkit.core.config.list_profiles", broken)
    res = cli("profile", "list")
    assert res.code == 1
    assert res.err.startswith("internal error: RuntimeError: disk on fire\n")
    assert "Traceback" not in res.err
    res = cli("--debug", "profile", "list")
    assert res.code == 1
    assert "Traceback (most recent call last)" in res.err
    assert "in broken" in res.err


def test_ctrl_c_exits_130_without_traceback(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object) -> list[str]:
        raise KeyboardInterrupt

    # In a command: click's standalone mode turns it into exit 130.
    monkeypatch.setattr("adminkit.core.config.list_profiles", interrupted)
    res = cli("profile", "list")
    assert res.code == 130
    assert "Traceback" not in res.err
    # Before click runs (while the invoked group is imported, say): main() says so.
    monkeypatch.setattr("adminkit.cli.hoist.hoist_globals", interrupted)
    res = cli("journal", "list")
    assert res.code == 130
    assert res.err == "interrupted\n"


@pytest.fixture
def adminkit_logger() -> Any:
    """The `adminkit` logger, put back as it was (handlers and level) afterwards."""
    import logging

    logger = logging.getLogger("adminkit")
    saved = logger.level, list(logger.handlers)
    logger.handlers = [h for h in logger.handlers if type(h).__name__ != "_Warnings"]
    yield logger
    logger.setLevel(saved[0])
    logger.handlers = saved[1]


def test_without_debug_only_warnings_reach_stderr(adminkit_logger: Any,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from adminkit.cli.errors import show_warnings

    show_warnings()
    adminkit_logger.getChild("tickets").debug("delivering note 7")
    adminkit_logger.getChild("files").warning("journal was 0644: now 0600")
    assert capsys.readouterr().err == "warning: journal was 0644: now 0600\n"


def test_debug_shows_adminkits_own_debug_lines_scrubbed(adminkit_logger: Any, env: Any,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    """`--debug` promised more than tracebacks: adminkit's own debug and info lines, each
    naming its logger, secrets masked and control characters shown; not the libraries'."""
    import logging

    from adminkit.cli.main import main

    monkeypatch.setattr(sys, "argv", ["adminkit", "--debug", "profile", "list"])
    with pytest.raises(SystemExit) as ended:
        main()
    assert ended.value.code in (0, None)
    capsys.readouterr()
    value = Secret("debug-canary-55d1").reveal()
    adminkit_logger.getChild("tickets.outbox").debug("closing failed: %s \x1b]52;c;x\x07",
                                                     value)
    adminkit_logger.getChild("winrm").info("shell gone; opening another")
    logging.getLogger("httpx").debug("a library's line")
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"debug: adminkit.tickets.outbox: closing failed: {MASK} \\x1b]52;c;x\\x07",
        "debug: adminkit.winrm: shell gone; opening another"], err
    assert value not in err
