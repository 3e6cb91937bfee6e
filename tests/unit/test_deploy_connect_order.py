"""An SSH login's TCP connection is made before paramiko is imported, and closed when the
login fails before a client took it (deploy/ssh.py), against a real local TCP server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from adminkit.core.errors import UsageError
from adminkit.deploy.settings import HostConfig, SSHSettings
from adminkit.deploy.ssh import SSHBackend

# In a fresh interpreter (paramiko not imported yet): when paramiko's import starts, has
# the host already been connected to? The server then ends the connection unanswered.
ORDER = """
import importlib.abc, json, socket, sys, threading, time
from pathlib import Path

server = socket.create_server(("127.0.0.1", 0))
accepted = threading.Event()
seen = {}

def serve():
    peer, _ = server.accept()
    accepted.set()
    while "paramiko.client" not in sys.modules:
        time.sleep(0.01)
    peer.close()  # no banner: the login fails once paramiko is in

threading.Thread(target=serve, daemon=True).start()

class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "paramiko" and "connected" not in seen:
            seen["connected"] = accepted.wait(5)
        return None

sys.meta_path.insert(0, Watch())
from adminkit.core.errors import AdminkitError
from adminkit.deploy.settings import HostConfig, SSHSettings
from adminkit.deploy.ssh import SSHBackend

host = HostConfig(name="h1", address="127.0.0.1", port=server.getsockname()[1])
ssh = SSHSettings(user="u", known_hosts=Path(sys.argv[1]), timeout=10)
try:
    SSHBackend(host, ssh)
    error = None
except AdminkitError as exc:
    error = type(exc).__name__
print(json.dumps({"connected_first": seen.get("connected"), "error": error}))
"""


def test_the_host_is_connected_to_before_paramiko_is_imported(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    done = subprocess.run([sys.executable, "-c", ORDER, str(known)], capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"connected_first": True, "error": "ConnectionFailed"}


def test_a_login_failing_before_the_client_took_the_socket_closes_it(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    with socket.create_server(("127.0.0.1", 0)) as server:
        host = HostConfig(name="h1", address="127.0.0.1", port=server.getsockname()[1])
        ssh = SSHSettings(user="u", known_hosts=known, key_file=tmp_path / "missing", timeout=10)
        with pytest.raises(UsageError, match="key_file"):
            SSHBackend(host, ssh)
        server.settimeout(10)
        peer, _ = server.accept()  # connected to: the key is read after the socket
        with peer:
            peer.settimeout(10)
            assert peer.recv(64) == b""  # closed by us, not left to the garbage collector


def test_a_missing_known_hosts_is_a_usage_error_and_no_host_is_contacted(tmp_path: Path
                                                                        ) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        ssh = SSHSettings(user="u", known_hosts=tmp_path / "missing", timeout=10)
        with pytest.raises(UsageError, match="known_hosts"):
            SSHBackend(HostConfig(name="h1", address="127.0.0.1", port=port), ssh)
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody connected: a loopback connect is queued before it returns
    # nothing listening there now: still the profile's error (exit 2), not the host's (3)
    with pytest.raises(UsageError, match="known_hosts"):
        SSHBackend(HostConfig(name="h1", address="127.0.0.1", port=port), ssh)
