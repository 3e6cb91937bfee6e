"""A machine in the middle of IPP over TLS: whatever it does, it reads nothing of
libcups' (no request, no CUPS admin's password), and a certificate that does not pass
is exit 3 with nothing sent to the server.

Before, adminkit checked the certificate on a connection of its own and libcups then
connected anew, taking any certificate: a middle that let the check through to the real
server and answered libcups itself was sent the request and the password. Now libcups
talks only to adminkit's relay, which verifies every connection it makes.

The real server is a TLS-only cupsd of the test's own (127.0.3.232); the middle is a
relay on 127.0.0.1 that passes some connections through to it untouched and answers
the others itself, with a certificate of its own CA (a cleartext one that asks to
upgrade to TLS, as libcups' own connection did, or one that starts with a handshake).
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.lab.cups import CupsTlsServer, tls_instance
from adminkit.lab.smtp import make_tls
from tests.integration.owncups import held_jobs, running

pytestmark = pytest.mark.integration
cups = pytest.importorskip("cups")

Cli = Callable[..., Any]
NUMBER = 232  # 127.0.3.232: no other lab server's address
PASSWORD = "Mitm-Canary-9917"


@pytest.fixture(scope="module")
def tls_cups(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CupsTlsServer]:
    yield from running(tls_instance(tmp_path_factory.mktemp("mitm-lab"), NUMBER))


class Middle:
    """Passes the first `passes` connections that start with a TLS handshake through to
    the server (None: all); answers the others itself, with `evil`'s certificate."""

    def __init__(self, upstream: tuple[str, int], evil: Path, passes: int | None = None
                 ) -> None:
        self.upstream = upstream
        self.passes = passes
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(evil / "sink.pem", evil / "sink.key")
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.relayed = 0
        self.taken = 0  # connections the middle answered itself
        self.seen: list[bytes] = []  # what a client sent the middle, decrypted
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):  # the client gave up, or the test is over
            self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            if conn.recv(1, socket.MSG_PEEK) == b"\x16":  # starts with a TLS handshake
                if self.passes is None or self.relayed < self.passes:
                    self.relayed += 1
                    self._relay(conn)
                    return
                self.taken += 1
                self._listen(self.context.wrap_socket(conn, server_side=True))
                return
            self.taken += 1
            _read_head(conn)  # OPTIONS * … Upgrade: TLS/1.2
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                         b"Upgrade: TLS/1.2,HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
            tls = self.context.wrap_socket(conn, server_side=True)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")  # to OPTIONS
            self._listen(tls)

    def _listen(self, tls: ssl.SSLSocket) -> None:
        """Keep what the client sends; ask for Basic credentials until they come."""
        for _ in range(4):
            head = _read_head(tls)
            if not head:
                return
            self.seen.append(head)
            if b"authorization:" in head.lower():
                return
            tls.sendall(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic "
                        b"realm=\"CUPS\"\r\nContent-Length: 0\r\n\r\n")

    def _relay(self, conn: socket.socket) -> None:
        up = socket.create_connection(self.upstream)

        def pump(a: socket.socket, b: socket.socket) -> None:
            try:
                while data := a.recv(65536):
                    b.sendall(data)
            except OSError:
                pass
            finally:
                b.close()

        threading.Thread(target=pump, args=(up, conn), daemon=True).start()
        pump(conn, up)

    def close(self) -> None:
        self.listener.close()


def _read_head(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@contextlib.contextmanager
def middle_profile(tls_cups: CupsTlsServer, config_dir: Path, evil: Path, *,
                   host: str = "localhost", passes: int | None = None,
                   ca_file: Path | None = None) -> Iterator[Middle]:
    """A profile `mitm` whose print server is `host` at the middle's port."""
    middle = Middle((tls_cups.host, tls_cups.port), evil, passes)
    try:
        (config_dir / "profiles").mkdir(exist_ok=True)
        (config_dir / "profiles" / "mitm.yaml").write_text(yaml.safe_dump({
            "description": "TLS through a middle", "print_servers": [{
                "name": "print-tls", "kind": "cups", "host": host, "port": middle.port,
                "tls": True, "ca_file": str(ca_file or tls_cups.ca_file),
                "user": "admin", "password": "env:MITM_PW"}]}))
        yield middle
    finally:
        middle.close()


def access_log(server: CupsTlsServer) -> str:
    """The requests cupsd logged (AccessLogLevel actions: every change, no reads)."""
    log = server.dir / "log" / "access_log"
    return log.read_text() if log.exists() else ""



def nothing_stolen(middle: Middle) -> None:
    stolen = base64.b64encode(f"admin:{PASSWORD}".encode())
    assert not any(stolen in head for head in middle.seen), "the password reached the middle"
    assert middle.seen == [], "a request reached a certificate nobody checked"


@pytest.fixture
def evil(tmp_path: Path) -> Path:
    """A certificate for localhost and 127.0.0.1, of a CA that is not the lab's."""
    make_tls(tmp_path / "evil", ("127.0.0.1",), ca_name="not the lab's CA")
    return tmp_path / "evil"


def test_a_middle_that_passes_the_check_gets_no_request_and_no_password(
        tls_cups: CupsTlsServer, cli: Cli, lab_config_dir: Path, evil: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # the middle of the defect: TLS from the start passes, an upgrade is taken over
    tls_cups.reset()
    monkeypatch.setenv("MITM_PW", PASSWORD)
    with middle_profile(tls_cups, lab_config_dir, evil) as middle:
        r = cli("-p", "mitm", "printer", "pause", "front-desk")
    assert middle.relayed >= 1, r.stdout + r.stderr  # the relay's TLS went to cupsd
    nothing_stolen(middle)
    assert middle.taken == 0  # no cleartext upgrade of libcups' was there to take
    assert r.returncode == 0, r.stdout + r.stderr  # and the work was done, verified
    assert tls_cups.connection().getPrinterAttributes("front-desk")["printer-state"] == 5


@pytest.mark.parametrize("passes", [0, 1], ids=["from-the-start", "after-the-first"])
def test_a_middle_with_a_certificate_of_its_own_ca_is_exit_3_nothing_sent(
        tls_cups: CupsTlsServer, cli: Cli, lab_config_dir: Path, evil: Path,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, passes: int) -> None:
    """Re-signing with its own CA: at once, or only from the second connection on (a
    purge lists the jobs on one connection and cancels them on another)."""
    tls_cups.reset()
    ids = held_jobs(tls_cups, tmp_path, "back-office", 3)
    conn = tls_cups.connection()
    monkeypatch.setenv("MITM_PW", PASSWORD)
    with middle_profile(tls_cups, lab_config_dir, evil, passes=passes) as middle:
        r = cli("-p", "mitm", "queue", "purge", "back-office")
    said = r.stdout + r.stderr
    assert r.returncode == 3, said
    assert "TLS certificate is not trusted" in said and "Traceback" not in said
    assert PASSWORD not in said
    assert middle.taken >= 1 and middle.relayed == passes
    nothing_stolen(middle)
    assert [conn.getJobAttributes(j)["job-state"] for j in ids] == [4, 4, 4]  # held
    assert "Cancel-Job" not in access_log(tls_cups)  # none in this module reaches cupsd


def test_the_real_server_by_a_name_its_certificate_lacks_is_exit_3_nothing_sent(
        tls_cups: CupsTlsServer, cli: Cli, lab_config_dir: Path, evil: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab CA's own certificate for cupsd (localhost, 127.0.3.232), reached as
    127.0.0.1 through a middle that passes everything: the name does not match."""
    tls_cups.reset()
    monkeypatch.setenv("MITM_PW", PASSWORD)
    before = access_log(tls_cups).count("Pause-Printer")
    with middle_profile(tls_cups, lab_config_dir, evil, host="127.0.0.1") as middle:
        r = cli("-p", "mitm", "printer", "pause", "front-desk")
    said = r.stdout + r.stderr
    assert r.returncode == 3, said
    assert "TLS certificate is not trusted: IP address mismatch" in said
    assert middle.relayed >= 1 and middle.taken == 0
    assert access_log(tls_cups).count("Pause-Printer") == before
    assert tls_cups.connection().getPrinterAttributes("front-desk")["printer-state"] == 3


def test_an_expired_certificate_of_the_profiles_ca_is_exit_3_nothing_sent(
        tls_cups: CupsTlsServer, cli: Cli, lab_config_dir: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    make_tls(tmp_path / "old", ("127.0.0.1",), ca_name="expired test CA", expired=True)
    monkeypatch.setenv("MITM_PW", PASSWORD)
    with middle_profile(tls_cups, lab_config_dir, tmp_path / "old", passes=0,
                        ca_file=tmp_path / "old" / "ca.pem") as middle:
        r = cli("-p", "mitm", "printer", "pause", "front-desk")
    said = r.stdout + r.stderr
    assert r.returncode == 3, said
    assert "TLS certificate is not trusted: certificate has expired" in said
    assert middle.taken >= 1
    nothing_stolen(middle)
