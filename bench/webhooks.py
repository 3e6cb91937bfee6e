"""`adminkit serve` under load: webhook to decision, throughput per worker count, a flood.

No lab server: the profile's ticket system is the embedded store, and each ticket asks
for an onboarding without a surname, so every trigger ends in a journaled decision
with a note delivered to its ticket (read the ticket, load the playbook, two journal
rows, one note). That is the dispatch path without a directory's time in it.

1. latency: one delivery at a time, POST to the decision's end row in the journal;
2. throughput: N deliveries with 1 worker and with 4, alternating (paired rounds);
3. flood: F deliveries as fast as one client sends them, against a queue limit: each
   202 must be a trigger in the journal (nothing accepted and lost), the rest 429;
   serve's memory (RSS) before and after.
Only ratios within one run mean anything on a shared machine.

    python bench/webhooks.py [--latency 20] [--runs 200] [--rounds 3] [--flood 5000]
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
from pathlib import Path

import httpx
import yaml

TOKEN = "bench-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    def __init__(self, tmp: Path, workers: int, queue_limit: int = 100000) -> None:
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


def throughput(n: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        serve = Serve(Path(tmp), workers=workers)
        try:
            tickets = serve.tickets(n + 1)
            serve.post(tickets[0])
            wait_settled(serve, 1)
            start = time.perf_counter()
            for ticket in tickets[1:]:
                assert serve.post(ticket) == 202
            wait_settled(serve, n + 1)
            return n / (time.perf_counter() - start)
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
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--flood", type=int, default=5000)
    parser.add_argument("--limit", type=int, default=1000)
    args = parser.parse_args()
    print(f"load: {os.getloadavg()}")
    times = latency(args.latency)
    print(f"webhook to decision: median {statistics.median(times) * 1000:.0f} ms, "
          f"min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f} ({len(times)} runs)")
    ratios = []
    for r in range(args.rounds):
        one, four = throughput(args.runs, 1), throughput(args.runs, 4)
        ratios.append(four / one)
        print(f"round {r + 1}: 1 worker {one:.1f}/s, 4 workers {four:.1f}/s, "
              f"ratio {four / one:.2f}")
    print(f"4 workers / 1: median {statistics.median(ratios):.2f}, "
          f"spread {min(ratios):.2f}-{max(ratios):.2f}")
    accepted, refused, stored, elapsed, before, after = flood(args.flood, args.limit)
    print(f"flood of {args.flood} in {elapsed:.1f} s: {accepted} accepted, {refused} got 429, "
          f"{stored} triggers stored (accepted == stored: {accepted == stored}); "
          f"RSS {before:.0f} -> {after:.0f} MB")
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
