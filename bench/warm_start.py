"""The warm start: a trivial command cold, the same through a warm process, and
`python -c pass`, in paired rounds (median and spread of each, and of the ratios).

The command is `adminkit -p bench profile show bench` (start-up, a profile loaded and
validated, JSON out): what every command pays before its own work. The warm process
runs in a private runtime folder, started with `adminkit warm start` and stopped at
the end; every warm run is checked to have been served by it (its `served` count).
Also printed: the per-request check of the warm process (stat of every imported
adminkit file and entry-point file), from `warm status`.

Bytecode: adminkit's modules are compiled first and the timed processes run without
PYTHONDONTWRITEBYTECODE, as an installed package runs.

    python bench/warm_start.py [--rounds 15]

`running` (start, count what it serves, stop) is what the other benches' `--warm` use:
accounts_bulk, deploy_fleet, printing.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import adminkit


@dataclass
class Warm:
    """A warm process of a bench's own: `env` runs `ak` commands through it."""

    ak: list[str]
    env: dict[str, str]
    before: int = field(init=False)

    def __post_init__(self) -> None:
        self.count_from_here()

    def count_from_here(self) -> None:
        """Count the runs it serves from now on (not the page-cache rounds)."""
        self.before = served(self.ak, self.env)

    def check(self, expected: int, *, exact: bool = False) -> int:
        """SystemExit unless it served `expected` runs since counting (at least, unless
        `exact`): a run that went cold would be timed as warm."""
        ran = served(self.ak, self.env) - self.before
        if ran < expected or (exact and ran != expected):
            raise SystemExit(f"the warm process served {ran} of {expected} warm runs")
        return ran


@contextmanager
def running(ak: list[str], env: dict[str, str], folder: Path, *,
            enabled: bool = True) -> Iterator[Warm | None]:
    """A warm process for the block (None when not `enabled`: a bench's `--warm` off),
    its runtime folder a new one in `folder`; stopped at the end, whatever happens."""
    if not enabled:
        yield None
        return
    warm_env = runtime(env, Path(tempfile.mkdtemp(prefix="warm-", dir=folder)))
    try:  # a start that fails may have left its process up (its wait for `ready`
        # ran out, Ctrl-C during it), and the first count may fail: stopped all the same
        start(ak, warm_env)
        yield Warm(ak, warm_env)
    finally:
        stop(ak, warm_env)


def runtime(env: dict[str, str], folder: Path) -> dict[str, str]:
    """The environment in which `ak` commands use a warm process whose socket is in
    `folder`/warm-run (cold runs keep `env`: no runtime folder of ours)."""
    run = folder / "warm-run"
    run.mkdir(mode=0o700)
    warm = {k: v for k, v in env.items() if k != "ADMINKIT_WARM"}
    warm["XDG_RUNTIME_DIR"] = str(run)
    return warm


def start(ak: list[str], warm: dict[str, str]) -> None:
    """Start a warm process in the environment `runtime` made; SystemExit saying why not
    (its stderr: a runtime folder too deep for a socket's path, say)."""
    done = subprocess.run([*ak, "warm", "start", "--idle", "10m"], env=warm,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"`adminkit warm start` failed (exit {done.returncode}): "
                         f"{done.stderr.strip() or done.stdout.strip()}")


def status(ak: list[str], warm: dict[str, str]) -> dict[str, object]:
    out = subprocess.run([*ak, "warm", "status", "-o", "json"], capture_output=True,
                         env={**warm, "ADMINKIT_WARM": "0"}, check=True).stdout
    answer: dict[str, object] = json.loads(out)
    return answer


def served(ak: list[str], warm: dict[str, str]) -> int:
    count = status(ak, warm).get("served", -1)
    return count if isinstance(count, int) else -1


def stop(ak: list[str], warm: dict[str, str]) -> None:
    subprocess.run([*ak, "warm", "stop"], env={**warm, "ADMINKIT_WARM": "0"},
                   capture_output=True, check=False)


def timed(argv: list[str], env: dict[str, str]) -> float:
    begun = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   check=True)
    return time.perf_counter() - begun


def spread(name: str, values: list[float], unit: str = "s") -> str:
    return (f"{name}: median {statistics.median(values):.3f} {unit} "
            f"(range {min(values):.3f}-{max(values):.3f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    compileall.compile_dir(str(Path(adminkit.__file__).parent), quiet=1)
    tmp = Path(tempfile.mkdtemp(prefix="adminkit-bench-warm-"))
    (tmp / "config" / "profiles").mkdir(parents=True)
    (tmp / "config" / "profiles" / "bench.yaml").write_text("description: warm bench\n")
    env = {**os.environ, "ADMINKIT_CONFIG": str(tmp / "config"), "ADMINKIT_SYSLOG": "off",
           "ADMINKIT_JOURNAL": str(tmp / "journal.db")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    exe = Path(sys.executable).with_name("adminkit")
    ak = [str(exe)] if exe.exists() else [sys.executable, "-m", "adminkit.cli.main"]
    command = [*ak, "-p", "bench", "profile", "show", "bench"]
    print(f"load before: {os.getloadavg()[0]:.2f}")
    with running(ak, env, tmp) as process:
        assert process is not None
        warm = process.env
        for _ in range(2):  # page cache
            timed(command, env), timed(command, warm)
        process.count_from_here()
        cold: list[float] = []
        hot: list[float] = []
        bare: list[float] = []
        for _ in range(args.rounds):
            bare.append(timed([sys.executable, "-c", "pass"], env))
            cold.append(timed(command, env))
            hot.append(timed(command, warm))
        process.check(args.rounds, exact=True)
        info = status(ak, warm)
    print(f"`{' '.join(command[len(ak):])}`, {args.rounds} paired rounds, bytecode compiled")
    print(spread("  cold", cold))
    print(spread("  warm", hot))
    print(spread("  python -c pass", bare))
    print(spread("  cold / warm", [c / h for c, h in zip(cold, hot, strict=True)], "x"))
    print(spread("  warm / python -c pass", [h / b for h, b in zip(hot, bare, strict=True)],
                 "x"))
    print(f"  the warm process's check per request: {info.get('check_ms')} ms "
          f"({info.get('files_watched')} files)")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
