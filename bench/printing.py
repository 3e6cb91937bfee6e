"""Print queues: adminkit against the CUPS command-line tools, on private cupsd instances.

Three comparisons, each in paired rounds (anchor and adminkit alternating), reported as
the median and spread of the per-round ratios. Only ratios within one run mean anything
on a shared machine.

1. `queue purge` of N held jobs (default 2,000), the whole adminkit process, against
   `cancel -a` on the same queue (the queue refilled and the server reset between);
   also the same server work in the process, and a run that has nothing to do (the
   fixed cost of any adminkit run: start-up, profile, journal).
2. `job list` of N held jobs, the whole process (`-o csv` and the default table),
   against `lpstat -o`.
3. Listing the queues of S print servers (default 20) side by side, against the
   slowest of the same servers listed alone: in the process (the same backend calls;
   also against listing them one after another), and as whole `printer list`
   processes. The S cupsd processes answer on the same cores as the client.

4. `floor` (not in the default set): what no adminkit command can go below on this
   machine. `cancel -a` against an exact purge in a bare Python process (the plan's
   listing of the queue, four attributes, read whole, and one Cancel-Jobs with the
   ids: no typer, no pydantic, no journal), with cupsd's own CPU for each request
   (/proc/PID/schedstat); `lpstat -o` against a Python that only imports what every
   adminkit command imports (typer, which validates options with pydantic; PyYAML;
   pycups) and against `python -c pass`.

Each comparison also prints its floor, the same kind of adminkit process with nothing
to do (start-up, profile, journal), so that what printing itself costs shows apart
from the start-up every command pays. adminkit's modules are compiled first and the
timed processes may write bytecode, as an installed adminkit has it.

The servers are extra cupsd instances on 127.0.3.1..S:6310 (adminkit.lab.cups
`extra_instance`), started and stopped by PID, their state under a temporary folder.
Needs root (cupsd) and ipptool (cups-ipp-utils).

    python bench/printing.py [--jobs 2000] [--servers 20] [--rounds 5] [--parts list] [--warm]

`--warm` adds to `list` and `purge` the same `job list` and `queue purge` run through a
warm process (`adminkit warm start`, bench/warm_start.py), printed apart from the cold
figure, in the same rounds.

`--parts` picks comparisons (purge, list, servers, floor; default the first three):
`--parts list --servers 1` measures `job list` alone on one cupsd, a short run for
start-up work; `--parts floor --servers 1` the floors.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

import adminkit
from adminkit.lab.cups import CupsServer, extra_instance
from adminkit.printing.servers import open_server
from adminkit.printing.settings import PrintServerConfig

HELD_JOB = """{
  NAME "held job"
  OPERATION Print-Job
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR language attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR name requesting-user-name $user
  ATTR name job-name "bench job"
  ATTR mimeMediaType document-format text/plain
  GROUP job-attributes-tag
  ATTR keyword job-hold-until indefinite
  FILE $filename
  STATUS successful-ok
}
"""


def fill(server: CupsServer, n: int, tmp: Path, queue: str = "front-desk") -> None:
    """N held jobs in one ipptool run (it exits 0 even if some fail: counted after)."""
    test, doc = tmp / "held-job.test", tmp / "doc.txt"
    if not test.exists():
        test.write_text(HELD_JOB)
        doc.write_text("bench page\n" * 20)
    subprocess.run(["ipptool", "-q", "-i", "0.000001", "-n", str(n), "-f", str(doc),
                    f"ipp://{server.host}:{server.port}/printers/{queue}", str(test)],
                   check=False, capture_output=True)
    got = count(server)
    if got < n:
        raise SystemExit(f"{server.host}: {got} of {n} jobs submitted")


def count(server: CupsServer) -> int:
    jobs = server.connection().getJobs(which_jobs="not-completed", requested_attributes=["job-id"])
    return len(jobs)


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    r = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:6])}…: exit {r.returncode}: {r.stderr[-400:]}")
    return elapsed


def say(what: str, pairs: list[tuple[float, float]], anchor: str) -> None:
    ratios = [a / b for b, a in pairs]
    ours = [a for _, a in pairs]
    theirs = [b for b, _ in pairs]
    print(f"{what}: adminkit median {statistics.median(ours):.3f} s "
          f"(range {min(ours):.3f}-{max(ours):.3f}), {anchor} median "
          f"{statistics.median(theirs):.3f} s (range {min(theirs):.3f}-{max(theirs):.3f}); "
          f"ratio median {statistics.median(ratios):.2f}x "
          f"(range {min(ratios):.2f}-{max(ratios):.2f}, {len(pairs)} paired rounds)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--servers", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--parts", default="purge,list,servers",
                    help="comparisons to run, comma-separated: purge, list, servers, floor")
    ap.add_argument("--warm", action="store_true",
                    help="list, purge: also time them through a warm process")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    if not parts or parts - {"purge", "list", "servers", "floor"}:
        ap.error(f"--parts: choose from purge, list, servers, floor (got {args.parts!r})")
    tmp = Path(tempfile.mkdtemp(prefix="adminkit-bench-print-"))
    tmp.chmod(0o755)  # cupsd's filters run as lp and walk in (see lab/cups.py)
    servers = [extra_instance(tmp / "lab", n) for n in range(1, args.servers + 1)]
    config = tmp / "config"
    (config / "profiles").mkdir(parents=True)
    entries = [{"name": f"p{n}", "kind": "cups", "host": s.host, "port": s.port}
               for n, s in enumerate(servers, 1)]
    (config / "profiles" / "bench.yaml").write_text(yaml.safe_dump(
        {"description": "print bench", "print_servers": entries}))
    env = {**os.environ, "ADMINKIT_CONFIG": str(config),
           "ADMINKIT_JOURNAL": str(tmp / "journal.db"), "ADMINKIT_SYSLOG": "off",
           "ADMINKIT_JOURNAL_KEY": f"file:{tmp / 'journal.key'}"}
    # measured as installed: with bytecode (pip writes .pyc files; without them every
    # process compiles adminkit's modules from source, about 0.09 s)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    compileall.compile_dir(str(Path(adminkit.__file__).parent), quiet=1)
    ak = [sys.executable, "-m", "adminkit.cli.main", "-p", "bench"]
    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(_up, servers))
        print(f"{len(servers)} cupsd instances up in {time.perf_counter() - start:.1f} s; "
              f"load: {os.getloadavg()[0]:.2f}")
        first = servers[0]
        host = f"{first.host}:{first.port}"

        purge: list[tuple[float, float]] = []
        inner: list[tuple[float, float]] = []
        hot: list[tuple[float, float]] = []
        floor: list[float] = []
        import warm_start  # bench/warm_start.py

        with warm_start.running(ak[:-2], env, tmp,
                                enabled=args.warm and "purge" in parts) as warm:
            for _ in range(args.rounds if "purge" in parts else 0):
                # what any adminkit run costs: start-up, profile, journal, one IPP read
                floor.append(timed([*ak, "printer", "resume", "front-desk", "-s", "p1"], env))
                first.reset()
                fill(first, args.jobs, tmp)
                anchor = timed(["cancel", "-h", host, "-a", "front-desk"])
                assert count(first) == 0
                first.reset()
                fill(first, args.jobs, tmp)
                ours = timed([*ak, "queue", "purge", "front-desk", "--force"], env)
                assert count(first) == 0
                purge.append((anchor, ours))
                first.reset()
                fill(first, args.jobs, tmp)
                inner.append((anchor, _purge_in_process(PrintServerConfig(**entries[0]))))
                assert count(first) == 0
                if warm is not None:
                    first.reset()
                    fill(first, args.jobs, tmp)
                    hot.append((anchor, timed([*ak, "queue", "purge", "front-desk", "--force"],
                                              warm.env)))
                    assert count(first) == 0
            if warm is not None:
                warm.check(args.rounds, exact=True)
        if "purge" in parts:
            say(f"queue purge of {args.jobs} jobs", purge, "cancel -a")
            say("  the same purge in the process (plan's job listing + the purge request)",
                inner, "cancel -a (whole process)")
            if hot:
                say(f"  warm: queue purge of {args.jobs} jobs", hot, "cancel -a")
            print(f"  floor: a run with nothing to do (`printer resume` of an idle queue): "
                  f"median {statistics.median(floor):.3f} s "
                  f"(range {min(floor):.3f}-{max(floor):.3f})")
        if "list" in parts:
            _listing(args, ak, env, first, host, tmp)
        if "servers" in parts:
            _side_by_side(args, ak, env, servers, entries, tmp)
        if "floor" in parts:
            _floors(args, env, first, host, tmp)
        print(f"load after: {os.getloadavg()[0]:.2f}")
    finally:
        for server in servers:
            server.stop()


def _listing(args: argparse.Namespace, ak: list[str], env: dict[str, str], first: CupsServer,
             host: str, tmp: Path) -> None:
    """`job list` of N held jobs, -o csv and the table, against `lpstat -o`."""
    first.reset()  # the same command on an empty server: start-up, profile, a request
    list_floor = [timed([*ak, "-o", "csv", "job", "list", "--server", "p1"], env)
                  for _ in range(args.rounds)]
    fill(first, args.jobs, tmp)
    listing: dict[str, list[tuple[float, float]]] = {"csv": [], "table": []}
    hot: dict[str, list[tuple[float, float]]] = {"csv": [], "table": []}
    import warm_start  # bench/warm_start.py

    with warm_start.running(ak[:-2], env, tmp, enabled=args.warm) as warm:
        for _ in range(args.rounds):
            for fmt, rows in listing.items():
                anchor = timed(["lpstat", "-h", host, "-o"])
                ours = timed([*ak, "-o", fmt, "job", "list", "--server", "p1"], env)
                rows.append((anchor, ours))
                if warm is not None:
                    hot[fmt].append((anchor, timed([*ak, "-o", fmt, "job", "list", "--server",
                                                    "p1"], warm.env)))
        if warm is not None:
            warm.check(2 * args.rounds, exact=True)
    for fmt, rows in listing.items():
        say(f"job list of {args.jobs} jobs (-o {fmt})", rows, "lpstat -o")
        if args.warm:
            say(f"  warm: job list of {args.jobs} jobs (-o {fmt})", hot[fmt], "lpstat -o")
    print(f"  floor: `job list` of an empty server: median "
          f"{statistics.median(list_floor):.3f} s "
          f"(range {min(list_floor):.3f}-{max(list_floor):.3f})")
    first.reset()


def _side_by_side(args: argparse.Namespace, ak: list[str], env: dict[str, str],
                  servers: list[CupsServer], entries: list[dict[str, Any]],
                  tmp: Path) -> None:
    """`printer list` on every server side by side, against the slowest alone."""
    for server in servers:
        fill(server, 100, tmp)
    configs = [PrintServerConfig(**e) for e in entries]
    inproc: list[tuple[float, float]] = []
    whole: list[tuple[float, float]] = []
    serial: list[tuple[float, float]] = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        slowest = max(_list_one(c) for c in configs)
        one_by_one = time.perf_counter() - start
        start = time.perf_counter()
        with ThreadPoolExecutor(len(configs)) as pool:
            list(pool.map(_list_one, configs))
        inproc.append((slowest, time.perf_counter() - start))
        serial.append((one_by_one, inproc[-1][1]))
        alone = max(timed([*ak, "-o", "csv", "printer", "list", "--server", c.name], env)
                    for c in configs)
        whole.append((alone, timed([*ak, "-o", "csv", "printer", "list"], env)))
    say(f"printer list on {len(configs)} servers side by side, in the process", inproc,
        "the slowest server alone")
    say("  the same, side by side against one after another", serial,
        "one after another")
    say(f"printer list on {len(configs)} servers, whole process", whole,
        "the slowest `printer list --server` alone")


# An exact purge with nothing else: the queue's jobs (what choosing them needs), then one
# Cancel-Jobs with their ids, written whole, as `queue purge` sends them (no pycups).
BARE_PURGE = """
import getpass, sys
from adminkit.printing import ipp, ippread
host, port = sys.argv[1], int(sys.argv[2])
uri = "ipp://localhost/printers/front-desk"
jobs = ippread.get_jobs(host, port, uri, "not-completed",
                        ["job-id", "job-originating-user-name", "job-state", "time-at-creation"])
assert ipp.cancel_jobs_whole(host, port, uri, getpass.getuser(), sorted(jobs))
"""
EVERY_COMMAND = "import typer, typer.main, typer._adapters, yaml, cups"


def _cpu_ns(pid: int) -> int:
    """The CPU time a process has had, in ns (schedstat: finer than /proc/PID/stat)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def _floors(args: argparse.Namespace, env: dict[str, str], first: CupsServer, host: str,
            tmp: Path) -> None:
    """`cancel -a` against a bare exact purge; `lpstat -o` against bare imports."""
    py = sys.executable
    purge: list[tuple[float, float]] = []
    bare_purge = "the bare purge (its listing and Cancel-Jobs)"
    server_ms: dict[str, list[float]] = {"cancel -a": [], "the listing": [], bare_purge: []}
    for _ in range(args.rounds):
        first.reset()
        fill(first, args.jobs, tmp)
        [cupsd] = [p.pid for p in first.running_procs()]
        before = _cpu_ns(cupsd)
        anchor = timed(["cancel", "-h", host, "-a", "front-desk"])
        server_ms["cancel -a"].append((_cpu_ns(cupsd) - before) / 1e6)
        assert count(first) == 0
        first.reset()
        fill(first, args.jobs, tmp)
        [cupsd] = [p.pid for p in first.running_procs()]
        before = _cpu_ns(cupsd)
        purge.append((anchor, timed([py, "-c", BARE_PURGE, first.host, str(first.port)],
                                    env)))
        server_ms[bare_purge].append((_cpu_ns(cupsd) - before) / 1e6)
        assert count(first) == 0
        fill(first, args.jobs, tmp)  # the listing alone, as the purge's plan asks it
        before = _cpu_ns(cupsd)
        from adminkit.printing import ippread

        ippread.get_jobs(first.host, first.port, "ipp://localhost/printers/front-desk",
                         "not-completed", ["job-id", "job-originating-user-name",
                                           "job-state", "time-at-creation"])
        server_ms["the listing"].append((_cpu_ns(cupsd) - before) / 1e6)
    for what, values in server_ms.items():
        print(f"  cupsd's CPU for {what}: median {statistics.median(values):.1f} ms "
              f"(range {min(values):.1f}-{max(values):.1f})")
    say(f"floor: an exact purge of {args.jobs} jobs in a bare Python process", purge,
        "cancel -a")
    first.reset()
    fill(first, args.jobs, tmp)
    imports: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    for _ in range(args.rounds):
        anchor = timed(["lpstat", "-h", host, "-o"])
        imports.append((anchor, timed([py, "-c", EVERY_COMMAND], env)))
        bare.append((anchor, timed([py, "-c", "pass"], env)))
    say(f"floor: importing what every adminkit command imports ({EVERY_COMMAND[7:]})",
        imports, f"lpstat -o of {args.jobs} jobs")
    say("floor: python -c pass", bare, f"lpstat -o of {args.jobs} jobs")
    first.reset()


def _up(server: CupsServer) -> None:
    server.setup()
    if not server.is_running():
        server.start()
    server.wait_ready()


def _purge_in_process(cfg: PrintServerConfig) -> float:
    """What `queue purge` asks of the server, without adminkit's start-up and journal."""
    start = time.perf_counter()
    server = open_server(cfg)
    try:
        jobs = server.jobs("front-desk", brief=True)
        server.purge("front-desk", [j.id for j in jobs])
    finally:
        server.close()
    return time.perf_counter() - start


def _list_one(cfg: PrintServerConfig) -> float:
    start = time.perf_counter()
    server = open_server(cfg)
    try:
        server.printers()
    finally:
        server.close()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
