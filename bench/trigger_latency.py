"""From a ticket to its first action on the lab: `watch` polling RT, and a webhook to `serve`.

For each of N tickets in the lab's RT ("Unlock: LOGIN", an account made first), the
time from the ticket's creation (watch) or the webhook's 202 (serve) to the journal's
outcome row of the run's first action (account.unlock on the lab's AD). watch polls
every second, so its figure includes up to a second of waiting for the poll. Run it
under the lab lock; servers it starts are stopped again.

    flock /tmp/adminkit-lab.lock python bench/trigger_latency.py [--tickets 10]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import yaml

from adminkit.lab.lab import Lab

TOKEN = "bench-token-0123456789abcdef"


def first_action(journal: Path, ticket: int, after: int) -> float | None:
    """The time of the first action outcome for the ticket, as epoch seconds."""
    if not journal.exists():
        return None
    db = sqlite3.connect(journal, timeout=30)
    try:
        row = db.execute("SELECT time FROM entries WHERE ticket = ? AND kind = 'action' AND "
                         "status != 'started' AND seq > ? ORDER BY seq LIMIT 1",
                         (f"rt:{ticket}", after)).fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()
    return datetime.fromisoformat(row[0]).timestamp() if row else None


def wait(journal: Path, ticket: int, log: Path) -> float:
    for _ in range(6000):
        found = first_action(journal, ticket, 0)
        if found is not None:
            return found
        time.sleep(0.02)
    raise SystemExit(f"no action for rt:{ticket}; its log:\n{log.read_text()[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=10)
    args = parser.parse_args()
    print(f"load: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        lab = Lab(config_dir=tmp / "config")
        started = [n for n in ("samba", "rt") if not lab.server(n).is_running()]
        lab.up(["samba", "rt"])
        try:
            run(lab, tmp, args.tickets)
        finally:
            lab.down(started)
    print(f"load: {os.getloadavg()}")


def run(lab: Lab, tmp: Path, n: int) -> None:
    rt = lab.server("rt")
    data = yaml.safe_load((tmp / "config" / "profiles" / "lab.yaml").read_text())
    data["automation"] = {
        "watch": {"interval": 1},
        "senders": [{"name": "form", "token": "env:HOOK_TOKEN"}],
        "rules": [{"name": "unlock", "playbook": "unlock-account",
                   "match": {"subject": r"^unlock:\s*(?P<login>\S+)$"},
                   "fields": {"login": "subject:login"}, "requesters": ["*"]}]}
    (tmp / "config" / "profiles" / "lab-bench.yaml").write_text(yaml.safe_dump(data))
    journal = tmp / "journal.db"
    env = {**os.environ, "ADMINKIT_CONFIG": str(tmp / "config"), "ADMINKIT_JOURNAL": str(journal),
           "HOOK_TOKEN": TOKEN, "ADMINKIT_OPERATOR": "bench", "ADMINKIT_SYSLOG": "off"}
    cmd = [sys.executable, "-m", "adminkit.cli.main"]
    made = subprocess.run([*cmd, "-p", "lab", "-o", "json", "account", "create", "--given-name",
                           "Bench", "--surname", f"Lat{os.getpid()}", "--deliver",
                           f"file:{tmp}"], env=env, capture_output=True, text=True, check=True)
    login = json.loads(made.stdout)["results"][0]["target"]

    fence = rt.new_ticket("bench fence")  # type: ignore[attr-defined]
    log = tmp / "watch.log"
    watch = subprocess.Popen([*cmd, "-p", "lab-bench", "watch", "--after", str(fence)], env=env,
                             stdout=log.open("w"), stderr=subprocess.STDOUT)
    watched = []
    try:
        for _ in range(n + 1):  # the first one waits for the watcher's start: not counted
            start = time.time()
            ticket = rt.new_ticket(f"Unlock: {login}")  # type: ignore[attr-defined]
            watched.append(wait(journal, ticket, log) - start)
        watched = watched[1:]
    finally:
        watch.terminate()
        watch.wait(60)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp / "serve.log"
    serve = subprocess.Popen([*cmd, "-p", "lab-bench", "serve", "--port", str(port)], env=env,
                             stdout=log.open("w"), stderr=subprocess.STDOUT)
    hooked = []
    try:
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
        for _ in range(600):
            try:
                http.get("/health")
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        for _ in range(n + 1):  # the first one imports the run's modules: not counted
            ticket = rt.new_ticket(f"Unlock: {login}")  # type: ignore[attr-defined]
            start = time.time()
            r = http.post("/hooks/form", json={"ticket": str(ticket)},
                          headers={"X-Adminkit-Token": TOKEN})
            assert r.status_code == 202, r.text
            hooked.append(wait(journal, ticket, log) - start)
        hooked = hooked[1:]
    finally:
        serve.terminate()
        serve.wait(60)
    for name, times in (("watch (1 s poll): ticket created", watched),
                        ("serve: webhook received", hooked)):
        print(f"{name} -> first action: median {statistics.median(times):.2f} s, "
              f"min {min(times):.2f}, max {max(times):.2f} ({len(times)} tickets)")


if __name__ == "__main__":
    main()
