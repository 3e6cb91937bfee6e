"""The operator's name from the environment: journaled and noted, so text only (rev11a)."""

from __future__ import annotations

from typing import Any

import pytest

from adminkit.core.errors import UsageError
from adminkit.core.run import current_operator, os_login


@pytest.mark.parametrize("value", ["ev\nil", "a\x1b[31mb", "op\udcff", "x\x85y"])
def test_an_operator_name_that_would_forge_a_line_or_break_the_journal_is_refused(
        monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ADMINKIT_OPERATOR", value)
    with pytest.raises(UsageError, match="ADMINKIT_OPERATOR"):
        current_operator()


def test_a_sudo_user_with_a_line_break_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADMINKIT_OPERATOR")
    monkeypatch.setenv("SUDO_USER", "root\napproved by: boss")
    with pytest.raises(UsageError, match="SUDO_USER"):
        current_operator()


def test_an_ordinary_name_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """Taken as claimed, beside the OS login that claimed it (audit12)."""
    monkeypatch.setenv("ADMINKIT_OPERATOR", "jnovák (helpdesk)")
    assert current_operator() == f"jnovák (helpdesk) (login {os_login()})"


def test_a_run_under_such_a_name_is_a_usage_error(env: Any, cli: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (env.profiles / "acme.yaml").write_text("description: x\n")
    monkeypatch.setenv("ADMINKIT_OPERATOR", "op\udcff")
    res = cli("--profile", "acme", "run", "unlock-account", "-i", "login=x")
    assert res.code == 2, res.err
    assert "error: ADMINKIT_OPERATOR is not UTF-8 text" in res.err
    assert "internal error" not in res.err
