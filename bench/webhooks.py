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
3. flood: F deliveries as fast as one client sends them, against a queue limit: each
   202 must be a trigger in the journal (nothing accepted and lost), the rest 429;
   serve's memory (RSS) before and after.
Only ratios within one run mean anything on a shared machine.

    python bench/webhooks.py [--latency 20] [--runs 1000] [--rounds 3] [--flood 5000]
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import yaml

TOKEN = "bench-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    def __init__(self, tmp: Path, workers: int, queue_limit: int = 100000, *,
                 queued: int = 0) -> None:
        self.tmp, self.port = tmp, free_port()
        profiles = tmp / "config" / "profiles"
        profiles.mkdir(parents=True, exist_ok=True)
        (profiles / "bench.yaml").write_text(yaml.safe_dump({
            "name": "bench", "tickets": {"kind": "local"}, "automation": {
                "senders": [{"name": "form", "token": "env:HOOK_TOKEN"}],
                "serve": {"queue_limit": queue_limit, "workers": workers},
                "rules": [{"name": "onboarding", "playbook": "onboard-user",
                           "match": {"subject": r"^new hire:\s*(?P<g>\S+)?\s*(?P<s>.*)$"},
                           "fields": {"given_name": "subject:g", "surname": "subject:s"},
                           "requesters": ["*"]}]}}))
        self.env = {**os.environ, "ADMINKIT_CONFIG": str(tmp / "config"),
                    "ADMINKIT_JOURNAL": str(tmp / "journal.db"), "HOOK_TOKEN": TOKEN,
                    "ADMINKIT_TICKETS": str(tmp / "tickets.db"), "ADMINKIT_SYSLOG": "off",
                    "XDG_STATE_HOME": str(tmp / "state"), "ADMINKIT_OPERATOR": "bench"}
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
        made = [store.new(f"New hire: Jana{i}", requester="boss") for i in range(n)]
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
                "tmp, n = Path(sys.argv[1]), int(sys.argv[2])\n"
                "store = LocalTickets(tmp / 'tickets.db')\n"
                "made = [store.new(f'New hire: Jana{i}', requester='boss') for i in range(n)]\n"
                "store.close()\n"
                "journal = Journal(tmp / 'journal.db')\n"
                "Triggers(journal).add_many([(f'bench:{t}', f'local:{t}', {'sender': 'form'}) "
                "for t in made], source='serve', profile='bench')\n"
                "journal.close()\n")
        subprocess.run([sys.executable, "-c", code, str(self.tmp), str(n)], env=self.env,
                       check=True)

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
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

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


def throughput(n: int, workers: int) -> Drain:
    """N queued runs drained by `serve` with this many workers."""
    with tempfile.TemporaryDirectory() as tmp:
        serve = Serve(Path(tmp), workers=workers, queued=n)
        try:
            cpu_at, rss_at = (0, serve.cpu_seconds()), 0.0
            while True:
                settled = serve.settled()
                if settled >= 1 and cpu_at[0] == 0:
                    cpu_at = (settled, serve.cpu_seconds())
                if settled >= 100 and not rss_at:
                    rss_at = serve.rss_mb()
                if settled >= n:
                    break
                time.sleep(0.02)
            cpu = serve.cpu_seconds() - cpu_at[1]
            count, span = serve.drained()
            return Drain((count - 1) / span, cpu / (n - cpu_at[0]) * 1000, rss_at,
                         serve.rss_mb())
        finally:
            serve.stop()


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
    parser.add_argument("--part", choices=("latency", "throughput", "flood", "all"),
                        default="all")
    args = parser.parse_args()
    print(f"load: {os.getloadavg()}")
    if args.part in ("latency", "all"):
        times = latency(args.latency)
        print(f"webhook to decision: median {statistics.median(times) * 1000:.0f} ms, "
              f"min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f} ({len(times)} runs)")
    if args.part in ("throughput", "all"):
        drain(args.runs, args.rounds)
    if args.part in ("flood", "all"):
        accepted, refused, stored, elapsed, before, after = flood(args.flood, args.limit)
        print(f"flood of {args.flood} in {elapsed:.1f} s: {accepted} accepted, {refused} "
              f"got 429, {stored} triggers stored (accepted == stored: {accepted == stored}); "
              f"RSS {before:.0f} -> {after:.0f} MB")
    print(f"load: {os.getloadavg()}")


def drain(runs: int, rounds: int) -> None:
    """Paired rounds of 1 and 4 workers, and the ceilings the CPU puts on their ratio: a
    run costs `cpu_ms` of CPU, so one process (whose Python runs one thread at a time)
    drains at most 1000 / cpu_ms runs a second, and the machine at most cpu_count times
    that, whatever the number of workers; divided by one worker's rate, the best ratio
    each allows (other people's load on a shared machine lowers both)."""
    ratios, in_process, on_cores = [], [], []
    cores = os.cpu_count() or 1
    for r in range(rounds):
        one, four = throughput(runs, 1), throughput(runs, 4)
        ratios.append(four.per_second / one.per_second)
        print(f"round {r + 1}: {runs} queued runs; 1 worker {one.per_second:.1f}/s "
              f"({one.cpu_ms:.1f} ms CPU/run, RSS {one.rss_at_100:.0f} -> {one.rss_end:.0f} "
              f"MB), 4 workers {four.per_second:.1f}/s ({four.cpu_ms:.1f} ms CPU/run, RSS "
              f"{four.rss_at_100:.0f} -> {four.rss_end:.0f} MB), ratio {ratios[-1]:.2f}; "
              f"load {os.getloadavg()[0]:.2f}")
        best = 1000 / four.cpu_ms / one.per_second  # one process: one core at most
        in_process.append(best)
        on_cores.append(best * cores)
    print(f"4 workers / 1: median {statistics.median(ratios):.2f}, "
          f"spread {min(ratios):.2f}-{max(ratios):.2f}; the best the CPU per run allows: "
          f"in one process {statistics.median(in_process):.2f}, on all {cores} cores "
          f"{statistics.median(on_cores):.2f} (medians)")


if __name__ == "__main__":
    main()
