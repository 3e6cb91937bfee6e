"""`profile check` and `doctor` say whether `approve` would honour the profile's console
approver map, and why not, by the check approve itself runs (automation/trusted.py)."""

from __future__ import annotations

import json
import os
import pwd
from typing import Any

import pytest
import yaml

from adminkit.automation.trusted import check_map_file
from adminkit.core.errors import PolicyRefused


def _me() -> str | None:
    """The map's owner to name: none as root (root is always trusted), else this user."""
    return None if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name


@pytest.fixture
def profile(env: Any) -> Any:
    path = env.profiles / "acme.yaml"
    path.write_text(yaml.safe_dump({"name": "acme", "automation": {
        "approvers": ["boss"], "console_approvers": {"nosuchlogin": "boss"},
        "console_approvers_owner": _me()}}))
    path.chmod(0o600)
    for folder in (env.profiles, env.config, env.config.parent):
        folder.chmod(0o700)
    return path


def _check_row(cli: Any) -> tuple[int, dict[str, Any]]:
    res = cli("-o", "json", "profile", "check", "acme")
    rows = json.loads(res.out)
    [row] = [r for r in rows if r["target"] == "console approver map"]
    return res.code, row


def _doctor_row(cli: Any) -> tuple[int, dict[str, Any]]:
    res = cli("-o", "json", "-p", "acme", "doctor")
    [row] = [r for r in json.loads(res.out) if r["check"] == "approvers"]
    return res.code, row


def test_an_honoured_map_is_shown_honoured(cli: Any, profile: Any) -> None:
    check_map_file(profile, _me(), {"nosuchlogin": "boss"})  # approve's own verdict: fine
    code, row = _check_row(cli)
    assert (code, row["status"]) == (0, "ok"), row
    assert row["detail"].startswith("honoured: 1 login(s) may approve") and str(profile) in \
        row["detail"]
    code, row = _doctor_row(cli)
    assert row["status"] == "ok" and row["subject"] == str(profile), row
    assert row["detail"].startswith("honoured:")


def _reason(path: Any) -> str:
    with pytest.raises(PolicyRefused) as refused:
        check_map_file(path, _me(), {"nosuchlogin": "boss"})
    return refused.value.message


def test_a_map_others_could_change_is_shown_refused_with_approves_reason(
        cli: Any, profile: Any) -> None:
    profile.chmod(0o620)  # the group may write it
    reason = _reason(profile)
    assert "writable by group or others" in reason
    code, row = _check_row(cli)
    assert (code, row["status"]) == (2, "failed"), row
    assert row["detail"] == f"not honoured by approve: {reason}"
    code, row = _doctor_row(cli)
    assert (code, row["status"]) == (1, "fail"), row
    assert row["detail"] == f"the console approver map is not honoured: {reason}"
    assert "chmod go-w" in row["fix"]


def test_a_map_with_a_second_name_is_shown_refused(cli: Any, profile: Any) -> None:
    os.link(profile, profile.parent.parent / "old-acme.yaml")
    reason = _reason(profile)
    assert "2 names (hard links)" in reason
    assert _check_row(cli)[1]["detail"] == f"not honoured by approve: {reason}"
    assert _doctor_row(cli)[1]["detail"].endswith(reason)


def test_no_map_no_row_in_profile_check_and_a_skip_in_doctor(cli: Any, env: Any) -> None:
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump({"name": "acme", "automation": {
        "approvers": ["boss"]}}))
    rows = json.loads(cli("-o", "json", "profile", "check", "acme").out)
    assert [r["target"] for r in rows] == ["approvers and requesters"]
    assert _doctor_row(cli)[1]["status"] == "skip"


def test_a_profile_changed_into_bad_yaml_after_loading_is_a_failed_finding(
        profile: Any, env: Any) -> None:
    """The map's file is read again to judge it (trusted.py): changed meanwhile into
    something that is no YAML, doctor says so in its finding, and goes on."""
    from adminkit.cli import doctor as checks
    from adminkit.core.config import load_profile

    loaded = load_profile("acme", env.config)
    profile.write_text("automation: [unclosed\n")
    [finding] = list(checks.approver_map(loaded))
    assert finding.check == "approvers" and finding.status == "fail", finding
