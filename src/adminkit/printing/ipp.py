"""Cancel-Jobs with a `job-ids` list: the one IPP request pycups has no call for.

Cancel-Jobs (PWG 5100.11, CUPS 1.5 and later) with `job-ids` cancels exactly the jobs
named, in one request, and all or none of them: cupsd first checks that every id is a
job of that queue and refuses the whole request (`Job #N does not exist.`, 1030) if one
is not. pycups offers only Purge-Jobs, which takes whatever the queue holds when the
request arrives, jobs submitted after the purge was planned and approved too.

The request goes through the libcups that pycups itself loaded (ctypes), on a
connection of its own to the calling thread's server, port, encryption and user (the
backend sets them on every call's thread); the password callback is this module's for
the length of the request, since pycups' answers only for its own connections.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Callable, Sequence
from typing import Any

IPP_TAG_OPERATION, IPP_TAG_INTEGER, IPP_TAG_NAME, IPP_TAG_URI = 0x01, 0x21, 0x42, 0x45
IPP_OP_CANCEL_JOBS = 0x0038
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
    bad = [i for i in job_ids if not 1 <= i <= MAX_ID]
    if bad:
        raise ValueError(f"job ids out of range 1..{MAX_ID}: {bad[:5]}")
    if "\x00" in printer_uri:
        raise ValueError(f"printer URI with a NUL: {printer_uri!r}")
    lib = _libcups()
    for start in range(0, len(job_ids), MAX_IDS):
        _one_request(lib, printer_uri, job_ids[start:start + MAX_IDS], password)


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
