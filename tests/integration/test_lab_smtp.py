"""The SMTP sink: real SMTP in, one file per message out, reset, the real PID, clean SIGTERM."""

from __future__ import annotations

import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from adminkit.core.config import MailConfig
from adminkit.lab import process
from adminkit.lab.base import LabServer
from adminkit.lab.smtp import CLIENT_HOSTNAME, SmtpSink
from tests.integration.procfs import listener_inode, socket_inodes

pytestmark = pytest.mark.integration


@pytest.fixture
def sink(smtp_sink: LabServer) -> Iterator[SmtpSink]:
    assert isinstance(smtp_sink, SmtpSink)
    smtp_sink.reset()
    yield smtp_sink
    smtp_sink.reset()


def send(sink: SmtpSink, msg: EmailMessage, to: list[str] | None = None) -> None:
    with smtplib.SMTP(sink.host, sink.port, local_hostname=CLIENT_HOSTNAME, timeout=10) as c:
        c.send_message(msg, to_addrs=to)


def report(subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "adminkit@lab.example.test"
    msg["To"] = "helpdesk-l2@lab.example.test"
    msg["Subject"] = subject
    msg.set_content("3 changed, 0 failed\n")
    msg.add_attachment(b"action,status\n", maintype="text", subtype="csv",
                       filename="report.csv")
    return msg




def test_message_comes_back_with_subject_body_and_recipients(sink: SmtpSink) -> None:
    send(sink, report("run R-42"),
         to=["helpdesk-l2@lab.example.test", "audit@lab.example.test"])  # second: a Bcc
    [msg] = sink.messages()
    assert msg["Subject"] == "run R-42"
    assert msg["To"] == "helpdesk-l2@lab.example.test"
    assert msg["X-Lab-Mail-From"] == "adminkit@lab.example.test"
    assert msg["X-Lab-Rcpt-To"] == "helpdesk-l2@lab.example.test, audit@lab.example.test"
    body = msg.get_body(("plain",))
    assert body is not None
    assert body.get_content() == "3 changed, 0 failed\n"
    [attachment] = msg.iter_attachments()
    assert attachment.get_filename() == "report.csv"
    assert attachment.get_content() == "action,status\n"
    # On disk: exactly one complete .eml, no temporary file left behind.
    assert [p.suffix for p in sink.maildir.iterdir()] == [".eml"]


def test_messages_keep_arrival_order(sink: SmtpSink) -> None:
    for n in range(3):
        send(sink, report(f"run R-{n}"))
    assert [m["Subject"] for m in sink.messages()] == ["run R-0", "run R-1", "run R-2"]


def test_reset_forgets_every_message(sink: SmtpSink) -> None:
    send(sink, report("to be forgotten"))
    assert len(sink.messages()) == 1
    sink.reset()
    assert sink.messages() == []
    sink.probe()  # still serving
    send(sink, report("after reset"))
    assert [m["Subject"] for m in sink.messages()] == ["after reset"]


def test_process_record_is_the_sink(sink: SmtpSink) -> None:
    [proc] = sink.procs.load("smtp")
    assert process.alive(proc)
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
    assert b"adminkit.lab.smtp_sink" in cmdline
    assert listener_inode(sink.port) in socket_inodes(proc.pid)


def test_profile_is_a_valid_mail_section(sink: SmtpSink) -> None:
    cfg = MailConfig(**sink.profile()["mail"])
    assert (cfg.host, cfg.port, cfg.starttls) == ("127.0.0.1", 2525, True)
    assert cfg.ca_file == sink.ca_file.absolute() and cfg.ca_file.is_file()


def test_sink_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "adminkit.lab.smtp_sink", "--host", "127.0.0.1",
         "--port", str(port), "--maildir", str(tmp_path / "maildir")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", port, local_hostname=CLIENT_HOSTNAME,
                                  timeout=5) as c:
                    assert c.noop()[0] == 250
                break
            except OSError:
                assert proc.poll() is None, "the sink exited"
                assert time.monotonic() < deadline, "the sink never answered"
                time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
