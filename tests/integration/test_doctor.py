"""`adminkit doctor` reads the lab directories' clocks."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from adminkit.cli.doctor import clock_skew
from adminkit.core.config import load_profile
from adminkit.lab.base import LabServer

Cli = Callable[..., Any]


def clock(stdout: str) -> dict[str, Any]:
    [row] = [r for r in json.loads(stdout) if r["check"] == "clock"]
    return row


def test_the_clock_agrees_with_the_lab_ad(samba: LabServer, cli: Cli) -> None:
    r = cli("-p", "lab", "-o", "json", "doctor")
    row = clock(r.stdout)
    assert row["status"] == "ok", row  # Samba runs on this machine's clock
    assert row["subject"] == "ldaps://localhost:636"
    assert row["detail"].startswith("this machine is ")


def test_a_clock_ten_minutes_off_fails_with_what_to_do(samba: LabServer,
                                                       lab_config_dir: Path) -> None:
    profile = load_profile("lab", lab_config_dir)
    [ahead] = clock_skew(profile, lambda: datetime.now(UTC) + timedelta(minutes=10))
    assert ahead.status == "fail"
    assert ahead.detail.startswith("this machine is 6")  # 600 s, give or take the second
    assert " s ahead of the directory: Kerberos refuses more than 5 min" in ahead.detail
    assert "chrony" in ahead.fix
    [behind] = clock_skew(profile, lambda: datetime.now(UTC) - timedelta(minutes=2))
    assert behind.status == "warn" and " s behind the directory" in behind.detail


def test_openldap_does_not_publish_its_time(slapd: LabServer, cli: Cli) -> None:
    row = clock(cli("-p", "lab-openldap", "-o", "json", "doctor").stdout)
    assert row["status"] == "skip"
    assert "does not publish its time" in row["detail"]


def test_an_unreachable_directory_fails_the_clock_check(samba: LabServer, cli: Cli,
                                                        lab_config_dir: Path) -> None:
    data = yaml.safe_load((lab_config_dir / "profiles" / "lab.yaml").read_text())
    data["directory"]["url"] = "ldaps://localhost:1"  # nothing listens there
    (lab_config_dir / "profiles" / "nodc.yaml").write_text(yaml.safe_dump(data))
    r = cli("-p", "nodc", "-o", "json", "doctor")
    assert r.returncode == 1
    row = clock(r.stdout)
    assert row["status"] == "fail" and "connection refused" in row["detail"]
    assert row["fix"] == "adminkit profile check nodc"
