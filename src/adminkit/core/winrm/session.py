"""One WinRM session to one host: a shell opened at the first script and reused for the
run's scripts, each script bounded by a deadline, the shell deleted at `close()`.

pywinrm's `Protocol` is driven directly: its own `run_cmd` retries an OperationTimeout
forever and never deletes a shell after an error. A command is always signalled
(terminate) when it ends, by its result, an error, its deadline or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from adminkit.core.errors import (
    ActionFailed,
    AdminkitError,
    AuthenticationFailed,
    ConnectionFailed,
    Interrupted,
)
from adminkit.core.secrets import redact, redact_obj
from adminkit.core.transport import require_tls
from adminkit.core.winrm.scripts import (
    ARGUMENTS,
    COMMAND,
    STDIN_CHUNK,
    Script,
    find_result,
    stdin_payload,
)
from adminkit.core.winrm.target import WinRMTarget

if TYPE_CHECKING:
    from winrm.protocol import Protocol

log = logging.getLogger("adminkit.winrm")

SHELL_NOT_FOUND = 2150858843  # WSManFault Code: the ShellId is unknown (shell gone)
ACCESS_DENIED = 5
CLOSE_TIMEOUT = 5  # seconds a Delete or Signal may take while cleaning up
MAX_MESSAGE = 2000  # characters of a script's error kept in a message


class ScriptFailed(ActionFailed):
    """The script ran and reported an error (exit 1). `error_id` and `category` are
    PowerShell's (FullyQualifiedErrorId up to its first comma, CategoryInfo.Category)."""

    def __init__(self, message: str, *, op: str, error_id: str = "", category: str = "",
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.op, self.error_id, self.category = op, error_id, category


class DeadlineExceeded(ActionFailed):
    """The script gave no result within its deadline; it was told to terminate."""


class WinRMSession:
    """A session to `target`. Thread-safe: scripts on one session run one at a time."""

    def __init__(self, target: WinRMTarget, *,
                 cancelled: Callable[[], bool] = lambda: False) -> None:
        if target.scheme == "http" and target.auth == "basic":
            require_tls(target.section, target.name, target.address, tls=False,
                        insecure=target.insecure, carries="the WinRM password",
                        fix="use scheme: https, or auth: ntlm (its messages are encrypted)")
        self.target = target
        self._cancelled = cancelled
        self._lock = threading.Lock()
        self._proto: Protocol | None = None
        self._shell: str | None = None
        self.shells_opened = 0  # how many shells this session has created (for tests)

    # -- public ---------------------------------------------------------------------
    def run_script(self, script: Script, params: Mapping[str, Any], *,
                   deadline: float | None = None, interruptible: bool = True) -> Any:
        """Run `script` with `params` (a JSON object; `Secret` values allowed) and return
        its result, secrets masked. Raises ScriptFailed (1), DeadlineExceeded (1),
        AuthenticationFailed or ConnectionFailed (3), Interrupted (Ctrl-C: the script is
        told to stop, unless not `interruptible`, a write left to finish by its
        deadline)."""
        payload = stdin_payload(script, params)
        seconds = self.target.deadline if deadline is None else deadline
        with self._lock:
            try:
                stdout, stderr, rc = self._run(payload, seconds, script.op, interruptible)
            except AdminkitError:
                raise
            except Exception as exc:  # noqa: BLE001 - every library error is translated
                self._translate(exc, script.op)
        return self._outcome(script.op, stdout, stderr, rc)

    def close(self) -> None:
        """Delete the shell (if one is open) and end the HTTP session. Never raises."""
        with self._lock:
            proto, shell, self._shell = self._proto, self._shell, None
            if proto is None:
                return
            proto.transport.read_timeout_sec = CLOSE_TIMEOUT + 1
            try:
                if shell is not None:
                    proto.close_shell(shell)
            except Exception as exc:  # noqa: BLE001 - closing must not mask the outcome
                log.info("%s: deleting WinRM shell failed: %s", self.target.name,
                         redact(str(exc))[:200])
            finally:
                with contextlib.suppress(Exception):
                    proto.transport.close_session()
                proto.transport.read_timeout_sec = self.target.read_timeout

    @property
    def shell_id(self) -> str | None:
        return self._shell

    # -- the exchange ---------------------------------------------------------------
    def _protocol(self) -> Protocol:
        if self._proto is None:
            from certifi import where
            from winrm.protocol import Protocol

            from adminkit.core.files import checked_path

            t = self.target
            self._proto = Protocol(
                t.endpoint, transport=t.auth, username=t.user, password=t.password.reveal(),
                server_cert_validation="validate",
                ca_trust_path=checked_path(t.ca_file, f"{t.section}.ca_file") if t.ca_file
                else where(),  # requests' bundle
                read_timeout_sec=max(t.read_timeout, t.operation_timeout + 1),
                operation_timeout_sec=t.operation_timeout,
                message_encryption="always" if t.scheme == "http" and t.auth == "ntlm"
                else "auto",
                proxy=None)  # never a proxy from the environment
        return self._proto

    def _open_shell(self) -> str:
        if self._shell is None:
            self._shell = self._protocol().open_shell(noprofile=True, codepage=65001)
            self.shells_opened += 1
        return self._shell

    def _start(self) -> tuple[str, str]:
        """A new command in the shell; a shell the host no longer knows is made anew
        (nothing ran in it, so starting again is safe)."""
        from winrm.exceptions import WSManFaultError

        shell = self._open_shell()
        try:
            return shell, self._protocol().run_command(shell, COMMAND, ARGUMENTS)
        except WSManFaultError as exc:
            if exc.wsman_fault_code != SHELL_NOT_FOUND:
                raise
            log.info("%s: WinRM shell %s is gone; opening another", self.target.name, shell)
            self._shell = None
            shell = self._open_shell()
            return shell, self._protocol().run_command(shell, COMMAND, ARGUMENTS)

    def _run(self, payload: bytes, seconds: float, op: str,
             interruptible: bool = True) -> tuple[bytes, bytes, int]:
        from winrm.exceptions import WinRMOperationTimeoutError

        proto = self._protocol()
        end = time.monotonic() + seconds
        shell, command = self._start()
        ended = False
        try:
            for start in range(0, len(payload), STDIN_CHUNK):
                chunk = payload[start:start + STDIN_CHUNK]
                proto.send_command_input(shell, command, chunk,
                                         end=start + STDIN_CHUNK >= len(payload))
            out: list[bytes] = []
            err: list[bytes] = []
            while True:
                if interruptible and self._cancelled():
                    raise Interrupted(f"{self.target.name}: {op} stopped: the run was "
                                      "interrupted")
                if time.monotonic() > end:
                    raise DeadlineExceeded(
                        f"{self.target.name}: {op} gave no result within {seconds:g} s; "
                        "it was told to stop", hint="raise the deadline in the profile if "
                        "the host is just slow, or look at what hangs on the host")
                try:
                    o, e, rc, done = proto.get_command_output_raw(shell, command)
                except WinRMOperationTimeoutError:  # no output yet: ask again
                    continue
                out.append(o)
                err.append(e)
                if done:
                    ended = True
                    return b"".join(out), b"".join(err), rc
        finally:
            self._signal(shell, command, quietly=not ended)

    def _signal(self, shell: str, command: str, *, quietly: bool) -> None:
        """Terminate `command` (also a finished one: the host then frees it). After a
        failure it is best effort and bounded, so the failure is what is reported."""
        proto = self._protocol()
        if not quietly:
            proto.cleanup_command(shell, command)
            return
        proto.transport.read_timeout_sec = CLOSE_TIMEOUT + 1
        try:
            proto.cleanup_command(shell, command)
        except Exception as exc:  # noqa: BLE001 - the first failure is the one reported
            log.info("%s: signalling the command failed: %s", self.target.name,
                     redact(str(exc))[:200])
        finally:
            proto.transport.read_timeout_sec = max(self.target.read_timeout,
                                                   self.target.operation_timeout + 1)

    # -- answers and errors ---------------------------------------------------------
    def _outcome(self, op: str, stdout: bytes, stderr: bytes, rc: int) -> Any:
        found = find_result(stdout)
        name = self.target.name
        if found is None:
            text = _clean_stderr(stderr) or stdout.decode("utf-8", "replace").strip()
            raise ScriptFailed(f"{name}: {op} ended with exit code {rc} and no result"
                               + (f": {_short(text)}" if text else ""), op=op)
        if found.get("ok") is True:
            return redact_obj(found.get("result"))
        error = found.get("error")
        error = error if isinstance(error, dict) else {}
        message = str(error.get("message") or "the script failed without a message")
        error_id = str(error.get("id") or "").split(",", 1)[0]
        raise ScriptFailed(f"{name}: {op}: {_short(message)}", op=op, error_id=error_id,
                           category=str(error.get("category") or ""))

    def _translate(self, exc: Exception, op: str) -> NoReturn:
        """A library's exception as an AdminkitError that names the host and what to fix;
        its text is scrubbed of secrets (a server may echo what it was sent)."""
        import requests
        from winrm.exceptions import (
            InvalidCredentialsError,
            WinRMError,
            WinRMTransportError,
            WSManFaultError,
        )

        t = self.target
        where = f"{t.name} ({t.endpoint})"
        if isinstance(exc, InvalidCredentialsError):
            raise AuthenticationFailed(
                f"{where}: the WinRM login of {t.user} was refused (HTTP 401)",
                hint=f"check the user and password under {t.section} in the profile; "
                f"auth: {t.auth} must be enabled on the host (winrm get winrm/config/service/"
                "auth)") from None
        if isinstance(exc, WSManFaultError):
            reason = _short(exc.reason or "")
            if exc.wsman_fault_code == ACCESS_DENIED or (
                    exc.fault_subcode or "").endswith("AccessDenied"):
                raise AuthenticationFailed(
                    f"{where}: access denied to {t.user}: {reason}",
                    hint="the user must be an administrator of the host or be allowed to "
                    "use WinRM (Set-PSSessionConfiguration, Remote Management Users)") from None
            raise ConnectionFailed(f"{where}: {op}: WinRM fault {exc.wsman_fault_code or ''} "
                                   f"{exc.fault_subcode or ''}: {reason}".replace("  ", " "),
                                   hint="see the WinRM event log of the host") from None
        if isinstance(exc, WinRMTransportError):
            if exc.code == 403:
                raise AuthenticationFailed(
                    f"{where}: access denied to {t.user} (HTTP 403)",
                    hint="the user must be allowed to use WinRM on the host") from None
            raise ConnectionFailed(
                f"{where}: WinRM answered HTTP {exc.code}",
                hint="is the WinRM service running on the host (Get-Service WinRM) and its "
                "listener on this port (winrm enumerate winrm/config/listener)?") from None
        if isinstance(exc, requests.exceptions.SSLError):
            raise ConnectionFailed(
                f"{where}: the host's TLS certificate is not trusted or does not match",
                hint=f"set ca_file under {t.section} to the CA that signed the host's WinRM "
                "certificate, whose names must include the address used") from None
        if isinstance(exc, requests.exceptions.ReadTimeout):
            raise ConnectionFailed(
                f"{where}: no answer within {t.read_timeout} s",
                hint="the host or its WinRM service hangs, or the network drops packets"
            ) from None
        if isinstance(exc, requests.exceptions.ConnectionError):
            raise ConnectionFailed(
                f"{where}: cannot connect: {_reason(exc)}",
                hint="is the host up, and WinRM listening on this port "
                "(winrm quickconfig -transport:https)?") from None
        if isinstance(exc, requests.exceptions.RequestException):
            raise ConnectionFailed(f"{where}: {op}: {type(exc).__name__}: {_reason(exc)}",
                                   hint="the connection broke; try again") from None
        if isinstance(exc, WinRMError | AssertionError | StopIteration | ValueError
                      | SyntaxError | KeyError | AttributeError):  # ElementTree's ParseError
            raise ConnectionFailed(f"{where}: {op}: not a WinRM answer adminkit understands "
                                   f"({type(exc).__name__})",
                                   hint="is this endpoint a WinRM service?") from None
        raise exc


_CLIXML_TEXT = re.compile(r'<S S="Error">(.*?)</S>', re.DOTALL)


def _clean_stderr(stderr: bytes) -> str:
    """PowerShell's stderr as text: its CLIXML error records' text, else the bytes."""
    text = stderr.decode("utf-8", "replace")
    if text.startswith("#< CLIXML"):
        parts = _CLIXML_TEXT.findall(text)
        if parts:
            import html

            text = html.unescape("".join(parts)).replace("_x000D__x000A_", "\n")
    return text.strip()


def _short(text: str) -> str:
    text = redact(text.strip())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + " …"


def _reason(exc: Exception) -> str:
    """The innermost cause of a requests ConnectionError, in a few words."""
    cause: BaseException | None = exc
    while cause is not None and cause.__cause__ is not None:
        cause = cause.__cause__
    text = str(cause if cause is not None else exc)
    for known in ("Connection refused", "Name or service not known", "No route to host",
                  "timed out", "Connection reset", "Remote end closed connection"):
        if known.lower() in text.lower():
            return known.lower()
    return redact(text)[:200]

