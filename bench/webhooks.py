"""`adminkit serve` under load: webhook to decision, throughput per worker count, a flood.

No lab server: the profile's ticket system is the embedded store, and each ticket asks
for an onboarding without a surname, so every trigger ends in a journaled decision
with a note delivered to its ticket (read the ticket, load the playbook, two journal
rows, one note). That is the dispatch path without a directory's time in it.

1. latency: one delivery at a time, POST to the decision's end row in the journal;
2. throughput: N runs queued in the journal (as the HTTP side queues them) before
   `serve` starts with 1 worker or with 4, alternating (paired rounds): runs per
   second from the first settled trigger to the last (journal times), serve's CPU
   seconds per run (from /proc: a run that is CPU work in one process cannot go
   faster than the machine's free cores allow), and serve's RSS after the first
   hundred runs and at the end (flat: nothing that grows per run);
3. directory: the issue's "1,000 queued runs of a small playbook", with a directory in
   them. Each ticket asks to unlock one of N locked accounts (the shipped
   unlock-account playbook: read the account, delete its lock, a note on the ticket in
   the embedded store). The directory is a slapd of the bench's own (the lab's
   `lab-openldap` set-up, on free ports in a temporary folder, started and stopped by
   its PID: no lab lock needed, nobody else's server touched). A customer's directory
   sits across a network (a VPN to their site), and serve's workers exist to overlap
   the waits on it: the bench reaches slapd through `bench/netdelay.py`, a TCP relay in
   a process of its own (asyncio) that delays every byte by a fixed time each way
   (`--delays`, ms, default 0, 2 and 5: loopback, a 4 ms and a 10 ms round trip, the
   last a site-to-site VPN within one country; a new connection pays one more round
   trip for its handshake). On loopback a run is CPU work and threads share one core,
   so 4 workers cannot beat one there; the ratio grows with the time a run waits. The
   relay and slapd share the machine's cores with serve: their CPU per run is printed
   too. Paired rounds as in 2;
   after each drain the result is read back: no account still locked (from slapd),
   exactly N unlocks journaled on N distinct accounts, none failed, every trigger done;
4. flood: F deliveries as fast as one client sends them, against a queue limit: each
   202 must be a trigger in the journal (nothing accepted and lost), the rest 429;
   serve's memory (RSS) before and after.
Only ratios within one run mean anything on a shared machine.

    python bench/webhooks.py [--latency 20] [--runs 1000] [--rounds 3] [--flood 5000]
    python bench/webhooks.py --part directory --delays 2 --rounds 3   # one delay only
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import yaml

TOKEN = "bench-token-0123456789abcdef"
SUFFIX = "dc=example,dc=org"  # the lab slapd's
LOGIN = "bench{i:04d}"
MEASURED_SRC = ""  # --measure: the src folder of the adminkit that serve runs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Setup:
    """What the queued runs are: the rule that takes their tickets, the tickets'
    subject (`{i}`: the run's number), and the profile's other sections."""

    name: str
    rule: dict[str, Any]
    subject: str
    sections: dict[str, Any] = field(default_factory=dict)


# A decision with no directory in it: an onboarding without a surname is refused.
DECISION = Setup("decision", {
    "name": "onboarding", "playbook": "onboard-user",
    "match": {"subject": r"^new hire:\s*(?P<g>\S+)?\s*(?P<s>.*)$"},
    "fields": {"given_name": "subject:g", "surname": "subject:s"}, "requesters": ["*"]},
    "New hire: Jana{i}")


class Serve:
    def __init__(self, tmp: Path, workers: int, queue_limit: int = 100000, *,
                 queued: int = 0, setup: Setup = DECISION) -> None:
        self.tmp, self.port, self.setup = tmp, free_port(), setup
        profiles = tmp / "config" / "profiles"
        profiles.mkdir(parents=True, exist_ok=True)
        (profiles / "bench.yaml").write_text(yaml.safe_dump({
            "name": "bench", "tickets": {"kind": "local"}, **setup.sections, "automation": {
                "senders": [{"name": "form", "token": "env:HOOK_TOKEN"}],
                "serve": {"queue_limit": queue_limit, "workers": workers},
                "rules": [setup.rule]}}))
        self.env = {**os.environ, "ADMINKIT_CONFIG": str(tmp / "config"),
                    "ADMINKIT_JOURNAL": str(tmp / "journal.db"), "HOOK_TOKEN": TOKEN,
                    "ADMINKIT_TICKETS": str(tmp / "tickets.db"), "ADMINKIT_SYSLOG": "off",
                    "XDG_STATE_HOME": str(tmp / "state"), "ADMINKIT_OPERATOR": "bench"}
        if MEASURED_SRC:  # the adminkit measured; the bench's own lab code stays this one
            self.env["PYTHONPATH"] = MEASURED_SRC
        if queued:
            self.queue(queued)
        self.proc = subprocess.Popen([sys.executable, "-m", "adminkit.cli.main", "-p", "bench",
                                      "serve", "--port", str(self.port)], env=self.env)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)
        for _ in range(600):
            try:
                if self.http.get("/health").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise SystemExit("serve did not start")

    def tickets(self, n: int) -> list[str]:
        from adminkit.tickets.local import LocalTickets

        store = LocalTickets(self.tmp / "tickets.db")
        made = [store.new(self.setup.subject.format(i=i), requester="boss") for i in range(n)]
        store.close()
        return made

    def queue(self, n: int) -> None:
        """N tickets and a queued trigger for each, written before serve starts, as its
        HTTP side writes them (a child process: the journal key is found by its env)."""
        code = ("import sys\n"
                "from pathlib import Path\n"
                "from adminkit.journal.store import Journal\n"
                "from adminkit.journal.triggers import Triggers\n"
                "from adminkit.tickets.local import LocalTickets\n"
                "tmp, n, subject = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]\n"
                "store = LocalTickets(tmp / 'tickets.db')\n"
                "made = [store.new(subject.format(i=i), requester='boss') for i in range(n)]\n"
                "store.close()\n"
                "journal = Journal(tmp / 'journal.db')\n"
                "Triggers(journal).add_many([(f'bench:{t}', f'local:{t}', {'sender': 'form'}) "
                "for t in made], source='serve', profile='bench')\n"
                "journal.close()\n")
        subprocess.run([sys.executable, "-c", code, str(self.tmp), str(n), self.setup.subject],
                       env=self.env, check=True)

    def drained(self) -> tuple[int, float]:
        """Settled triggers, and the seconds from the first settled one to the last."""
        db = sqlite3.connect(self.tmp / "journal.db", timeout=30)
        try:
            count, first, last = db.execute(
                "SELECT COUNT(*), MIN(updated), MAX(updated) FROM triggers WHERE status "
                "NOT IN ('queued', 'running')").fetchone()
        finally:
            db.close()
        if not count:
            return 0, 0.0
        span = datetime.fromisoformat(last) - datetime.fromisoformat(first)
        return int(count), span.total_seconds()

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def post(self, ticket: str) -> int:
        return self.http.post("/hooks/form", json={"ticket": f"local:{ticket}"},
                              headers={"X-Adminkit-Token": TOKEN}).status_code

    def settled(self) -> int:
        db = sqlite3.connect(self.tmp / "journal.db", timeout=30)
        try:
            return int(db.execute("SELECT COUNT(*) FROM triggers WHERE status NOT IN "
                                  "('queued', 'running')").fetchone()[0])
        except sqlite3.OperationalError:
            return 0
        finally:
            db.close()

    def triggers(self) -> int:
        db = sqlite3.connect(self.tmp / "journal.db", timeout=30)
        try:
            return int(db.execute("SELECT COUNT(*) FROM triggers").fetchone()[0])
        finally:
            db.close()

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(60)


def wait_settled(serve: Serve, count: int) -> None:
    while serve.settled() < count:
        time.sleep(0.01)


class Directory:
    """The bench's own slapd (the lab's `lab-openldap` set-up on free ports, under a
    temporary folder, started and stopped by its PID: no lab lock, nobody else's
    directory touched), seeded with N locked accounts, reached through `netdelay.py`,
    a relay in its own process that delays every byte `delay` seconds each way."""

    def __init__(self, tmp: Path, users: int) -> None:
        from adminkit.lab.slapd import SlapdServer

        self.users = users
        self.server = SlapdServer(tmp / "lab", ldap_port=free_port(), ldaps_port=free_port())
        self.relay: subprocess.Popen[str] | None = None
        self.relay_port = 0

    def start(self) -> None:
        s = self.server
        s.setup()
        people = f"ou=people,{SUFFIX}"
        ldif = "\n".join(
            f"dn: uid={login},{people}\nobjectClass: inetOrgPerson\nuid: {login}\n"
            f"cn: Bench {i}\nsn: {i}\npwdAccountLockedTime: 20260101000000Z\n"
            for i, login in enumerate(LOGIN.format(i=i) for i in range(self.users)))
        subprocess.run(["slapadd", "-q", "-f", str(s.conf), "-l", "/dev/stdin"], input=ldif,
                       text=True, check=True)
        shutil.rmtree(s.golden)  # the golden copy: seeded and locked, for every drain
        subprocess.run(["cp", "-a", "--", str(s.data), str(s.golden)], check=True)
        s.start()
        s.wait_ready()

    def route(self, delay: float) -> None:
        """(Re)start the relay with this one-way delay."""
        self.stop_relay()
        here = Path(__file__).resolve().parent
        self.relay = subprocess.Popen(
            [sys.executable, str(here / "netdelay.py"), "--to",
             f"127.0.0.1:{self.server.ldaps_port}", "--delay", str(delay)],
            stdout=subprocess.PIPE, text=True)
        assert self.relay.stdout is not None
        self.relay_port = int(self.relay.stdout.readline().split()[1])

    def section(self) -> dict[str, Any]:
        directory = self.server.profile()["directory"]
        directory["url"] = f"ldaps://localhost:{self.relay_port}"  # through the relay
        return {"directory": directory}

    def reset(self) -> None:
        self.server.reset()  # the golden copy: every account locked again

    def pids(self) -> dict[str, int]:
        assert self.relay is not None
        return {"slapd": self.server.running_procs()[0].pid, "relay": self.relay.pid}

    def check(self, journal: Path, n: int) -> str:
        """Read back: accounts still locked (0 expected) from the directory; from the
        journal, unlocks done (n), distinct accounts (n), failed actions (0)."""
        done = subprocess.run(
            ["ldapsearch", "-Q", "-LLL", "-Y", "EXTERNAL", "-H", self.server.ldapi_url,
             "-b", f"ou=people,{SUFFIX}", "(&(uid=bench*)(pwdAccountLockedTime=*))", "1.1"],
            capture_output=True, text=True, check=True)
        locked = sum(1 for line in done.stdout.splitlines() if line.startswith("dn:"))
        db = sqlite3.connect(journal, timeout=30)
        try:
            changed, accounts = db.execute(
                "SELECT COUNT(*), COUNT(DISTINCT target) FROM entries WHERE kind = 'action' "
                "AND action = 'account.unlock' AND status = 'changed'").fetchone()
            failed = db.execute("SELECT COUNT(*) FROM entries WHERE kind = 'action' AND "
                                "status = 'failed'").fetchone()[0]
            triggers = dict(db.execute("SELECT status, COUNT(*) FROM triggers GROUP BY status"))
        finally:
            db.close()
        ok = locked == 0 and changed == accounts == n and not failed and triggers == {"done": n}
        return (f"{'OK' if ok else 'WRONG'}: still locked {locked}, unlocks journaled "
                f"{changed} on {accounts} accounts, failed {failed}, triggers {triggers}")

    def stop_relay(self) -> None:
        if self.relay is not None:
            self.relay.terminate()
            self.relay.wait(10)
            self.relay = None

    def stop(self) -> None:
        self.stop_relay()
        self.server.stop()


def unlock(directory: Directory) -> Setup:
    """Each ticket asks to unlock one locked account: the shipped unlock-account
    playbook (read the account, then delete its lock), a real write."""
    return Setup("unlock", {
        "name": "unlock", "playbook": "unlock-account",
        "match": {"subject": r"^unlock:\s*(?P<login>\S+)$"},
        "fields": {"login": "subject:login"}, "requesters": ["*"]},
        f"Unlock: {LOGIN}", directory.section())


def directory_drains(runs: int, rounds: int, delays: list[float]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Directory(Path(tmp), runs)
        try:
            directory.start()
            for delay in delays:
                directory.route(delay)
                print(f"directory through a relay adding {delay * 1000:g} ms each way "
                      f"(RTT {delay * 2000:g} ms; a new connection pays one more RTT)",
                      flush=True)
                drain(runs, rounds, unlock(directory), directory)
        finally:
            directory.stop()


def latency(n: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        serve = Serve(Path(tmp), workers=1)
        try:
            tickets = serve.tickets(n + 1)
            serve.post(tickets[0])  # warm: imports, the playbook, the journal
            wait_settled(serve, 1)
            times = []
            for i, ticket in enumerate(tickets[1:], 2):
                start = time.perf_counter()
                assert serve.post(ticket) == 202
                wait_settled(serve, i)
                times.append(time.perf_counter() - start)
            return times
        finally:
            serve.stop()


@dataclass
class Drain:
    per_second: float
    cpu_ms: float  # serve's CPU time per run, start-up left out
    rss_at_100: float
    rss_end: float
    others_ms: dict[str, float] = field(default_factory=dict)  # CPU/run of other processes
    check: str = ""


def throughput(n: int, workers: int, setup: Setup = DECISION,
               bench: Directory | None = None) -> Drain:
    """N queued runs drained by `serve` with this many workers."""
    with tempfile.TemporaryDirectory() as tmp:
        if bench is not None:
            bench.reset()
        serve = Serve(Path(tmp), workers=workers, queued=n, setup=setup)
        others = bench.pids() if bench is not None else {}
        try:
            cpu_at, rss_at = (0, serve.cpu_seconds()), 0.0
            other_at: dict[str, float] = {}
            while True:
                settled = serve.settled()
                if settled >= 1 and cpu_at[0] == 0:
                    cpu_at = (settled, serve.cpu_seconds())
                    other_at = {k: cpu_seconds(p) for k, p in others.items()}
                if settled >= 100 and not rss_at:
                    rss_at = serve.rss_mb()
                if settled >= n:
                    break
                time.sleep(0.02)
            cpu = serve.cpu_seconds() - cpu_at[1]
            runs = n - cpu_at[0]
            other_ms = {k: (cpu_seconds(p) - other_at[k]) / runs * 1000
                        for k, p in others.items()}
            count, span = serve.drained()
            check = bench.check(serve.tmp / "journal.db", n) if bench is not None else ""
            return Drain((count - 1) / span, cpu / runs * 1000, rss_at, serve.rss_mb(),
                         other_ms, check)
        finally:
            serve.stop()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def flood(n: int, limit: int) -> tuple[int, int, int, float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        serve = Serve(Path(tmp), workers=4, queue_limit=limit)
        try:
            tickets = serve.tickets(n)
            before = serve.rss_mb()
            start = time.perf_counter()
            codes = [serve.post(t) for t in tickets]
            elapsed = time.perf_counter() - start
            accepted = codes.count(202)
            wait_settled(serve, accepted)
            return (accepted, codes.count(429), serve.triggers(), elapsed, before,
                    serve.rss_mb())
        finally:
            serve.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency", type=int, default=20)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--flood", type=int, default=5000)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--delays", default="0,2,5",
                        help="directory part: one-way delays in ms, comma-separated")
    parser.add_argument("--part", choices=("latency", "throughput", "directory", "flood",
                                           "all"), default="all")
    parser.add_argument("--measure", default="", metavar="SRC",
                        help="serve (and what queues its runs) from this src folder, e.g. "
                             "an export of main compiled with compileall; the bench's "
                             "private slapd still comes from the adminkit it imports")
    args = parser.parse_args()
    global MEASURED_SRC
    MEASURED_SRC = args.measure
    env = {**os.environ, **({"PYTHONPATH": MEASURED_SRC} if MEASURED_SRC else {})}
    where = subprocess.run([sys.executable, "-c", "import adminkit; print(adminkit.__file__)"],
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    print(f"load: {os.getloadavg()}; measured adminkit: {where}", flush=True)
    if args.part in ("latency", "all"):
        times = latency(args.latency)
        print(f"webhook to decision: median {statistics.median(times) * 1000:.0f} ms, "
              f"min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f} ({len(times)} runs)")
    if args.part in ("throughput", "all"):
        drain(args.runs, args.rounds)
    if args.part in ("directory", "all"):
        directory_drains(args.runs, args.rounds,
                         [float(d) / 1000 for d in args.delays.split(",")])
    if args.part in ("flood", "all"):
        accepted, refused, stored, elapsed, before, after = flood(args.flood, args.limit)
        print(f"flood of {args.flood} in {elapsed:.1f} s: {accepted} accepted, {refused} "
              f"got 429, {stored} triggers stored (accepted == stored: {accepted == stored}); "
              f"RSS {before:.0f} -> {after:.0f} MB")
    print(f"load: {os.getloadavg()}")


def drain(runs: int, rounds: int, setup: Setup = DECISION,
          bench: Directory | None = None) -> None:
    """Paired rounds of 1 and 4 workers, and the ceilings the CPU puts on their ratio: a
    run costs `cpu_ms` of CPU, so one process (whose Python runs one thread at a time)
    drains at most 1000 / cpu_ms runs a second, and the machine at most cpu_count times
    that, whatever the number of workers; divided by one worker's rate, the best ratio
    each allows (other people's load on a shared machine lowers both)."""
    ratios, in_process, on_cores = [], [], []
    cores = os.cpu_count() or 1
    for r in range(rounds):
        one, four = throughput(runs, 1, setup, bench), throughput(runs, 4, setup, bench)
        ratios.append(four.per_second / one.per_second)
        print(f"round {r + 1}: {runs} queued runs ({setup.name}); 1 worker "
              f"{one.per_second:.1f}/s ({_costs(one)}), 4 workers {four.per_second:.1f}/s "
              f"({_costs(four)}), ratio {ratios[-1]:.2f}; load {os.getloadavg()[0]:.2f}",
              flush=True)
        for label, d in (("1 worker", one), ("4 workers", four)):
            if d.check:
                print(f"  check, {label}: {d.check}", flush=True)
        best = 1000 / four.cpu_ms / one.per_second  # one process: one core at most
        in_process.append(best)
        on_cores.append(best * cores)
    print(f"{setup.name}: 4 workers / 1: median {statistics.median(ratios):.2f}, "
          f"spread {min(ratios):.2f}-{max(ratios):.2f}; the best the CPU per run allows: "
          f"in one process {statistics.median(in_process):.2f}, on all {cores} cores "
          f"{statistics.median(on_cores):.2f} (medians)", flush=True)


def _costs(d: Drain) -> str:
    others = "".join(f", {k} {v:.1f}" for k, v in d.others_ms.items())
    return (f"ms CPU/run: serve {d.cpu_ms:.1f}{others}; serve RSS {d.rss_at_100:.0f} -> "
            f"{d.rss_end:.0f} MB")


if __name__ == "__main__":
    main()
