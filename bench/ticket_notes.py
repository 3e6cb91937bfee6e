"""Ticket notes: the outbox against a bare httpx loop, and a run's cost of having a ticket.

Part 1 posts N notes (default 500) to the lab's Request Tracker twice, in one run:
once with a plain sequential httpx loop on one keep-alive connection (the floor),
once through adminkit's outbox (journal rows with queued notes, then `flush`).
Part 2 disables M accounts (default 500) in the lab's AD with `account bulk disable`,
without and with `--ticket`, in paired rounds, and reads the notes back from RT: the
run with a ticket should cost at most 1.1x, and its notes be on the ticket within 60 s
of its end without anyone typing a command.
Only ratios within one run mean anything on a shared machine.

    python bench/ticket_notes.py [--notes 500] [--accounts 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from adminkit.core.errors import AdminkitError
from adminkit.journal.store import Journal
from adminkit.lab.lab import Lab
from adminkit.tickets.base import TicketSystem
from adminkit.tickets.outbox import flush
from adminkit.tickets.systems import opener


def bare_loop(rt: object, ticket: int, n: int) -> float:
    client = rt.client()  # type: ignore[attr-defined]
    start = time.perf_counter()
    for i in range(n):
        r = client.post(f"/ticket/{ticket}/comment",
                        json={"Content": f"bare note {i}", "ContentType": "text/plain"})
        assert r.status_code == 201, r.text
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed


def through_outbox(ticket: int, n: int, config_dir: Path, tmp: Path) -> float:
    journal = Journal(tmp / "journal.db")
    for i in range(n):
        journal.append(note={"key": f"R-bench:{i}", "system": "rt", "ticket": str(ticket),
                             "internal": True, "body": f"adminkit:R-bench:{i}; note {i}"},
                       kind="action", run_id="R-bench", idx=i, operator="bench",
                       profile="lab", mode="apply", action="bench", target=str(i),
                       status="changed", summary="bench")
    start = time.perf_counter()
    report = flush(journal, opener(config_dir))
    elapsed = time.perf_counter() - start
    assert report.delivered == n, report
    journal.close()
    return elapsed


def adminkit(*args: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "adminkit.cli.main", *args], env=env,
                       capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"adminkit {' '.join(args)} failed:\n{r.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=500)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--part", choices=("notes", "run", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ak-bench-"))
    config = tmp / "config"
    lab = Lab(config_dir=config)
    print("bringing up the lab…", file=sys.stderr)
    lab.up(["rt"] if args.part == "notes" else ["samba", "rt"])
    rt = lab.server("rt")

    if args.part in ("notes", "both"):
        part_notes(rt, args.notes, config, tmp)
    if args.part in ("run", "both"):
        try:
            part_run(rt, args.accounts, config, tmp, args.rounds)
        finally:
            lab.reset(["samba"])


def part_notes(rt: object, notes: int, config: Path, tmp: Path) -> None:
    bare = bare_loop(rt, rt.new_ticket("bench: bare loop"), notes)  # type: ignore[attr-defined]
    ticket = rt.new_ticket("bench: outbox")  # type: ignore[attr-defined]
    outbox = through_outbox(ticket, notes, config, tmp)
    print(f"\n{'notes to RT':<28} {'seconds':>8} {'notes/s':>8}")
    print(f"{'bare httpx loop':<28} {bare:>8.2f} {notes / bare:>8.1f}")
    print(f"{'adminkit outbox flush':<28} {outbox:>8.2f} {notes / outbox:>8.1f}")
    ratio = (notes / outbox) / (notes / bare)
    verdict = "met" if ratio >= 0.9 else "NOT met"
    print(f"outbox / bare loop = {ratio:.2f}x  (goal: >= 0.9: {verdict})")



def part_run(rt: object, accounts: int, config: Path, tmp: Path, rounds: int) -> None:
    """Paired rounds (which goes first alternates): each timed disable is undone by an
    untimed enable. After each run with a ticket, its notes are read back from RT: all
    of them must be on the ticket within 60 s of the run's end, delivered by then with
    no command typed (the next round waits for them, so it never competes with them)."""
    env = {**os.environ, "ADMINKIT_CONFIG": str(config), "ADMINKIT_JOURNAL": str(tmp / "j2.db"),
           "ADMINKIT_TICKETS": str(tmp / "t.db")}
    csv = tmp / "people.csv"
    csv.write_text("given_name,surname,login\n" + "".join(
        f"Bench,Person{i},bench{i}\n" for i in range(accounts)))
    logins = tmp / "logins.csv"
    logins.write_text("login\n" + "".join(f"bench{i}\n" for i in range(accounts)))
    print(f"\ncreating {accounts} accounts…", file=sys.stderr)
    adminkit("-p", "lab", "account", "import", str(csv), "--deliver", f"file:{tmp}", env=env)
    system = opener(config)("lab", "rt")
    ratios, lags = [], []
    print(f"\n{accounts} account disables: seconds without a ticket, with --ticket (RT)")
    for r in range(rounds):
        ticket = rt.new_ticket(f"bench: bulk disable {r}")  # type: ignore[attr-defined]
        plain = noted = 0.0
        for noting in ((False, True) if r % 2 == 0 else (True, False)):
            extra = ("--ticket", str(ticket)) if noting else ()
            took = adminkit("-p", "lab", *extra, "account", "bulk", "disable", str(logins),
                            "--force", env=env)
            if noting:
                noted, ended = took, time.monotonic()
                lags.append(notes_arrive(system, str(ticket), accounts, ended, tmp / "j2.db"))
            else:
                plain = took
            adminkit("-p", "lab", "account", "bulk", "enable", str(logins), "--force", env=env)
        ratios.append(noted / plain)
        print(f"round {r + 1}: {plain:.2f} s, {noted:.2f} s, with / without = "
              f"{ratios[-1]:.2f}x; every note on the ticket {lags[-1]:.1f} s after the run "
              f"(load {os.getloadavg()[0]:.2f})")
    system.close()
    cost = statistics.median(ratios)
    print(f"with / without: median {cost:.2f}x, spread {min(ratios):.2f}-{max(ratios):.2f} "
          f"(goal: <= 1.1: {'met' if cost <= 1.1 else 'NOT met'}); notes on the ticket "
          f"{max(lags):.1f} s after the run at worst (goal: <= 60: "
          f"{'met' if max(lags) <= 60 else 'NOT met'})")


def notes_arrive(system: TicketSystem, ticket: str, expected: int, ended: float,
                 journal_path: Path) -> float:
    """Seconds from the run's end until all `expected` notes are on the ticket: the
    outbox is watched (a cheap local read) until it says so, then RT itself is read
    back, and must show every one (reading 500 bodies from RT every round would slow
    the delivery it measures). Gives up at 120 s."""
    found = 0
    while True:
        lag = time.monotonic() - ended
        if delivered(journal_path) >= expected:
            try:
                found = sum(1 for n in system.notes(ticket) if "adminkit:" in n["body"])
            except AdminkitError as exc:  # RT busy or restarting: read again
                print(f"reading the ticket back: {exc.message}", file=sys.stderr)
            if found >= expected:
                return lag
        if lag > 120:
            raise SystemExit(f"only {found} of {expected} notes on RT ticket {ticket} "
                             f"{lag:.0f} s after the run")
        time.sleep(0.5)


def delivered(journal_path: Path) -> int:
    db = sqlite3.connect(journal_path, timeout=30)
    try:
        return int(db.execute("SELECT COUNT(*) FROM outbox WHERE status = 'delivered' AND "
                              "run_id = (SELECT MAX(run_id) FROM outbox)").fetchone()[0])
    finally:
        db.close()


if __name__ == "__main__":
    main()
