"""The TCP socket an SSH login runs on: no Nagle, and ACKs sent at once.

An SSH login and a command are a chain of small request/answer packets. With the
kernel's defaults two of them stall for the peer's delayed-ACK timer (about 40 ms on
Linux) each: our own small writes wait for an ACK (Nagle), and after the login sshd's
answer to the channel open waits behind the host-keys notice it sent unasked, which our
side has not ACKed yet. Measured on the lab fleet: 120 ms a login and command with the
defaults, 30-40 ms with TCP_NODELAY and TCP_QUICKACK (re-armed after every read, as
the kernel drops it by itself). Nothing in the SSH protocol changes.
"""

from __future__ import annotations

import contextlib
import socket

# Linux only; elsewhere only TCP_NODELAY is set.
QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


class QuickAckSocket(socket.socket):
    """A TCP socket that ACKs what it reads at once (paramiko reads it with `recv`)."""

    def recv(self, bufsize: int, flags: int = 0, /) -> bytes:
        data = super().recv(bufsize, flags)
        if QUICKACK is not None and data:
            with contextlib.suppress(OSError):  # closed under us: the next read says so
                self.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        return data


def connect(address: str, port: int, timeout: float) -> socket.socket:
    """A connected socket to `address`:`port` (each address it resolves to in turn, as
    socket.create_connection does), with TCP_NODELAY set. OSError when none answers;
    a socket not returned is closed whatever stopped it."""
    last: OSError | None = None
    for family, kind, proto, _, target in socket.getaddrinfo(address, port,
                                                             type=socket.SOCK_STREAM):
        sock = QuickAckSocket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.connect(target)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        except BaseException:  # Ctrl-C mid-connect: the socket is not left to the exit
            sock.close()
            raise
        return sock
    raise last or OSError(f"{address} resolves to no address")
