"""Hostile review: automation people that can never answer are refused at load (exit 2).

A rule that requires approval while `automation.approvers` names nobody loaded, and each
of its runs waited out the timeout and was cancelled; `jira:unknown` (what Jira Cloud
answers for a deleted or corrupted user, which adminkit reads as no one) loaded as an
approver who could never match.
"""

from __future__ import annotations

from typing import Any

import pytest

from adminkit.automation.settings import automation_settings
from adminkit.core.config import Profile
from adminkit.core.errors import ConfigError, ExitCode

TICKETS = {"jira": {"kind": "jira", "url": "https://jira.example.test", "token": "env:X"},
           "rt": {"kind": "rt", "url": "https://rt.example.test", "token": "env:X"}}


def load(kind: str, approvers: list[str], *, approval: bool = True) -> Any:
    return automation_settings(Profile.model_validate({
        "name": "acme", "tickets": TICKETS[kind], "automation": {
            "approvers": approvers, "rules": [
                {"name": "unlock", "playbook": "unlock-account",
                 "requires_approval": approval, "match": {"subject": "^unlock"},
                 "requesters": ["*"]}]}}))


@pytest.mark.parametrize("kind", ["jira", "rt"])
def test_a_rule_needing_approval_with_no_approvers_is_refused(kind: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(kind, [])
    assert err.value.exit_code == ExitCode.USAGE
    assert "automation.rules[unlock] requires approval, and automation.approvers names " \
           "nobody" in err.value.message


def test_no_approvers_is_fine_where_no_rule_needs_one() -> None:
    assert load("rt", [], approval=False) is not None


@pytest.mark.parametrize("value", ["jira:unknown", "JIRA:Unknown"])
def test_jiras_deleted_user_placeholder_is_no_approver(value: str) -> None:
    with pytest.raises(ConfigError) as err:
        load("jira", [value])
    assert err.value.exit_code == ExitCode.USAGE
    assert "is not a jira user id" in err.value.message
