"""paramiko imported without invoke (deploy/sshlib.py), in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

CHECK = """
import sys
from typing import Any
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


WITHOUT_METADATA = """
import sys, threading
from adminkit.deploy import sshlib
got = []
threads = [threading.Thread(target=lambda: got.append(sshlib.load())) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
assert len(got) == 8 and all(m is got[0] for m in got), "one paramiko for every thread"
assert "importlib.metadata" not in sys.modules, "importlib.metadata was imported"
assert "email" not in sys.modules, "the e-mail parser was imported"
version = got[0].__version__
import importlib.metadata
assert version == importlib.metadata.version("paramiko"), (version,)
print("ok", version)
"""

def _fresh(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_paramiko_without_importlib_metadata_and_with_its_own_version() -> None:
    import importlib.metadata

    assert _fresh(WITHOUT_METADATA) == f"ok {importlib.metadata.version('paramiko')}"


def test_installed_version_agrees_with_importlib_metadata_for_every_distribution() -> None:
    import importlib.metadata

    from adminkit.deploy.sshlib import installed_version

    checked = 0
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        found = installed_version(name)
        if found is not None:  # None: it defers to importlib.metadata
            assert found == importlib.metadata.version(name), name
            checked += 1
    assert checked > 20
    assert installed_version("no-such-distribution-adminkit") is None


def test_the_stand_in_hands_anything_else_to_the_real_module(monkeypatch: Any) -> None:
    """As in load(): the stand-in only where importlib.metadata was not imported yet."""
    import importlib
    import importlib.metadata as real

    from adminkit.deploy import sshlib

    expected = real.version("paramiko")
    monkeypatch.setattr(importlib, "metadata", real)  # restored after: a fresh copy loads
    monkeypatch.delitem(sys.modules, "importlib.metadata")
    stand_in = sshlib._metadata_stand_in()
    sys.modules["importlib.metadata"] = stand_in
    assert stand_in.version("paramiko") == expected
    assert sys.modules["importlib.metadata"] is stand_in  # paramiko's answer: no real module
    loaded = stand_in.PackageNotFoundError  # anything else: the real module, loaded now
    now = sys.modules["importlib.metadata"]
    assert now is not stand_in and loaded is now.PackageNotFoundError
    assert stand_in.entry_points is now.entry_points
    assert stand_in.version("pydantic") == real.version("pydantic")
    monkeypatch.setitem(sys.modules, "importlib.metadata", real)
