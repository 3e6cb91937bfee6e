"""Start-up time: `adminkit --help` against `python -c pass` and `ansible --version`.

Absolute times vary 2-9x on shared machines, so the commands are measured in one run,
interleaved, and compared as ratios of their medians; the spread (quartiles) says how
steady the machine was. `adminkit account --help` shows what invoking one group costs.
Ansible is installed into its own virtual environment (bench/.venv-ansible) on first
use, never into adminkit's.

    python bench/startup.py [--rounds 15] [--no-ansible]

Bytecode: adminkit's modules are compiled first (`compileall`) and the commands run
without PYTHONDONTWRITEBYTECODE, as an installed package runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ANSIBLE_VENV = HERE / ".venv-ansible"


def adminkit_cmd(*args: str) -> list[str]:
    exe = Path(sys.executable).with_name("adminkit")
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "adminkit.cli.main",
                                                    *args]


def ansible_cmd() -> list[str] | None:
    exe = ANSIBLE_VENV / "bin" / "ansible"
    if not exe.exists():
        print("installing ansible-core into bench/.venv-ansible (once)…", file=sys.stderr)
        try:
            subprocess.run([sys.executable, "-m", "venv", str(ANSIBLE_VENV)], check=True)
            subprocess.run([str(ANSIBLE_VENV / "bin" / "pip"), "install", "-q", "ansible-core"],
                           check=True)
        except subprocess.CalledProcessError:
            shutil.rmtree(ANSIBLE_VENV, ignore_errors=True)
            return None
    return [str(exe), "--version"]


def once(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-ansible", action="store_true", help="do not measure ansible")
    args = parser.parse_args()
    import adminkit

    subprocess.run([sys.executable, "-m", "compileall", "-q",
                    str(Path(adminkit.__file__).parent)], check=False)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    commands = {"python -c pass": [sys.executable, "-c", "pass"],
                "adminkit --help": adminkit_cmd("--help"),
                "adminkit account --help": adminkit_cmd("account", "--help")}
    ansible = None if args.no_ansible else ansible_cmd()
    if ansible:
        commands["ansible --version"] = ansible
    for cmd in commands.values():  # warm the page cache and .pyc files
        once(cmd)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, cmd in commands.items():
            times[name].append(once(cmd))
    med = {name: statistics.median(values) for name, values in times.items()}
    print(f"{'command':<24} {'median s':>9} {'q1 s':>7} {'q3 s':>7} {'min s':>7}")
    for name, values in times.items():
        q1, _q2, q3 = statistics.quantiles(values, n=4)
        print(f"{name:<24} {med[name]:>9.3f} {q1:>7.3f} {q3:>7.3f} {min(values):>7.3f}")
    ak = med["adminkit --help"]
    print(f"\nadminkit --help / python -c pass   = {ak / med['python -c pass']:.1f}x")
    if "ansible --version" in med:
        print(f"adminkit --help / ansible --version = {ak / med['ansible --version']:.2f}x"
              "  (goal: < 0.5)")
    else:
        print("ansible --version: not measured (" + ("--no-ansible" if args.no_ansible else
                                                    "ansible-core could not be installed")
              + ")")
    print(f"adminkit --help median {ak:.3f}s (goal: < 0.1 s)")


if __name__ == "__main__":
    main()
