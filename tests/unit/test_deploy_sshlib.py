"""paramiko imported without invoke (deploy/sshlib.py), in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from adminkit.deploy import sshlib
paramiko = sshlib.load()
import paramiko.config
assert paramiko.config.invoke is None, "invoke was imported with paramiko"
assert "invoke" not in sys.modules, "invoke left blocked or imported"
assert sshlib.load() is paramiko
import invoke  # importable again for anyone else
print("ok", paramiko.SSHClient.__name__)
"""


def test_paramiko_without_invoke_and_invoke_importable_after() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok SSHClient"
