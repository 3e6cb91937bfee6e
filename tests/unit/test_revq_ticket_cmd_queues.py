"""`ticket note` and `ticket close` by hand, for a ticket outside the profile's queues.

A ticket number one digit off names another team's ticket: a note (internal text on a
customer's ticket) or a close there is the harm the queue policy exists to stop, whether
a run or a person types it. Read back from the store.
"""

from __future__ import annotations

from typing import Any

import yaml

from adminkit.tickets.local import LocalTickets


def test_note_and_close_refuse_a_ticket_of_another_queue(env: Any, cli: Any) -> None:
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump(
        {"name": "acme", "tickets": {"kind": "local", "queue": "helpdesk"}}))
    store = LocalTickets()
    try:
        foreign = store.new("salary question", queue="payroll")
        own = store.new("unlock me", queue="Helpdesk")
        for args in (("note", foreign, "internal: reset done"), ("close", foreign)):
            r = cli("-p", "acme", "ticket", *args)
            assert r.code == 2, (args, r.out, r.err)
            assert f"ticket local:{foreign} is in queue payroll" in r.err
        assert store.notes(foreign) == []
        assert store.get(foreign).status != "closed"
        assert cli("-p", "acme", "ticket", "note", own, "done").code == 0
        assert cli("-p", "acme", "ticket", "close", own).code == 0
        assert store.get(own).status == "closed"
        assert [n["body"] for n in store.notes(own)] == ["done"]
    finally:
        store.close()
