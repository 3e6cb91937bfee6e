"""The shipped bulk-onboard playbook takes a CSV without the optional mail column (rev11a)."""

from __future__ import annotations

from pathlib import Path

import pytest

from adminkit.playbook.execute import StepAction
from adminkit.playbook.loader import load

BOOK = Path(__file__).resolve().parents[2] / "playbooks" / "bulk-onboard.yaml"


@pytest.mark.parametrize(("row", "mail"), [
    ({"given_name": "Jan", "surname": "Novák"}, None),  # no mail column at all
    ({"given_name": "Jan", "surname": "Novák", "mail": ""}, None),  # an empty cell
    ({"given_name": "Jan", "surname": "Novák", "mail": "jan@example.org"}, "jan@example.org"),
])
def test_a_row_without_mail_builds_an_account_without_mail(row: dict[str, str],
                                                           mail: str | None) -> None:
    loaded = load(BOOK)
    [step] = loaded.playbook.steps
    variables = {"inputs": {"file": "x.csv", "deliver": "mail"}, "item": row}
    action = StepAction(step, variables, "create each account").build()
    assert action.params.given_name == "Jan"
    assert action.params.mail == mail
