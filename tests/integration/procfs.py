"""Reading /proc in tests: which process really holds a listening socket."""

from __future__ import annotations

import os
from pathlib import Path


def listener_inode(port: int) -> str:
    """The inode of the socket listening on 127.0.0.1:PORT, from /proc/net/tcp."""
    want = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == want and fields[3] == "0A":  # 0A: LISTEN
            return fields[9]
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def socket_inodes(pid: int) -> set[str]:
    fd_dir = Path(f"/proc/{pid}/fd")
    links = (os.readlink(fd_dir / fd) for fd in os.listdir(fd_dir))
    return {link[len("socket:["):-1] for link in links if link.startswith("socket:[")}
