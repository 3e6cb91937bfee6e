"""Get-Jobs with the answer read whole: a quarter of libcups' CPU for a long job list.

libcups 2.4 reads an IPP answer field by field, each with a system call of its own
(`recv` of 1, 2 or 4 bytes): 2,000 jobs of seven attributes are 72,000 calls, most of
the client's time of a listing (`lpstat -o` pays the same). Here the request is the one
pycups' `getJobs` sends (same attributes, no user name), sent with http.client, and
the answer's body is read in one go and parsed in Python (RFC 8010, section 3).

Only a plain success is answered here. Anything else (an HTTP status but 200, such as
401 for a server that wants a login or 426 for TLS; an IPP error; a connection that
fails; a body that does not parse) gives `Unread`, and the caller asks again through
pycups, which authenticates and whose errors adminkit words. A server that takes the
connection and never answers is `NoAnswer` (asking again would wait as long again).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Sequence
from typing import Any

READ_SECONDS = 60.0  # libcups' own wait for an answer (http_set_wait of a blocking call)
GET_JOBS = 0x000A
JOB_GROUP, END = 0x02, 0x03
INTEGER, BOOLEAN, ENUM = 0x21, 0x22, 0x23
TEXT_LANG, NAME_LANG = 0x35, 0x36
STRINGS = frozenset(range(0x41, 0x4A))  # text, name, keyword, uri, … mimeMediaType
MAX_BODY = 256 * 1024 * 1024  # an answer past this is no job list: pycups reads it
MAX_HEAD = 64 * 1024
CHUNK = 256 * 1024


class Unread(Exception):
    """The answer is not a plain job list: ask through pycups instead."""


class NotTaken(Unread):
    """A whole HTTP 4xx answer (a login or TLS wanted, a bad request): the server did
    not run the operation. A 5xx is no such proof (a proxy's may follow a request run)."""


class NoAnswer(Exception):
    """The server took the connection and sent no answer within READ_SECONDS."""


def attribute(tag: int, name: str, values: Sequence[bytes]) -> bytes:
    out = bytearray()
    for n, value in enumerate(values):
        label = b"" if n else name.encode()
        out += struct.pack(">BH", tag, len(label)) + label
        out += struct.pack(">H", len(value)) + value
    return bytes(out)


def get_jobs_request(printer_uri: str, which: str, attrs: Sequence[str],
                     request_id: int = 1, first_job_id: int | None = None) -> bytes:
    """The Get-Jobs request pycups' `getJobs` sends (it names no requesting user);
    `first_job_id`: only jobs with this id or higher (CUPS 1.5 and later)."""
    body = struct.pack(">BBHI", 2, 0, GET_JOBS, request_id) + bytes([0x01])
    body += attribute(0x47, "attributes-charset", [b"utf-8"])
    body += attribute(0x48, "attributes-natural-language", [b"en"])
    body += attribute(0x45, "printer-uri", [printer_uri.encode()])
    body += attribute(0x44, "which-jobs", [which.encode()])
    body += attribute(BOOLEAN, "my-jobs", [b"\x00"])
    if first_job_id is not None:
        body += attribute(0x21, "first-job-id", [struct.pack(">i", first_job_id)])
    body += attribute(0x44, "requested-attributes", [a.encode() for a in attrs])
    return body + bytes([END])


def parse_jobs(body: bytes) -> dict[int, dict[str, Any]]:
    """The jobs of a Get-Jobs answer by id, as pycups gives them (a value per name, a
    list where there are several); raises Unread for an IPP error or a broken body."""
    try:
        return _parse(body)
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise Unread(f"the answer does not parse: {exc}") from None


def _parse(body: bytes) -> dict[int, dict[str, Any]]:
    _version, status = struct.unpack_from(">HH", body, 0)
    if status > 0xFF:  # successful-ok, -ignored-attributes, -conflicting: 0 to 2
        raise Unread(f"IPP status {status:#06x}")
    size, from_bytes = len(body), int.from_bytes
    groups: list[dict[str, Any]] = []
    group: dict[str, Any] | None = None
    name, pos = "", 8
    while True:  # one pass, values decoded in line: 14,000 of them in 2,000 jobs
        tag = body[pos]
        if tag < 0x10:  # the start of a group (only the jobs' are kept), or the end
            if tag == END:
                break
            name, group = "", {} if tag == JOB_GROUP else None
            if group is not None:
                groups.append(group)
            pos += 1
            continue
        length = (body[pos + 1] << 8) | body[pos + 2]
        label = body[pos + 3:pos + 3 + length]
        pos += 3 + length
        length = (body[pos] << 8) | body[pos + 1]
        end = pos + 2 + length
        if end > size:
            raise IndexError("cut short")
        if group is not None:
            if tag in STRINGS:
                value: Any = body[pos + 2:end].decode()
            elif tag in (INTEGER, ENUM):
                if length != 4:
                    raise IndexError(f"an integer of {length} bytes")
                value = from_bytes(body[pos + 2:end], "big", signed=True)
            else:
                value = _value(tag, body[pos + 2:end])
            if label:
                name = label.decode()
                group[name] = value
            elif name:  # one more value of the attribute before it
                held = group[name]
                group[name] = [*held, value] if isinstance(held, list) else [held, value]
        pos = end
    jobs: dict[int, dict[str, Any]] = {}
    for found in groups:  # keyed by id, which pycups leaves out of the attributes
        job_id = found.pop("job-id", None)
        if isinstance(job_id, int):
            jobs[job_id] = found
    return jobs


def _value(tag: int, raw: bytes) -> Any:
    """A value of the types listings do not ask for often."""
    if tag == BOOLEAN:
        return raw != b"\x00"
    if tag in (TEXT_LANG, NAME_LANG):  # language, then the text: the text, as pycups
        (skip,) = struct.unpack_from(">H", raw, 0)
        (length,) = struct.unpack_from(">H", raw, 2 + skip)
        return raw[4 + skip:4 + skip + length].decode()
    if tag < 0x20:  # out of band: unsupported, unknown, no-value
        return None
    return raw  # a type no job listing asks for (dateTime, resolution, …)


def host_header(host: str, port: int, peer: str) -> str:
    """The Host: libcups sends: `localhost` when the server's address is a loopback
    one (cupsd refuses any other name there), else the name as configured."""
    try:
        loopback = ipaddress.ip_address(peer.partition("%")[0]).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return f"localhost:{port}"
    bare = host.strip("[]")
    return f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"


def get_jobs(host: str, port: int, printer_uri: str, which: str,
             attrs: Sequence[str], first_job_id: int | None = None
             ) -> dict[int, dict[str, Any]]:
    """Jobs as pycups' `getJobs(which_jobs=which, requested_attributes=attrs)` gives
    them, asked of `printer_uri` on host:port (a bracketed IPv6 address is taken too)."""
    try:
        sock = socket.create_connection((host.strip("[]"), port), timeout=READ_SECONDS)
    except TimeoutError:  # asking again through pycups would wait as long again
        raise NoAnswer(f"no connection within {READ_SECONDS:g} s") from None
    except OSError as exc:
        raise Unread(f"connect: {exc}") from None
    try:
        body = get_jobs_request(printer_uri, which, attrs, first_job_id=first_job_id)
        head = (f"POST / HTTP/1.1\r\nHost: {host_header(host, port, sock.getpeername()[0])}"
                f"\r\nContent-Type: application/ipp\r\nContent-Length: {len(body)}\r\n"
                "Accept-Encoding: identity\r\n\r\n").encode()
        sock.sendall(head + body)
        return parse_jobs(answer(sock))
    except TimeoutError:
        raise NoAnswer(f"no answer within {READ_SECONDS:g} s") from None
    except OSError as exc:
        raise Unread(f"{type(exc).__name__}: {exc}") from None
    finally:
        sock.close()


def answer(sock: socket.socket) -> bytes:
    """The body of an HTTP/1.1 answer `200` with a Content-Length (cupsd's to every IPP
    request but those carrying a document); any other answer is Unread."""
    data = bytearray()
    while True:  # interim 1xx answers first, asked for or not (RFC 9110 15.2)
        while (split := data.find(b"\r\n\r\n")) < 0:
            if len(data) > MAX_HEAD:
                raise Unread("an HTTP head past 64 KB")
            chunk = sock.recv(CHUNK)
            if not chunk:
                raise Unread("the connection closed before the answer")
            data += chunk
        lines = bytes(data[:split]).decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or not status[0].startswith("HTTP/1."):
            raise Unread(f"HTTP answer {lines[0][:80]!r}")
        if not (len(status[1]) == 3 and status[1].startswith("1")):
            break
        del data[:split + 4]
    if status[1].startswith("4"):  # cupsd's refusals (a login, TLS, a bad request)
        raise NotTaken(f"HTTP answer {lines[0][:80]!r}")
    if status[1] != "200":  # a 5xx (a proxy's too) may come after the request ran
        raise Unread(f"HTTP answer {lines[0][:80]!r}")
    fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    length = fields.get("content-length", "")
    if not length.isdigit() or "transfer-encoding" in fields or int(length) > MAX_BODY:
        raise Unread(f"an answer of length {length[:20]!r}")
    want = split + 4 + int(length)
    while len(data) < want:
        chunk = sock.recv(max(CHUNK, want - len(data)))
        if not chunk:
            raise Unread("the connection closed inside the answer")
        data += chunk
    return bytes(data[split + 4:want])
