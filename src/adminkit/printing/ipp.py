"""Cancel-Jobs with a `job-ids` list: the one IPP request pycups has no call for.

Cancel-Jobs (PWG 5100.11, CUPS 1.5 and later) with `job-ids` cancels exactly the jobs
named, in one request, and all or none of them: cupsd first checks that every id is a
job of that queue and refuses the whole request (`Job #N does not exist.`, 1030) if one
is not. pycups offers only Purge-Jobs, which takes whatever the queue holds when the
request arrives, jobs submitted after the purge was planned and approved too.

`cancel_jobs_whole` writes the request itself, HTTP head and body in one write, and is
tried first. cupsd parses a body it already holds when it reads the head from memory;
libcups sends the head and then the body in three more writes, and when cupsd reads
the head before the rest has come (a race, most runs under load) it reads the body a
field at a time, back through its main loop for every value: 2,000 ids cost it 80 to
500 ms of CPU instead of the 20 ms that `cancel -a` costs (measured with
/proc/PID/schedstat and strace: 10,000 recv and 18,000 poll calls). The server's work
per job is the same either way (cupsdSetJobState, kept as history).

An HTTP 4xx answer (a login wanted, TLS asked for) means the server did not run
the request: it is then sent through the libcups that pycups itself loaded (ctypes),
which authenticates, on a connection of its own to the calling thread's server, port,
encryption and user (the backend sets them on every call's thread); the password
callback is this module's for the length of the request, since pycups' answers only
for its own connections.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import socket
import struct
import threading
from collections.abc import Callable, Sequence
from typing import Any

IPP_TAG_OPERATION, IPP_TAG_INTEGER, IPP_TAG_NAME, IPP_TAG_URI = 0x01, 0x21, 0x42, 0x45
IPP_OP_CANCEL_JOBS = 0x0038
END_TAG = 0x03
AF_UNSPEC = 0
CONNECT_MSEC = 30_000
ANSWER_SECONDS = 120.0  # a cupsd that stopped answering (SIGSTOP, a hung host): give up
MAX_IDS = 10_000  # job ids in one request: 2,000 ids are 18 KB; CUPS takes far more
MAX_ID = 2**31 - 1  # IPP integers are 32-bit: ctypes would wrap 2**32 + 5 onto job 5

_PASSWORD_CB = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                                ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)
_lib: Any = None
_lock = threading.Lock()
_kept = threading.local()  # the thread's callback: libcups holds its address until reset


class IppRequestFailed(Exception):
    """The request failed: `code` is the IPP status (or libcups' error), `message` its text."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


class IppNoAnswer(IppRequestFailed):
    """No connection, or the request was sent and its answer lost: done or not, unknown."""

    def __init__(self, code: int, message: str, *, sent: bool) -> None:
        super().__init__(code, message)
        self.sent = sent


def _load() -> Any:
    """libcups by its soname (already loaded: no search); find_library runs ldconfig."""
    for name in ("libcups.so.2", "libcups.2.dylib"):
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return ctypes.CDLL(ctypes.util.find_library("cups") or "libcups.so.2")


def _libcups() -> Any:
    global _lib
    with _lock:
        if _lib is None:
            import cups  # noqa: F401 - loads libcups: the same library, the same thread state

            lib = _load()
            vp, cp, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
            for name, res, args in (
                ("httpConnect2", vp, [cp, i, vp, i, i, i, i, vp]),
                ("httpClose", None, [vp]),
                ("httpSetTimeout", None, [vp, ctypes.c_double, vp, vp]),
                ("ippNewRequest", vp, [i]),
                ("ippAddString", vp, [vp, i, i, cp, cp, cp]),
                ("ippAddIntegers", vp, [vp, i, i, cp, i, ctypes.POINTER(i)]),
                ("cupsDoRequest", vp, [vp, vp, cp]),
                ("ippGetStatusCode", i, [vp]),
                ("ippDelete", None, [vp]),
                ("cupsLastError", i, []),
                ("cupsLastErrorString", cp, []),
                ("cupsServer", cp, []),
                ("ippPort", i, []),
                ("cupsEncryption", i, []),
                ("cupsUser", cp, []),
                ("cupsSetPasswordCB2", None, [_PASSWORD_CB, vp]),
            ):
                fn = getattr(lib, name)
                fn.restype, fn.argtypes = res, args
            _lib = lib
        return _lib


def cancel_jobs(printer_uri: str, job_ids: Sequence[int],
                password: Callable[[str], str | None]) -> None:
    """Cancel exactly `job_ids` of the queue at `printer_uri` (kept as history, like
    `cancel`), in one request per MAX_IDS ids; raises IppRequestFailed, or ValueError
    for an id no IPP integer holds or a URI libcups would cut at a NUL."""
    _check(printer_uri, job_ids)
    lib = _libcups()
    for start in range(0, len(job_ids), MAX_IDS):
        _one_request(lib, printer_uri, job_ids[start:start + MAX_IDS], password)


def _check(printer_uri: str, job_ids: Sequence[int]) -> None:
    bad = [i for i in job_ids if not 1 <= i <= MAX_ID]
    if bad:
        raise ValueError(f"job ids out of range 1..{MAX_ID}: {bad[:5]}")
    if "\x00" in printer_uri:
        raise ValueError(f"printer URI with a NUL: {printer_uri!r}")


def cancel_jobs_request(printer_uri: str, user: str, job_ids: Sequence[int],
                        request_id: int = 1) -> bytes:
    """The Cancel-Jobs request `_one_request` has libcups send (no purge-jobs: kept as
    history)."""
    from adminkit.printing.ippread import attribute

    body = struct.pack(">BBHI", 2, 0, IPP_OP_CANCEL_JOBS, request_id)
    body += bytes([IPP_TAG_OPERATION])
    body += attribute(0x47, "attributes-charset", [b"utf-8"])
    body += attribute(0x48, "attributes-natural-language", [b"en"])
    body += attribute(IPP_TAG_URI, "printer-uri", [printer_uri.encode()])
    body += attribute(IPP_TAG_NAME, "requesting-user-name", [user.encode()])
    body += attribute(IPP_TAG_INTEGER, "job-ids", [struct.pack(">i", i) for i in job_ids])
    return body + bytes([END_TAG])


def cancel_jobs_whole(host: str, port: int, printer_uri: str, user: str,
                      job_ids: Sequence[int]) -> bool:
    """Cancel exactly `job_ids` as `cancel_jobs` does, the request written in one piece
    to host:port (or the TLS relay's address), in requests of MAX_IDS ids. False: the
    server did not run the first request (no connection, or an HTTP 4xx answer: a
    login or TLS wanted), so nothing was done: send them with `cancel_jobs`. Raises
    IppRequestFailed for an IPP error, IppNoAnswer(sent=True) when the answer was lost."""
    from adminkit.printing import ippread

    _check(printer_uri, job_ids)
    for start in range(0, len(job_ids), MAX_IDS):
        chunk = job_ids[start:start + MAX_IDS]
        body = cancel_jobs_request(printer_uri, user, chunk)
        try:
            sock = socket.create_connection((host.strip("[]"), port),
                                            timeout=CONNECT_MSEC / 1000)
        except OSError:
            if start:
                raise IppNoAnswer(0, "no connection for the next request", sent=False
                                  ) from None
            return False  # libcups connects again and words what it finds
        try:
            sock.settimeout(ANSWER_SECONDS)
            head = (f"POST /jobs/ HTTP/1.1\r\nHost: "
                    f"{ippread.host_header(host, port, sock.getpeername()[0])}\r\n"
                    f"Content-Type: application/ipp\r\nContent-Length: {len(body)}\r\n"
                    "Accept-Encoding: identity\r\n\r\n").encode()
            try:
                sock.sendall(head + body)
            except OSError:  # not all of it went: cupsd runs no request it has not read
                if start:
                    raise IppNoAnswer(0, "the connection broke while sending",
                                      sent=False) from None
                return False
            try:
                reply = ippread.answer(sock)
            except ippread.NotTaken:
                if start:  # the first was taken without a login: this one should be too
                    raise IppRequestFailed(0, "the server refused the next request"
                                           ) from None
                return False
            except (ippread.Unread, OSError) as exc:
                text = f"no answer within {ANSWER_SECONDS:g} s" if isinstance(
                    exc, TimeoutError) else str(exc)
                raise IppNoAnswer(0, text, sent=True) from None
        finally:
            sock.close()
        if len(reply) < 8 or reply[0] not in (1, 2) or reply[4:8] != body[4:8]:
            raise IppNoAnswer(0, "an HTTP 200 whose body answers no request of this one "
                                 f"({bytes(reply[:8]).hex()})", sent=True)
        status, message = response_status(reply)
        if status > 0xFF:  # successful-ok (0), -ignored-attributes (1), -conflicting (2)
            raise IppRequestFailed(status, message)
    return True


def response_status(answer: bytes) -> tuple[int, str]:
    """An IPP answer's status code and its `status-message` ("" if none)."""
    if len(answer) < 9:
        raise IppNoAnswer(0, f"an IPP answer of {len(answer)} bytes", sent=True)
    (status,) = struct.unpack_from(">H", answer, 2)
    pos, size = 9 if answer[8] == IPP_TAG_OPERATION else len(answer), len(answer)
    while pos + 3 <= size and answer[pos] >= 0x10:  # the operation group's attributes
        name_len = (answer[pos + 1] << 8) | answer[pos + 2]
        name = answer[pos + 3:pos + 3 + name_len]
        pos += 3 + name_len
        if pos + 2 > size:
            break
        value_len = (answer[pos] << 8) | answer[pos + 1]
        value = answer[pos + 2:pos + 2 + value_len]
        pos += 2 + value_len
        if name == b"status-message":
            return status, value.decode(errors="replace")
    return status, ""


def _one_request(lib: Any, printer_uri: str, job_ids: Sequence[int],
                 password: Callable[[str], str | None]) -> None:
    held: list[Any] = []  # the answer's buffer lives until libcups has sent it

    def answer(prompt: bytes | None, *_: Any) -> int | None:
        given = password((prompt or b"").decode(errors="replace"))
        if not given:
            return None
        buf = ctypes.create_string_buffer(given.encode())
        held.append(buf)
        return ctypes.addressof(buf)

    callback = _kept.callback = _PASSWORD_CB(answer)
    http = lib.httpConnect2(lib.cupsServer(), lib.ippPort(), None, AF_UNSPEC,
                            lib.cupsEncryption(), 1, CONNECT_MSEC, None)
    if not http:
        raise IppNoAnswer(lib.cupsLastError(), _text(lib.cupsLastErrorString()), sent=False)
    try:
        lib.httpSetTimeout(http, ANSWER_SECONDS, None, None)  # no callback: time out
        ids = (ctypes.c_int * len(job_ids))(*job_ids)  # before the request: none leaks
        request = lib.ippNewRequest(IPP_OP_CANCEL_JOBS)
        lib.ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_URI, b"printer-uri", None,
                         printer_uri.encode())
        lib.ippAddString(request, IPP_TAG_OPERATION, IPP_TAG_NAME, b"requesting-user-name",
                         None, lib.cupsUser())
        lib.ippAddIntegers(request, IPP_TAG_OPERATION, IPP_TAG_INTEGER, b"job-ids",
                           len(job_ids), ids)
        lib.cupsSetPasswordCB2(callback, None)
        response = lib.cupsDoRequest(http, request, b"/jobs/")  # frees the request
        message = _text(lib.cupsLastErrorString())
        if not response:
            if message in ("", "Success"):  # errno 0: the wait timed out
                message = f"no answer within {ANSWER_SECONDS:g} s"
            raise IppNoAnswer(lib.cupsLastError(), message, sent=True)
        status = lib.ippGetStatusCode(response)
        lib.ippDelete(response)
        if status > 0xFF:  # successful-ok (0), -ignored-attributes (1), -conflicting (2)
            raise IppRequestFailed(status, message)
    finally:
        lib.httpClose(http)
        for buf in held:
            ctypes.memset(buf, 0, len(buf))


def _text(value: bytes | None) -> str:
    return (value or b"").decode(errors="replace")
