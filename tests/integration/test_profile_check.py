"""`adminkit profile check` against every lab server, and the ways a check must fail."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.lab.base import LabServer

Cli = Callable[..., Any]


@pytest.fixture(scope="module")
def whole_lab(samba: LabServer, cups_server: LabServer, ssh_fleet: LabServer, rt: LabServer,
              smtp_sink: LabServer, winrm_lab: LabServer) -> None:
    """Every server the `lab` profile names."""


def checks(stdout: str) -> dict[str, dict[str, Any]]:
    return {f"{row['system']} {row['target']}": row for row in json.loads(stdout)}


def variant(config_dir: Path, name: str, **directory: Any) -> str:
    """A copy of the lab profile with some directory settings replaced."""
    data = yaml.safe_load((config_dir / "profiles" / "lab.yaml").read_text())
    data["directory"].update(directory)
    (config_dir / "profiles" / f"{name}.yaml").write_text(yaml.safe_dump(data))
    return name


def test_every_system_answers(whole_lab: None, cli: Cli) -> None:
    r = cli("profile", "check", "lab", "-o", "json")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = json.loads(r.stdout)
    assert {row["system"] for row in rows} == {"directory", "tickets", "print", "host", "mail"}
    assert all(row["status"] == "ok" for row in rows), rows
    assert sum(row["system"] == "host" for row in rows) >= 3
    assert sum(row["system"] == "print" for row in rows) >= 3  # CUPS and Windows print servers
    by_system = {row["system"]: row["detail"] for row in rows}
    assert "bound as Administrator@samdom.example.com" in by_system["directory"]
    assert "queue Helpdesk" in by_system["tickets"]


def test_wrong_password_fails_with_exit_3(whole_lab: None, cli: Cli, lab_config_dir: Path,
                                          tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("Not-The-Password-1")
    wrong.chmod(0o600)
    name = variant(lab_config_dir, "wrongpw", password=f"file:{wrong}")
    r = cli("profile", "check", name, "-o", "json")
    assert r.returncode == 3
    [row] = [x for x in json.loads(r.stdout) if x["system"] == "directory"]
    assert row["status"] == "failed" and "wrong password" in row["detail"]
    assert "Not-The-Password-1" not in r.stdout + r.stderr


def test_untrusted_certificate_is_refused(whole_lab: None, cli: Cli, lab_config_dir: Path,
                                          tmp_path: Path) -> None:
    import subprocess

    ca = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=not the lab CA", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(ca)], check=True, capture_output=True)
    name = variant(lab_config_dir, "otherca", ca_file=str(ca))
    r = cli("profile", "check", name, "-o", "json")
    assert r.returncode == 3
    [row] = [x for x in json.loads(r.stdout) if x["system"] == "directory"]
    assert "certificate could not be verified" in row["detail"]


def test_plain_ldap_needs_explicit_insecure(whole_lab: None, cli: Cli,
                                            lab_config_dir: Path) -> None:
    name = variant(lab_config_dir, "plain", url="ldap://localhost:389")
    r = cli("profile", "check", name, "-o", "json")
    assert r.returncode == 2  # a setting to fix, as in every other command; not "unreachable"
    [row] = [x for x in json.loads(r.stdout) if x["system"] == "directory"]
    assert "in clear" in row["detail"]


def test_invalid_profile_names_the_line(cli: Cli, lab_config_dir: Path) -> None:
    path = lab_config_dir / "profiles" / "broken.yaml"
    path.write_text("description: x\ndirectory:\n  kind: ad\n  url: ldaps://x\n"
                    "  base_dn: DC=x\n  bind_user: u\n  password: hunter2\n  colour: blue\n")
    r = cli("profile", "check", "broken")
    assert r.returncode == 2
    assert f"{path}:7:" in r.stderr and "directory.password" in r.stderr
    assert f"{path}:8:" in r.stderr and "unknown setting" in r.stderr
    assert "Traceback" not in r.stderr
