"""rev8a: a pool of CSPRNG bytes read before a fork is never handed out again, even when
the PID it was read under comes back (PID reuse: the parent exited and a grandchild got
its number). Reproduced for real in a PID namespace of its own, where ns_last_pid picks
the next PID."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HELPER = textwrap.dedent("""
    import os, sys, time
    from adminkit.accounts import passwords
    out = sys.argv[1]
    passwords.generate()                    # M reads its pool under its PID
    m = os.getpid()
    r, w = os.pipe()
    if os.fork() == 0:                      # C: never draws, keeps M's pool (pid == M)
        os.close(w)
        os.read(r, 1)                       # M has exited: its PID is free
        for _ in range(1000):               # M's PID is free once sh has reaped it:
            time.sleep(0.01)                # a loaded machine may take a while
            with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                f.write(str(m - 1))
            g = os.fork()
            if g == 0:                      # G: got M's PID back, so draws
                if os.getpid() == m:
                    with open(out + ".g", "w") as f:
                        f.write(passwords.generate().reveal())
                os._exit(0)
            os.waitpid(g, 0)
            if g == m:
                break
        os._exit(0)
    os.close(r)
    with open(out + ".m", "w") as f:        # M's next password: the bytes after the first
        f.write(passwords.generate().reveal())
    os._exit(0)                             # closes w: C goes on
""")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare(1) for a PID namespace of its own")
def test_a_pool_read_before_a_fork_is_not_reused_when_its_pid_comes_back(
        tmp_path: Path) -> None:
    script = tmp_path / "helper.py"
    script.write_text(HELPER)
    out = tmp_path / "pw"
    # sh is the namespace's PID 1 and waits for everyone; the helper is M.
    subprocess.run(["unshare", "--pid", "--fork", "sh", "-c",
                    f'"{sys.executable}" "{script}" "{out}"; sleep 1; wait'],
                   check=True, timeout=60, env={**os.environ})
    mine, grandchild = Path(f"{out}.m"), Path(f"{out}.g")
    assert mine.exists()
    assert grandchild.exists(), "the grandchild never got the parent's PID back"
    assert mine.read_text() != grandchild.read_text()
