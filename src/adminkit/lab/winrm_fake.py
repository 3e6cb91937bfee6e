"""A WinRM (WS-Management) fake: Windows hosts for the lab and the tests.

It follows the exchange pywinrm makes ([MS-WSMV] shell: Create, Command, Send,
Receive, Signal, Delete; SOAP 1.2 faults with Windows' WSManFault codes) over HTTPS
with Basic or NTLM authentication. It runs no PowerShell: it runs adminkit's bootstrap only
(`core.winrm.scripts.BOOTSTRAP`), reads the script and the parameters from stdin,
finds the operation by the script's `# adminkit-op:` line and calls the Python handler
registered for it, which works on a model of the host and returns the result the real
script would (see `winmodels/`, where domains add their models without touching this).

`python -m adminkit.lab.winrm_fake --listen NAME=ADDR ... --port 5986 --cert PEM
--key PEM --users FILE` serves one host per address (users: lines `DOMAIN:user:password`,
read from a file so no password is in argv). Basic and NTLM (pyspnego as the acceptor)
log in; over plain HTTP, NTLM's message encryption ([MS-WSMV] 2.2.9.1.1) is spoken
too. Tests run it in-process (`FakeServer`), inject faults (`FakeHost.inject`) and read
what was sent (`FakeHost.calls`). A running one is driven over HTTP too:
`GET /_fake/state`, `POST /_fake/control` (Basic auth).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import importlib
import json
import logging
import os
import pkgutil
import re
import signal
import ssl
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, TypeVar
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from adminkit.core.winrm.scripts import BOOTSTRAP, OP_LINE, parse_payload, result_line
from adminkit.lab.httpd import QuietThreadingHTTPServer

log = logging.getLogger("adminkit.lab.winrm_fake")

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
SHELL = NS["rsp"]
TRANSFER = NS["x"]
CMD_URI = f"{SHELL}/cmd"
ACTIONS = {
    f"{TRANSFER}/Create": "create", f"{SHELL}/Command": "command", f"{SHELL}/Send": "send",
    f"{SHELL}/Receive": "receive", f"{SHELL}/Signal": "signal", f"{TRANSFER}/Delete": "delete",
}
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
BOUNDARY = b"--Encrypted Boundary"
ENCRYPTED_TYPE = ('multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";'
                  'boundary="Encrypted Boundary"')


# -- faults: what Windows answers ------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    status: int
    code: str  # s:Sender or s:Receiver
    subcode: str
    wsman: int  # WSManFault Code
    text: str


def timed_out() -> Fault:
    return Fault(500, "s:Receiver", "w:TimedOut", 2150858793,
                 "The WS-Management service cannot complete the operation within the time "
                 "specified in OperationTimeout.")


def access_denied() -> Fault:
    return Fault(500, "s:Sender", "w:AccessDenied", 5, "Access is denied.")


def shell_not_found(shell: str) -> Fault:
    return Fault(500, "s:Sender", "w:InvalidSelectors", 2150858843,
                 f"The request for the Windows Remote Shell with ShellId {shell} failed "
                 "because the shell was not found on the server. Possible causes are: the "
                 "specified ShellId is incorrect or the shell no longer exists on the server. "
                 "Provide the correct ShellId or create a new shell and retry the operation.")


def command_not_found(command: str) -> Fault:
    return Fault(500, "s:Sender", "w:InvalidSelectors", 2150858843,
                 f"The request for the Windows Remote Shell failed because the command with "
                 f"CommandId {command} was not found on the server.")


def bad_request(text: str) -> Fault:
    return Fault(500, "s:Sender", "w:InvalidParameter", 2150858752, text)


class SoapFault(Exception):
    def __init__(self, fault: Fault) -> None:
        super().__init__(fault.text)
        self.fault = fault


# -- what a handler gets and gives -----------------------------------------------------
class ScriptError(Exception):
    """Raised by a handler: the script's terminating error (as `throw`/`Write-Error`
    with -ErrorAction Stop would give): message, FullyQualifiedErrorId, category."""

    def __init__(self, message: str, error_id: str = "", category: str = "NotSpecified"
                 ) -> None:
        super().__init__(message)
        self.message, self.error_id, self.category = message, error_id or message, category


@dataclass
class Outcome:
    """A handler's full answer when a plain result is not enough."""

    result: Any = None
    error: ScriptError | None = None
    busy: int = 0  # Receives answered with OperationTimeout before the result
    hang: bool = False  # never finishes (until signalled)
    stderr: bytes = b""
    raw_stdout: bytes | None = None  # instead of the bootstrap's result line
    exit_code: int | None = None


M = TypeVar("M")
Handler = Callable[["FakeHost", dict[str, Any]], Any]
HANDLERS: dict[str, Handler] = {}
MODELS: dict[str, Callable[[FakeHost], Any]] = {}


def handler(op: str) -> Callable[[Handler], Handler]:
    """Register the fake of the script whose first line is `# adminkit-op: <op>`."""
    def register(fn: Handler) -> Handler:
        HANDLERS[op] = fn
        return fn
    return register


def model(name: str) -> Callable[[Callable[[FakeHost], Any]], Callable[[FakeHost], Any]]:
    """Register a model of some part of a host (`FakeHost.model(name)` makes it once)."""
    def register(factory: Callable[[FakeHost], Any]) -> Callable[[FakeHost], Any]:
        MODELS[name] = factory
        return factory
    return register


def model_of(name: str, factory: Callable[[FakeHost], M]) -> Callable[[FakeHost], M]:
    """Register `factory` as the model `name`; what it answers is the model's accessor for
    handlers (`host.model(name)`, typed)."""
    model(name)(factory)

    def of(host: FakeHost) -> M:
        found: M = host.model(name)
        return found
    return of


def load_models() -> None:
    """Import every module of `adminkit.lab.winmodels`: each registers its handlers."""
    import adminkit.lab.winmodels as package

    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)


@dataclass
class Call:
    """One command as the fake saw it (for tests: what was sent, what happened)."""

    shell: str
    command: str
    arguments: str
    user: str = ""
    script: str = ""
    op: str = ""
    params: dict[str, Any] | None = None
    stdin: bytes = b""
    receives: int = 0
    signalled: bool = False
    done: bool = False
    outcome: Outcome | None = None
    stdout: bytes = b""
    exit_code: int = 0


@dataclass
class Shell:
    id: str
    user: str
    codepage: str
    commands: dict[str, Call] = field(default_factory=dict)


# -- one Windows host ------------------------------------------------------------------
class FakeHost:
    """The state of one fake Windows host: users, shells, calls, models, faults."""

    def __init__(self, name: str, users: dict[str, str] | None = None, *,
                 receive_wait: float = 0.1) -> None:
        self.name = name
        self.users = dict(users or {})
        self.receive_wait = receive_wait  # longest a Receive blocks before OperationTimeout
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.shells: dict[str, Shell] = {}
        self.deleted: list[str] = []
        self.calls: list[Call] = []
        self.requests: list[str] = []  # actions in order ("create", "command", …)
        self.sealed = 0  # requests that came NTLM-sealed (http with message encryption)
        self.models: dict[str, Any] = {}
        self.faults: dict[str, int] = {}  # kind -> times left (-1: until cleared)
        self.stopping = threading.Event()
        self._local = threading.local()

    def caller(self) -> str:
        """Whom the running script runs as (`DOMAIN\\user`), for a handler to report."""
        login: str = getattr(self._local, "user", "") or "?"
        return login if "\\" in login else f"{self.name.upper()}\\{login}"

    def login(self, name: str) -> str | None:
        """The user `name` logs in as: `user`, `DOMAIN\\user` or `user@domain`."""
        user = name.rpartition("\\")[2].partition("@")[0].lower()
        return next((known for known in self.users if known.lower() == user), None)

    # -- faults -------------------------------------------------------------------------
    KINDS = ("unauthorized", "forbidden", "service_stopped", "access_denied", "timeout",
             "hang", "silent", "shell_lost", "garbage", "junk")

    def inject(self, kind: str, times: int = -1) -> None:
        """Make the next `times` matching requests fail (-1: until `clear`):
        unauthorized (401 on every request), forbidden (403), service_stopped (503 from
        http.sys), access_denied (Create fault, code 5), timeout (a Receive answers
        OperationTimeout), hang (commands never finish), silent (no HTTP answer at all),
        shell_lost (the host forgets its shells: the next Command finds none),
        garbage (a 200 answer that is XML but not SOAP), junk (a 200 answer, not XML)."""
        if kind not in self.KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(self.KINDS)}")
        with self.lock:
            self.faults[kind] = times

    def clear(self, kind: str | None = None) -> None:
        with self.lock:
            if kind is None:
                self.faults.clear()
            else:
                self.faults.pop(kind, None)

    def _take(self, kind: str) -> bool:
        with self.lock:
            left = self.faults.get(kind)
            if left is None or left == 0:
                return False
            if left > 0:
                self.faults[kind] = left - 1
            return True

    # -- models -------------------------------------------------------------------------
    def model(self, name: str) -> Any:
        with self.lock:
            if name not in self.models:
                if name not in MODELS:
                    raise KeyError(f"no fake model {name!r} (is its winmodels module there?)")
                self.models[name] = MODELS[name](self)
            return self.models[name]

    def open_shells(self) -> list[str]:
        with self.lock:
            return list(self.shells)

    def state(self) -> dict[str, Any]:
        """What a test reads back: shells, calls and each model's `snapshot()`."""
        with self.lock:
            return {
                "name": self.name, "shells": list(self.shells), "deleted": list(self.deleted),
                "faults": dict(self.faults), "requests": list(self.requests),
                "calls": [{"op": c.op, "params": c.params, "shell": c.shell,
                           "signalled": c.signalled, "done": c.done, "receives": c.receives,
                           "exit_code": c.exit_code} for c in self.calls],
                "models": {k: m.snapshot() for k, m in self.models.items()
                           if hasattr(m, "snapshot")},
            }

    def control(self, request: dict[str, Any]) -> dict[str, Any]:
        """`POST /_fake/control`: {"inject": {"kind": …, "times": n}}, {"clear": kind|null},
        {"reset": true} (calls, deleted shells, models and faults forgotten),
        {"model": name, "do": {…}} (handed to that model's `control`)."""
        if "inject" in request:
            self.inject(str(request["inject"]["kind"]), int(request["inject"].get("times", -1)))
        if "clear" in request:
            self.clear(request["clear"])
        if request.get("reset"):
            with self.lock:
                self.calls.clear()
                self.deleted.clear()
                self.requests.clear()
                self.models.clear()
                self.faults.clear()
        if "model" in request:
            found = self.model(str(request["model"]))
            return {"result": found.control(request.get("do") or {})}
        return self.state()

    # -- the exchange ---------------------------------------------------------------------
    def handle(self, body: bytes, user: str) -> tuple[int, bytes]:
        """One SOAP request in, (HTTP status, SOAP answer) out."""
        try:
            root = ET.fromstring(body)  # noqa: S314 - lab fake; expat refuses entity bombs
        except ET.ParseError:
            return 400, b""
        header = root.find("s:Header", NS)
        action = _text(header, "a:Action")
        message_id = _text(header, "a:MessageID")
        kind = ACTIONS.get(action, "")
        with self.lock:
            self.requests.append(kind or action)
        try:
            if kind == "":
                raise SoapFault(Fault(500, "s:Sender", "a:ActionNotSupported", 2150858754,
                                      f"The WS-Management service does not support the "
                                      f"action {action}."))
            if _text(header, "w:ResourceURI") != CMD_URI:
                raise SoapFault(Fault(500, "s:Sender", "w:DestinationUnreachable",
                                      2150858770, "The WS-Management service cannot process "
                                      "the request because the resource URI is not valid."))
            op_timeout = _duration(_text(header, "w:OperationTimeout")) or 60.0
            body_el = root.find("s:Body", NS)
            assert body_el is not None
            if kind == "create":
                reply, out_action = self._create(header, user), f"{TRANSFER}/CreateResponse"
            else:
                shell = self._shell(header)
                if kind == "command":
                    reply = self._command(shell, body_el)
                elif kind == "send":
                    reply = self._send(shell, body_el)
                elif kind == "receive":
                    reply = self._receive(shell, body_el, op_timeout)
                elif kind == "signal":
                    reply = self._signal(shell, body_el)
                else:
                    reply = self._delete(shell)
                out_action = ("http://schemas.xmlsoap.org/ws/2004/09/transfer/DeleteResponse"
                              if kind == "delete" else f"{SHELL}/{kind.title()}Response")
        except SoapFault as exc:
            return exc.fault.status, _fault(exc.fault, message_id, self.name)
        return 200, _envelope(out_action, message_id, reply)

    def _shell(self, header: ET.Element | None) -> Shell:
        shell_id = ""
        for sel in header.iterfind("w:SelectorSet/w:Selector", NS) if header is not None else ():
            if sel.get("Name") == "ShellId":
                shell_id = sel.text or ""
        with self.lock:
            found = self.shells.get(shell_id)
        if found is None:
            raise SoapFault(shell_not_found(shell_id))
        return found

    def _create(self, header: ET.Element | None, user: str) -> str:
        if self._take("access_denied"):
            raise SoapFault(access_denied())
        codepage = "437"
        for opt in header.iterfind("w:OptionSet/w:Option", NS) if header is not None else ():
            if opt.get("Name") == "WINRS_CODEPAGE":
                codepage = opt.text or codepage
        shell = Shell(str(uuid.uuid4()).upper(), user, codepage)
        with self.lock:
            self.shells[shell.id] = shell
        return (f'<x:ResourceCreated><a:Address>http://schemas.xmlsoap.org/ws/2004/08/'
                f'addressing/role/anonymous</a:Address><a:ReferenceParameters>'
                f'<w:ResourceURI>{CMD_URI}</w:ResourceURI><w:SelectorSet>'
                f'<w:Selector Name="ShellId">{shell.id}</w:Selector></w:SelectorSet>'
                f'</a:ReferenceParameters></x:ResourceCreated>'
                f'<rsp:Shell><rsp:ShellId>{shell.id}</rsp:ShellId>'
                f'<rsp:ResourceUri>{CMD_URI}</rsp:ResourceUri>'
                f'<rsp:Owner>{escape(user)}</rsp:Owner><rsp:ClientIP>127.0.0.1</rsp:ClientIP>'
                f'<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>'
                f'<rsp:InputStreams>stdin</rsp:InputStreams>'
                f'<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>')

    def _command(self, shell: Shell, body: ET.Element) -> str:
        if self._take("shell_lost"):
            with self.lock:
                self.shells.clear()
            raise SoapFault(shell_not_found(shell.id))
        line = body.find("rsp:CommandLine", NS)
        if line is None:
            raise SoapFault(bad_request("The request has no rsp:CommandLine."))
        call = Call(shell.id, str(uuid.uuid4()).upper(), _text(line, "rsp:Arguments"),
                    shell.user)
        call_command = _text(line, "rsp:Command")
        with self.lock:
            shell.commands[call.command] = call
            self.calls.append(call)
        if call_command.lower() not in ("powershell.exe", "powershell") or \
                _bootstrap(call.arguments) != BOOTSTRAP:
            call.done, call.exit_code = True, 1
            call.outcome = Outcome(stderr=b"the adminkit WinRM fake runs adminkit's "
                                          b"bootstrap only\r\n", raw_stdout=b"")
        return f"<rsp:CommandResponse><rsp:CommandId>{call.command}</rsp:CommandId>" \
               f"</rsp:CommandResponse>"

    def _call(self, shell: Shell, el: ET.Element | None) -> Call:
        command = el.get("CommandId", "") if el is not None else ""
        with self.lock:
            call = shell.commands.get(command)
        if call is None:
            raise SoapFault(command_not_found(command))
        return call

    def _send(self, shell: Shell, body: ET.Element) -> str:
        stream = body.find("rsp:Send/rsp:Stream", NS)
        call = self._call(shell, stream)
        assert stream is not None
        try:
            call.stdin += base64.b64decode(stream.text or "", validate=True)
        except binascii.Error:
            raise SoapFault(bad_request("The stdin stream is not base64.")) from None
        if stream.get("End", "").lower() == "true" and call.outcome is None:
            self._run(call)
        return "<rsp:SendResponse/>"

    def _run(self, call: Call) -> None:
        """The bootstrap's work: decode stdin, find the op, call its handler."""
        try:
            call.script, call.params = parse_payload(call.stdin)
        except ValueError as exc:
            call.outcome = Outcome(error=ScriptError(f"Exception calling \"FromBase64String\":"
                                                     f" {exc}", "FormatException"))
            return
        found = OP_LINE.match(call.script)
        call.op = found.group(1) if found else ""
        fn = HANDLERS.get(call.op)
        if fn is None:
            call.outcome = Outcome(error=ScriptError(
                f"The fake has no handler for operation {call.op or '(none)'}.",
                "CommandNotFoundException", "ObjectNotFound"))
            return
        self._local.user = call.user
        try:
            value = fn(self, call.params)
        except ScriptError as exc:
            value = Outcome(error=exc)
        except Exception as exc:  # a handler's bug is the script's error
            log.exception("handler %s failed", call.op)
            value = Outcome(error=ScriptError(f"{type(exc).__name__}: {exc}", "FakeBug"))
        call.outcome = value if isinstance(value, Outcome) else Outcome(result=value)
        if self._take("hang"):
            call.outcome.hang = True

    def _receive(self, shell: Shell, body: ET.Element, op_timeout: float) -> str:
        call = self._call(shell, body.find("rsp:Receive/rsp:DesiredStream", NS))
        with self.changed:
            call.receives += 1
            self.changed.notify_all()
        outcome = call.outcome
        if self._take("timeout") or outcome is None or outcome.hang or outcome.busy > 0:
            if outcome is not None and outcome.busy > 0:
                outcome.busy -= 1
            with self.changed:  # a real Receive blocks up to OperationTimeout
                self.changed.wait_for(lambda: call.signalled or self.stopping.is_set(),
                                      timeout=min(op_timeout, self.receive_wait))
            raise SoapFault(timed_out())
        if not call.done:
            call.done = True
            if outcome.raw_stdout is not None:
                call.stdout = outcome.raw_stdout
            elif outcome.error is not None:
                e = outcome.error
                call.stdout = result_line({"ok": False, "error": {
                    "message": e.message, "id": e.error_id, "category": e.category}})
            else:
                call.stdout = result_line({"ok": True, "result": outcome.result})
            if outcome.exit_code is not None:
                call.exit_code = outcome.exit_code
            elif outcome.error is not None or outcome.raw_stdout is not None:
                call.exit_code = 1
        cid = call.command
        streams = "".join(
            f'<rsp:Stream Name="{name}" CommandId="{cid}">{base64.b64encode(chunk).decode()}'
            f'</rsp:Stream>' for name, data in (("stdout", call.stdout),
                                                ("stderr", outcome.stderr))
            for chunk in _chunks(data) if data)
        return (f"<rsp:ReceiveResponse>{streams}"
                f'<rsp:Stream Name="stdout" CommandId="{cid}" End="true"></rsp:Stream>'
                f'<rsp:Stream Name="stderr" CommandId="{cid}" End="true"></rsp:Stream>'
                f'<rsp:CommandState CommandId="{cid}" State="{SHELL}/CommandState/Done">'
                f"<rsp:ExitCode>{call.exit_code}</rsp:ExitCode></rsp:CommandState>"
                f"</rsp:ReceiveResponse>")

    def _signal(self, shell: Shell, body: ET.Element) -> str:
        signal_el = body.find("rsp:Signal", NS)
        call = self._call(shell, signal_el)
        with self.changed:
            call.signalled = True
            shell.commands.pop(call.command, None)
            self.changed.notify_all()
        return "<rsp:SignalResponse/>"

    def _delete(self, shell: Shell) -> str:
        with self.changed:
            self.shells.pop(shell.id, None)
            self.deleted.append(shell.id)
            for call in shell.commands.values():  # the host ends what still ran
                call.signalled = call.signalled or not call.done
            self.changed.notify_all()
        return ""


def _text(el: ET.Element | None, path: str) -> str:
    found = el.find(path, NS) if el is not None else None
    return (found.text or "").strip() if found is not None else ""


def _duration(value: str) -> float | None:
    """xs:duration as WS-Management uses it (`PT20S`, `PT0.5S`)."""
    found = re.fullmatch(r"PT(\d+(?:\.\d+)?)S", value)
    return float(found.group(1)) if found else None


def _bootstrap(arguments: str) -> str:
    found = re.search(r"(?i)-EncodedCommand\s+(\S+)", arguments)
    if not found:
        return ""
    try:
        return base64.b64decode(found.group(1), validate=True).decode("utf-16-le")
    except (binascii.Error, UnicodeDecodeError):
        return ""


def _chunks(data: bytes, size: int = 4096) -> Iterator[bytes]:
    """Streams come in pieces, as from a real host."""
    for start in range(0, len(data), size):
        yield data[start:start + size]


def _header(action: str, relates_to: str) -> str:
    return (f"<s:Header><a:Action>{action}</a:Action>"
            f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
            f"<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
            f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header>")


def _open() -> str:
    return "<s:Envelope " + " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items()) + ">"


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>{_open()}{_header(action, relates_to)}'
            f"<s:Body>{body}</s:Body></s:Envelope>").encode()


def _fault(fault: Fault, relates_to: str, machine: str) -> bytes:
    body = (f"<s:Fault><s:Code><s:Value>{fault.code}</s:Value><s:Subcode><s:Value>"
            f"{fault.subcode}</s:Value></s:Subcode></s:Code><s:Reason>"
            f'<s:Text xml:lang="en-US">{escape(fault.text)}</s:Text></s:Reason><s:Detail>'
            f'<f:WSManFault Code="{fault.wsman}" Machine="{escape(machine)}"><f:Message>'
            f"{escape(fault.text)}</f:Message></f:WSManFault></s:Detail></s:Fault>")
    return _envelope(FAULT_ACTION, relates_to, body)


# -- HTTP ------------------------------------------------------------------------------
class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as pywinrm's requests session expects
    disable_nagle_algorithm = True
    server: FakeServer
    _ntlm_ctx: Any = None  # this connection's NTLM acceptor (pyspnego), while it logs in
    _ntlm_user: str | None = None  # whom NTLM authenticated on this connection

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.server.host.name, *args)

    def _reply(self, status: int, body: bytes, ctype: str = "application/soap+xml;"
               "charset=UTF-8", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Server", "Microsoft-HTTPAPI/2.0")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _user(self) -> str | None:
        """Basic credentials checked against the host's users, or the user this
        connection authenticated as with NTLM (http.sys keeps NTLM per connection)."""
        scheme, _, blob = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return self._ntlm_user
        try:
            user, _, password = base64.b64decode(blob).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        known = self.server.host.login(user)
        return user if known is not None and self.server.host.users[known] == password \
            else None

    def _ntlm(self) -> bool:
        """One NTLM leg (`Authorization: Negotiate|NTLM <token>`): False when this
        request was answered with a challenge or a refusal."""
        scheme, _, blob = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in ("negotiate", "ntlm"):
            return True
        import spnego
        import spnego.exceptions

        if self._ntlm_ctx is None or self._ntlm_ctx.complete:
            self._ntlm_ctx = spnego.server(protocol="ntlm")
            self._ntlm_user = None
        try:
            answer = self._ntlm_ctx.step(base64.b64decode(blob))
        except (spnego.exceptions.SpnegoError, binascii.Error, ValueError):
            self._ntlm_ctx = None
            self._unauthorized()
            return False
        if not self._ntlm_ctx.complete:
            self._reply(401, b"", "text/html", {
                "WWW-Authenticate": f"{scheme} {base64.b64encode(answer or b'').decode()}"})
            return False
        principal = str(self._ntlm_ctx.client_principal or "")
        self._ntlm_user = principal if self.server.host.login(principal) else None
        return True

    def _body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))

    def do_GET(self) -> None:
        if self.path != "/_fake/state":
            self._reply(404, b"", "text/html")
            return
        if not self._ntlm():
            return
        if self._user() is None:
            self._unauthorized()
            return
        self._reply(200, json.dumps(self.server.host.state()).encode(), "application/json")

    def _unauthorized(self) -> None:
        self._reply(401, b"", "text/html",
                    {"WWW-Authenticate": 'Negotiate, Basic realm="WSMAN"'})

    def do_POST(self) -> None:
        host = self.server.host
        body = self._body()
        if self.path == "/_fake/control":
            if not self._ntlm():
                return
            if self._user() is None:
                self._unauthorized()
                return
            try:
                state = host.control(json.loads(body))
            except (ValueError, KeyError, TypeError) as exc:
                self._reply(400, str(exc).encode(), "text/plain")
                return
            self._reply(200, json.dumps(state).encode(), "application/json")
            return
        if self.path.rstrip("/").lower() != "/wsman":
            self._reply(404, b"", "text/html")
            return
        if host._take("silent"):
            host.stopping.wait()  # never answers (until the fake stops)
            self.close_connection = True
            return
        if host._take("service_stopped"):
            self._reply(503, b"<h1>Service Unavailable</h1>", "text/html")
            return
        if not self._ntlm():
            return
        user = self._user()
        if user is None or host._take("unauthorized"):
            self._unauthorized()
            return
        sealed = self.headers.get("Content-Type", "").startswith("multipart/encrypted")
        if sealed:
            try:
                body = self._unseal(body)
            except (ValueError, IndexError, struct.error) as exc:
                self._reply(400, str(exc).encode(), "text/plain")
                return
            with host.lock:
                host.sealed += 1
        elif not body:  # pywinrm's empty POST that ends the NTLM handshake before sealing
            self._reply(200, b"", "text/plain")
            return
        if host._take("forbidden"):
            self._reply(403, b"", "text/html")
            return
        if host._take("garbage"):
            self._reply(200, b"<html>not SOAP</html>", "text/html")
            return
        if host._take("junk"):
            self._reply(200, b"\x00\xffnot XML at all", "application/octet-stream")
            return
        status, answer = host.handle(body, user)
        if sealed:  # [MS-WSMV] 2.2.9.1.1: the answer goes back sealed the same way
            self._reply(status, self._seal(answer), ENCRYPTED_TYPE)
            return
        self._reply(status, answer)

    def _unseal(self, body: bytes) -> bytes:
        """A multipart/encrypted body: its part with the NTLM-sealed envelope, opened."""
        if self._ntlm_ctx is None or not self._ntlm_ctx.complete:
            raise ValueError("a sealed message on a connection without an NTLM login")
        parts = [p for p in body.split(BOUNDARY + b"\r\n") if p]
        length = int(parts[0].split(b"Length=")[1].strip())
        payload = parts[1].replace(b"\tContent-Type: application/octet-stream\r\n", b"", 1)
        payload = payload.removesuffix(BOUNDARY + b"--\r\n")
        (size,) = struct.unpack("<I", payload[:4])
        plain: bytes = self._ntlm_ctx.unwrap(payload[4:4 + size] + payload[4 + size:]).data
        if len(plain) != length:
            raise ValueError("the sealed envelope's length does not match its header")
        return plain

    def _seal(self, xml: bytes) -> bytes:
        wrapped: bytes = self._ntlm_ctx.wrap(xml, encrypt=True).data
        return (BOUNDARY + b"\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n"
                b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
                + str(len(xml)).encode() + b"\r\n" + BOUNDARY
                + b"\r\n\tContent-Type: application/octet-stream\r\n"
                + struct.pack("<I", 16) + wrapped[:16] + wrapped[16:] + BOUNDARY + b"--\r\n")


class FakeServer(QuietThreadingHTTPServer):
    """One fake host listening on (address, port), HTTPS when given a certificate."""

    allow_reuse_address = True

    def __init__(self, host: FakeHost, address: str = "127.0.0.1", port: int = 0, *,
                 cert: Path | None = None, key: Path | None = None) -> None:
        super().__init__((address, port), _Handler)
        self.host = host
        self.tls = cert is not None
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert), str(key) if key else None)
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        address = self.server_address[0]
        address = address.decode() if isinstance(address, bytes) else address
        return f"{'https' if self.tls else 'http'}://{address}:{self.port}/wsman"

    def start(self) -> FakeServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"winrm-fake {self.host.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.host.stopping.set()
        with self.host.changed:
            self.host.changed.notify_all()
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextlib.contextmanager
def serving(hosts: Sequence[tuple[FakeHost, str, int]], cert: Path | None,
            key: Path | None) -> Iterator[list[FakeServer]]:
    load_models()
    servers = [FakeServer(h, addr, port, cert=cert, key=key).start() for h, addr, port in hosts]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def read_users(path: Path) -> dict[str, str]:
    """`DOMAIN:user:password` lines (Heimdal's format, which pyspnego's NTLM acceptor reads
    from the file named by NTLM_USER_FILE): user -> password."""
    users = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            _domain, _, rest = line.partition(":")
            user, _, password = rest.partition(":")
            users[user.strip()] = password
    return users


def write_users(path: Path, users: dict[str, str], domain: str = "LAB") -> Path:
    """The users file (0600) for `read_users` and NTLM: each user with the domain (for
    `DOMAIN\\user`) and without (for a local `user`)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        for user, password in users.items():
            out.write(f"{domain}:{user}:{password}\n:{user}:{password}\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adminkit.lab.winrm_fake",
                                     description="The adminkit lab's WinRM fake.")
    parser.add_argument("--listen", action="append", required=True, metavar="NAME=ADDRESS",
                        help="one fake host: its name and the address it listens on")
    parser.add_argument("--port", type=int, default=5986)
    parser.add_argument("--cert", type=Path, help="serve HTTPS with this certificate ...")
    parser.add_argument("--key", type=Path, help="... and this key")
    parser.add_argument("--users", type=Path, required=True,
                        help="file of DOMAIN:user:password lines")
    parser.add_argument("--receive-wait", type=float, default=1.0,
                        help="longest a Receive blocks before OperationTimeout (s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    users = read_users(args.users)
    os.environ["NTLM_USER_FILE"] = str(args.users)  # pyspnego's NTLM acceptor reads it
    hosts = []
    for item in args.listen:
        name, _, address = item.partition("=")
        hosts.append((FakeHost(name, users, receive_wait=args.receive_wait), address,
                      args.port))
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    with serving(hosts, args.cert, args.key):
        log.warning("winrm fake: %s on port %d", ", ".join(i for i in args.listen), args.port)
        signal.sigwait(stop_signals)
    time.sleep(0)
    return 0


if __name__ == "__main__":  # run the imported module: winmodels register with that one
    from adminkit.lab import winrm_fake

    raise SystemExit(winrm_fake.main())
