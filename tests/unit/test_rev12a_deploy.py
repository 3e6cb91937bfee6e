"""rev12a: deploy's hostile values and odd files, found by breaking it on purpose."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pydantic
import pytest

# A fresh interpreter (no test's log handlers): a host that takes the TCP connection and
# closes it before its banner, as a dead sshd or a port that is no SSH server does.
BANNERLESS = """
import socket, sys, threading
from pathlib import Path
from adminkit.core.errors import AdminkitError
from adminkit.deploy.settings import HostConfig, SSHSettings
from adminkit.deploy.ssh import SSHBackend

server = socket.create_server(("127.0.0.1", 0))

def serve():
    peer, _ = server.accept()
    peer.close()

threading.Thread(target=serve, daemon=True).start()
host = HostConfig(name="h1", address="127.0.0.1", port=server.getsockname()[1])
try:
    SSHBackend(host, SSHSettings(user="u", known_hosts=Path(sys.argv[1]), timeout=10))
except AdminkitError as exc:
    print(type(exc).__name__, exc.message)
"""


def test_a_login_failing_in_paramikos_thread_prints_no_traceback(tmp_path: Path) -> None:
    """paramiko logs the failed handshake's traceback from its transport thread; with no
    handler, Python printed it on the user's terminal beside adminkit's own message."""
    known = tmp_path / "known_hosts"
    known.write_text("")
    done = subprocess.run([sys.executable, "-c", BANNERLESS, str(known)], capture_output=True,
                          text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ConnectionFailed host h1 (127.0.0.1): ")
    assert done.stderr == ""


@pytest.mark.parametrize("value", [math.inf, 1e300, math.nan, 0, -1])
def test_an_endless_or_huge_time_is_refused_before_any_host(value: float) -> None:
    """`host run --timeout inf` (or the profile's deadline or login timeout as `.inf` or
    1e300) was taken, then failed each host once connected: `timeout` on the host cannot
    be given infinity (OverflowError, exit 1), nor a socket 1e300 s."""
    from adminkit.deploy.actions.run import RunParams
    from adminkit.deploy.settings import InventoryConfig, SSHSettings

    with pytest.raises(pydantic.ValidationError):
        RunParams(host="h1", argv=["true"], timeout=value)
    with pytest.raises(pydantic.ValidationError):
        InventoryConfig(deadline=value)
    with pytest.raises(pydantic.ValidationError):
        SSHSettings(user="u", known_hosts=Path("/k"), timeout=value)
    assert RunParams(host="h1", argv=["true"], timeout=86400).timeout == 86400
    assert InventoryConfig(deadline=86400).deadline == 86400
