"""Scripts on one Windows host: adminkit's WinRM session against plain pywinrm.

adminkit runs N scripts through one session (one TLS connection, one NTLM login, one
shell, each script a Command + Send + Receive + Signal). The anchor is what a pywinrm
user writes: `winrm.Session(...).run_ps(script)` per script, which opens a shell, runs
the command and deletes the shell, and after the Delete closes its HTTP session, so each
script redoes TCP, TLS and NTLM. Both talk HTTPS to the lab's WinRM fake (started in this
process, NTLM), the same script (the transport's probe) each time.

Rounds alternate the two; each prints the median and quartiles of its per-round times
and the ratio of medians. The fake shares this process (and the GIL) with the client, so
absolute times are not a real host's; the ratio is what to read.

    python bench/winrm_scripts.py [--rounds 9] [--scripts 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from adminkit.core.secrets import Secret
from adminkit.core.winrm import WinRMSession, WinRMTarget, load_script
from adminkit.lab.smtp import make_tls
from adminkit.lab.winrm_fake import FakeHost, FakeServer, load_models, write_users

USER, PASSWORD = "bench", "Bench-Winrm-Pass-1"


def adminkit_round(target: WinRMTarget, n: int) -> float:
    script = load_script("adminkit.core.winrm.ps", "probe")
    started = time.perf_counter()
    session = WinRMSession(target)
    try:
        for i in range(n):
            assert session.run_script(script, {"echo": i})["echo"] == i
    finally:
        session.close()
    return time.perf_counter() - started


def pywinrm_round(url: str, ca: Path, n: int) -> float:
    import winrm

    text = load_script("adminkit.core.winrm.ps", "probe").text
    started = time.perf_counter()
    session = winrm.Session(url, auth=(USER, PASSWORD), transport="ntlm",
                            server_cert_validation="validate", ca_trust_path=str(ca))
    for _ in range(n):
        session.run_ps(text)  # the fake runs adminkit's frame only: the exchange is the same
    return time.perf_counter() - started


def spread(times: list[float]) -> str:
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [times[0]] * 3
    return f"median {statistics.median(times):.3f} s (quartiles {q[0]:.3f}-{q[2]:.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--scripts", type=int, default=20)
    args = parser.parse_args()
    load_models()
    with tempfile.TemporaryDirectory() as folder:
        tls = Path(folder)
        make_tls(tls, ca_name="adminkit bench WinRM CA")
        os.environ["NTLM_USER_FILE"] = str(write_users(tls / "users", {USER: PASSWORD}))
        host = FakeHost("bench", {USER: PASSWORD}, receive_wait=0.05)
        with FakeServer(host, cert=tls / "sink.pem", key=tls / "sink.key") as server:
            target = WinRMTarget("bench", "127.0.0.1", USER, Secret(PASSWORD),
                                 port=server.port, ca_file=tls / "ca.pem")
            ours: list[float] = []
            anchor: list[float] = []
            for _ in range(args.rounds):
                ours.append(adminkit_round(target, args.scripts))
                anchor.append(pywinrm_round(server.url, tls / "ca.pem", args.scripts))
            shells = len(host.deleted)
    print(f"{args.scripts} scripts on one host, {args.rounds} paired rounds, load "
          f"{os.getloadavg()[0]:.2f}")
    print(f"  adminkit (one session, one shell): {spread(ours)}")
    print(f"  pywinrm run_ps (a shell each):     {spread(anchor)}")
    print(f"  ratio adminkit / pywinrm: {statistics.median(ours) / statistics.median(anchor):.2f}"
          f"  (shells deleted: {shells})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
