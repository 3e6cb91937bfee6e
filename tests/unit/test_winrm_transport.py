"""The WinRM transport (core/winrm) against the WS-Management fake, over HTTPS.

The real pywinrm, unmodified, talks to adminkit.lab.winrm_fake in this process; what
the host saw (shells, commands, signals, the decoded script and parameters) is read
back from the fake. No test waits on a clock: hangs are cut by deadlines and faults.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from adminkit.core.context import Context
from adminkit.core.errors import (
    AuthenticationFailed,
    ConfigError,
    ConnectionFailed,
    ExitCode,
    Interrupted,
    UsageError,
)
from adminkit.core.run import Run
from adminkit.core.secrets import MASK, Secret
from adminkit.core.targets import Targets
from adminkit.core.winrm import (
    DeadlineExceeded,
    Script,
    ScriptFailed,
    WinRMSession,
    WinRMTarget,
    load_script,
    run_script,
    session,
)
from adminkit.core.winrm.scripts import ARGUMENTS, BOOTSTRAP, COMMAND
from adminkit.lab.winrm_fake import FakeHost, FakeServer, Outcome, ScriptError, handler
from tests.fakes import winrmrig
from tests.fakes.winrmrig import FakeWindows

PROBE = load_script("adminkit.core.winrm.ps", "probe")
FAIL = Script("test.fail", "# adminkit-op: test.fail\nparam($p)\nthrow $p.message\n")
SLOW = Script("test.slow", "# adminkit-op: test.slow\nparam($p)\n@{ done = $true }\n")
UNKNOWN = Script("test.nothing", "# adminkit-op: test.nothing\nparam($p)\n@{}\n")
GUARD = 30.0  # seconds: only turns a hang of the code under test into a failure

winrm_certs, win = winrmrig.winrm_certs, winrmrig.win  # the rig's fixtures


@handler("test.fail")
def _fail(host: FakeHost, params: dict[str, Any]) -> Any:
    raise ScriptError(str(params["message"]), "Printer.NotFound,Get-Printer", "ObjectNotFound")


@handler("test.slow")
def _slow(host: FakeHost, params: dict[str, Any]) -> Any:
    return Outcome(result={"done": True}, busy=int(params.get("busy", 3)))


@pytest.fixture
def ctx() -> Iterator[Context]:
    ctx = Context(run=Run(command="test winrm"))
    yield ctx
    ctx.close()


def _calls(win: FakeWindows) -> list[tuple[str, bool]]:
    return [(c.op, c.signalled) for c in win.host.calls]


# -- one shell per host, always deleted ---------------------------------------------------
def test_a_runs_scripts_share_one_shell_which_is_deleted_at_the_end(
        win: FakeWindows, ctx: Context) -> None:
    target = win.target()
    with Targets.scope():
        for n in range(3):
            assert run_script(ctx, target, PROBE, {"echo": n})["echo"] == n
    with Targets.scope():  # the next unit of work gets the same session back
        assert run_script(ctx, target, PROBE, {"echo": "again"})["computer"] == "WIN1"
    assert win.host.requests.count("create") == 1
    assert _calls(win) == [("winrm.probe", True)] * 4  # each command ended by a Signal
    assert len(win.host.open_shells()) == 1
    ctx.close()
    assert win.host.open_shells() == [] and len(win.host.deleted) == 1
    assert win.host.requests[-1] == "delete"


def test_a_script_error_is_exit_1_with_its_message_and_the_shell_goes_on(
        win: FakeWindows, ctx: Context) -> None:
    target = win.target()
    with pytest.raises(ScriptFailed) as failed:
        run_script(ctx, target, FAIL, {"message": "No printer named 'Floor 3' exists."})
    assert failed.value.exit_code == ExitCode.FAILED
    assert "win1: test.fail: No printer named 'Floor 3' exists." in str(failed.value)
    assert (failed.value.error_id, failed.value.category) == ("Printer.NotFound",
                                                              "ObjectNotFound")
    assert run_script(ctx, target, PROBE, {})["computer"] == "WIN1"  # same shell, reused
    assert win.host.requests.count("create") == 1 and _calls(win)[0] == ("test.fail", True)
    ctx.close()
    assert win.host.open_shells() == []


def test_an_unknown_operation_fails_the_script_not_the_host(
        win: FakeWindows, ctx: Context) -> None:
    with pytest.raises(ScriptFailed, match=r"no handler for operation test\.nothing"):
        run_script(ctx, win.target(), UNKNOWN, {})


def test_a_transport_error_still_deletes_the_shell(win: FakeWindows, ctx: Context) -> None:
    target = win.target()
    run_script(ctx, target, PROBE, {})
    win.host.inject("garbage", times=1)  # the next answer (Command) is not SOAP
    with pytest.raises(ConnectionFailed) as failed:
        run_script(ctx, target, PROBE, {})
    assert failed.value.exit_code == ExitCode.CONNECTION
    ctx.close()
    assert win.host.open_shells() == [] and len(win.host.deleted) == 1


# -- deadlines and Ctrl-C ---------------------------------------------------------------------
def test_a_script_that_never_finishes_ends_at_its_deadline_and_is_terminated(
        win: FakeWindows, ctx: Context) -> None:
    target = win.target()
    win.host.inject("hang", times=1)
    with pytest.raises(DeadlineExceeded) as failed:
        run_script(ctx, target, PROBE, {}, deadline=0.3)
    assert failed.value.exit_code == ExitCode.FAILED
    assert "win1: winrm.probe gave no result within 0.3 s" in str(failed.value)
    call = win.host.calls[0]
    assert call.signalled and not call.done
    assert run_script(ctx, target, PROBE, {"echo": 1})["echo"] == 1  # the shell still works
    ctx.close()
    assert win.host.open_shells() == []


def test_operation_timeouts_are_waited_through(win: FakeWindows, ctx: Context) -> None:
    assert run_script(ctx, win.target(), SLOW, {"busy": 4}) == {"done": True}
    win.host.inject("timeout", times=3)
    assert run_script(ctx, win.target(), PROBE, {"echo": "x"})["echo"] == "x"
    assert [c.receives for c in win.host.calls] == [5, 4]


def test_ctrl_c_during_a_script_terminates_it_and_deletes_the_shell(
        win: FakeWindows, ctx: Context) -> None:
    """What the runner does on Ctrl-C: KeyboardInterrupt in the main thread, then
    `ctx.interrupt()`; the unit's scope ends and its session is closed."""
    win.host.inject("hang")
    main = threading.main_thread().ident or 0

    def ctrl_c_when_waiting() -> None:
        with win.host.changed:
            win.host.changed.wait_for(lambda: any(c.receives for c in win.host.calls), GUARD)
        signal.pthread_kill(main, signal.SIGINT)

    def unit() -> None:
        try:
            with Targets.scope():
                run_script(ctx, win.target(), PROBE, {}, deadline=GUARD)
        except KeyboardInterrupt:
            ctx.interrupt()
            raise

    threading.Thread(target=ctrl_c_when_waiting, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        unit()
    assert win.host.calls[0].signalled
    assert win.host.open_shells() == [] and len(win.host.deleted) == 1


def test_ctrl_c_stops_a_script_running_in_a_worker(win: FakeWindows, ctx: Context) -> None:
    win.host.inject("hang")
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            with Targets.scope():
                run_script(ctx, win.target(), PROBE, {}, deadline=GUARD)
        except Interrupted as exc:
            failures.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    with win.host.changed:
        win.host.changed.wait_for(lambda: any(c.receives for c in win.host.calls), GUARD)
    ctx.interrupt()  # the runner's answer to Ctrl-C
    thread.join(GUARD)
    assert not thread.is_alive() and len(failures) == 1
    assert failures[0].exit_code == ExitCode.INTERRUPTED
    assert win.host.calls[0].signalled and win.host.open_shells() == []


# -- faults: exit code and message ----------------------------------------------------------
@pytest.mark.parametrize(("fault", "kind", "words"), [
    ("unauthorized", AuthenticationFailed, "login of lab-admin was refused (HTTP 401)"),
    ("forbidden", AuthenticationFailed, "access denied to lab-admin (HTTP 403)"),
    ("access_denied", AuthenticationFailed, "access denied to lab-admin: Access is denied."),
    ("service_stopped", ConnectionFailed, "WinRM answered HTTP 503"),
    ("garbage", ConnectionFailed, "not a WinRM answer"),
    ("junk", ConnectionFailed, "not a WinRM answer"),
])
def test_each_fault_is_exit_3_naming_the_host(win: FakeWindows, ctx: Context, fault: str,
                                              kind: type[Exception], words: str) -> None:
    win.host.inject(fault)
    with pytest.raises(kind) as failed:
        run_script(ctx, win.target(), PROBE, {})
    error = failed.value
    assert isinstance(error, ConnectionFailed) and error.exit_code == ExitCode.CONNECTION
    assert str(error).startswith(f"win1 (https://127.0.0.1:{win.server.port}/wsman): ")
    assert words in error.message and error.hint


@pytest.mark.parametrize("user", ["lab-admin", "LAB\\lab-admin"])
def test_ntlm_logs_in_and_keeps_its_connection(win: FakeWindows, ctx: Context,
                                                 user: str) -> None:
    target = win.target(auth="ntlm", user=user)
    for n in range(3):
        assert run_script(ctx, target, PROBE, {"echo": n})["echo"] == n
    ctx.close()
    assert win.host.requests.count("create") == 1 and win.host.open_shells() == []


def test_ntlm_over_http_seals_every_message(win: FakeWindows, ctx: Context) -> None:
    with FakeServer(win.host, "127.0.0.1", 0) as plain:  # the same host, plain HTTP
        target = win.target(scheme="http", auth="ntlm", port=plain.port)
        assert run_script(ctx, target, PROBE, {"echo": HOSTILE[:2]})["echo"] == HOSTILE[:2]
        win.host.inject("access_denied", times=1)  # a fault comes back sealed too
        ctx.close()
        again = Context(run=Run(command="again"))
        try:
            with pytest.raises(AuthenticationFailed, match="Access is denied"):
                run_script(again, target, PROBE, {})
        finally:
            again.close()
    assert win.host.sealed >= 6 and win.host.calls[0].params == {"echo": HOSTILE[:2]}


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_a_wrong_password_says_what_to_fix(win: FakeWindows, ctx: Context, auth: str) -> None:
    with pytest.raises(AuthenticationFailed) as failed:
        run_script(ctx, win.target(password=Secret("not-the-password"), auth=auth), PROBE, {})
    assert "check the user and password under winrm in the profile" in str(failed.value)
    assert "not-the-password" not in str(failed.value)


def test_a_host_that_does_not_answer_is_exit_3(win: FakeWindows, ctx: Context) -> None:
    win.host.inject("silent", times=1)
    with pytest.raises(ConnectionFailed, match=r"win1 \(.*\): no answer within 2 s"):
        run_script(ctx, win.target(read_timeout=2), PROBE, {})


def test_a_refused_connection_is_exit_3_naming_the_host(win: FakeWindows, ctx: Context) -> None:
    port = win.server.port
    win.server.stop()
    with pytest.raises(ConnectionFailed) as failed:
        run_script(ctx, win.target(port=port), PROBE, {})
    assert f"win1 (https://127.0.0.1:{port}/wsman): cannot connect: connection refused" \
        in str(failed.value)


def test_an_untrusted_certificate_is_refused(win: FakeWindows, ctx: Context,
                                             tmp_path: Path) -> None:
    from adminkit.lab.smtp import make_tls

    make_tls(tmp_path / "other")  # another CA: the fake's certificate is not trusted
    with pytest.raises(ConnectionFailed, match="TLS certificate is not trusted") as failed:
        run_script(ctx, win.target(ca_file=tmp_path / "other" / "ca.pem"), PROBE, {})
    assert "set ca_file under winrm" in str(failed.value)
    assert win.host.calls == []


def test_a_shell_the_host_forgot_is_opened_again(win: FakeWindows, ctx: Context) -> None:
    target = win.target()
    run_script(ctx, target, PROBE, {})
    win.host.inject("shell_lost", times=1)
    assert run_script(ctx, target, PROBE, {"echo": 2})["echo"] == 2
    live = session(ctx, target)
    assert live.shells_opened == 2 and win.host.open_shells() == [live.shell_id]


def test_basic_auth_over_http_is_refused_off_loopback() -> None:
    remote = WinRMTarget("ws7", "192.0.2.7", "admin", Secret("pw-remote-1"), scheme="http",
                         auth="basic")
    with pytest.raises(ConfigError, match="the WinRM password would travel in clear"):
        WinRMSession(remote)
    WinRMSession(replace(remote, auth="ntlm"))  # NTLM encrypts its messages over http


# -- parameters are data ----------------------------------------------------------------------
HOSTILE = [
    "o'brien; Remove-Item C:\\ -Recurse #",
    "$(Stop-Computer -Force)",
    "`$env:USERPROFILE` and ${function:Stop-Computer}",
    "\"; & calc.exe; \"",
    "line one\r\nline two\n'@\n\"@\n#>",
    "-EncodedCommand ZQBjAGgAbwA=",
    "Ünïcødé ✓ 𝄞 \u200f\u0000 end",
    "x" * 10_240,
]


def test_hostile_values_arrive_byte_identical_and_never_in_script_text(
        win: FakeWindows, ctx: Context) -> None:
    target = win.target()
    params = {"echo": HOSTILE, "nested": {"list": HOSTILE[:3], "n": 7, "ok": True}}
    result = run_script(ctx, target, PROBE, params)
    assert result["echo"] == HOSTILE
    for value in HOSTILE:  # one script each, alone, as a single value
        assert run_script(ctx, target, PROBE, {"echo": value})["echo"] == value
    assert win.host.calls[0].params == params
    for call in win.host.calls:
        assert call.script == PROBE.text  # the packaged file, byte for byte
        assert call.arguments == " ".join(ARGUMENTS)  # the same fixed bootstrap every time
    assert COMMAND == "powershell.exe" and "$p" in BOOTSTRAP
    for value in HOSTILE:
        for call in win.host.calls:
            assert value not in call.script and value not in call.arguments


def test_a_large_parameter_travels_in_several_sends(win: FakeWindows, ctx: Context) -> None:
    value = "".join(chr(0x20 + n % 0x5F) for n in range(200_000))  # every printable ASCII
    assert run_script(ctx, win.target(), PROBE, {"echo": value})["echo"] == value
    assert win.host.requests.count("send") >= 5 and win.host.calls[0].params == {"echo": value}


def test_a_secret_parameter_is_sent_but_never_echoed_back(win: FakeWindows, ctx: Context) -> None:
    secret = Secret("Printer-Pass-93")
    target = win.target()
    result = run_script(ctx, target, PROBE, {"echo": {"uri": f"smb://u:{secret.reveal()}@h/q",
                                                      "password": secret}})
    assert win.host.calls[0].params == {"echo": {"uri": "smb://u:Printer-Pass-93@h/q",
                                                 "password": "Printer-Pass-93"}}
    assert result["echo"] == {"uri": f"smb://u:{MASK}@h/q", "password": MASK}
    with pytest.raises(ScriptFailed) as failed:
        run_script(ctx, target, FAIL, {"message": "bad port smb://u:Printer-Pass-93@h/q"})
    assert "Printer-Pass-93" not in str(failed.value) and MASK in str(failed.value)


# -- packaged scripts ----------------------------------------------------------------------------
def test_a_packaged_script_names_its_operation() -> None:
    assert PROBE.op == "winrm.probe" and PROBE.text.startswith("# adminkit-op: winrm.probe\n")
    with pytest.raises(UsageError, match=r"no script nothing\.ps1"):
        load_script("adminkit.core.winrm.ps", "nothing")
    with pytest.raises(UsageError, match="no such script"):
        load_script("adminkit.core.winrm.ps", "../probe")


def test_the_session_is_in_the_registry_once_per_host(win: FakeWindows, ctx: Context) -> None:
    target = win.target()
    with Targets.scope():
        first = session(ctx, target)
        assert session(ctx, target) is first
        assert session(ctx, replace(target, user="other")) is not first
    assert ctx.targets.open_count("winrm") == 2
