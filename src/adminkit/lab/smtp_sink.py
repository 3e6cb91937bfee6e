"""The lab's SMTP sink as a process of its own: every message it receives becomes one file.

`python -m adminkit.lab.smtp_sink --host 127.0.0.1 --port 2525 --maildir DIR
[--tls-cert PEM --tls-key PEM]` (with them it offers STARTTLS)

A separate process (not a thread of the caller) so that the sink outlives
`adminkit lab up` and serves the tests, RT and the demo alike. Each message is written
to `DIR/<arrival ns>-<n>.eml` through a temporary name and a rename, so a reader never
sees half a message. The file holds the bytes as received, CRLF and all, after two
prepended headers with the envelope: `X-Lab-Mail-From` and `X-Lab-Rcpt-To` (the
recipients, comma-separated; Bcc recipients appear only here).

No DNS: the server's name is given (`server_hostname`), so aiosmtpd does not call
`socket.getfqdn()`. SIGTERM or SIGINT stop it cleanly (exit 0).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SERVER_HOSTNAME = "sink.lab.example.test"
SUFFIX = ".eml"

log = logging.getLogger("adminkit.lab.smtp_sink")


class MaildirHandler:
    """aiosmtpd handler: store each message atomically as one `.eml` file."""

    def __init__(self, maildir: Path) -> None:
        self.maildir = maildir
        self._seq = itertools.count(1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.store(envelope.mail_from or "", list(envelope.rcpt_tos),
                   bytes(envelope.original_content or b""))
        return "250 OK"

    def store(self, mail_from: str, rcpt_tos: list[str], content: bytes) -> Path:
        head = (f"X-Lab-Mail-From: {mail_from}\r\n"
                f"X-Lab-Rcpt-To: {', '.join(rcpt_tos)}\r\n").encode()
        name = f"{time.time_ns():020d}-{next(self._seq):06d}{SUFFIX}"
        tmp = self.maildir / f".{name}.tmp"  # not *.eml: readers skip it
        with open(tmp, "wb") as out:
            out.write(head + content)
        final = self.maildir / name
        os.replace(tmp, final)
        log.info("stored %s for %s", name, ", ".join(rcpt_tos))
        return final


def serve(host: str, port: int, maildir: Path, tls: tuple[Path, Path] | None = None) -> None:
    """Run until SIGTERM/SIGINT. `tls` (certificate, key): offer STARTTLS with them."""
    import ssl

    from aiosmtpd.controller import Controller

    maildir.mkdir(parents=True, exist_ok=True)
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    # Block them before the server thread exists, so it inherits the mask and only the
    # main thread's sigwait() receives them.
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    options: dict[str, Any] = {}
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        options["tls_context"] = context
    controller = Controller(MaildirHandler(maildir), hostname=host, port=port,
                            server_hostname=SERVER_HOSTNAME, ready_timeout=10.0, **options)
    controller.start()
    log.warning("smtp sink listening on %s:%d, writing to %s", host, port, maildir)
    try:
        received = signal.sigwait(stop_signals)
        log.warning("got %s, stopping", signal.Signals(received).name)
    finally:
        controller.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m adminkit.lab.smtp_sink",
                                     description="The adminkit lab's SMTP sink.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2525)
    parser.add_argument("--maildir", type=Path, required=True)
    parser.add_argument("--tls-cert", type=Path, help="offer STARTTLS with this certificate")
    parser.add_argument("--tls-key", type=Path, help="... and this key")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    log.setLevel(logging.INFO)  # one line per stored message; aiosmtpd stays at WARNING
    serve(args.host, args.port, args.maildir,
          (args.tls_cert, args.tls_key) if args.tls_cert and args.tls_key else None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
