"""A cold `host run` over SSH imports paramiko without importlib.metadata (and so without
the e-mail parser and zipfile it pulls in) and logs in to every host as before; that
paramiko's banner version is still the installed one: tests/unit/test_deploy_sshlib.py.
On a fleet of this module's own (127.0.55.N, started and stopped here by PID); the
module list is read at exit."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from adminkit.lab.ssh import SshFleet
from tests.integration.ownfleet import fleet_fixture
from tests.unit.test_startup import _modules_after

pytestmark = pytest.mark.integration
SUBNET = "127.0.55"  # no lab server, test or bench uses it

fleet = fleet_fixture("cold-imports-lab", hosts=2, subnet=SUBNET)

def test_a_cold_host_run_logs_in_without_importlib_metadata(fleet: SshFleet,
                                                            tmp_path: Path) -> None:
    config = tmp_path / "config"
    (config / "profiles").mkdir(parents=True)
    inventory = {**fleet.profile()["inventory"],
                 "run": {"allow": True, "programs": ["uname"]}}
    (config / "profiles" / "cold.yaml").write_text(
        yaml.safe_dump({"name": "cold", "inventory": inventory}))
    env = {"ADMINKIT_CONFIG": str(config), "ADMINKIT_JOURNAL": str(tmp_path / "j.db"),
           "ADMINKIT_SYSLOG": "off", "ADMINKIT_OPERATOR": "tester"}
    proc, modules = _modules_after(tmp_path, "-p", "cold", "-o", "json", "host", "run",
                                   "--hosts", "all", "--", "uname", "-s", env=env)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["counts"]["changed"] == 2, report
    assert {r["data"]["stdout"].strip() for r in report["results"]} == {os.uname().sysname}
    assert "paramiko" in modules
    assert [m for m in modules if m.split(".")[0] == "email" or m.startswith(
        ("importlib.metadata", "zipfile"))] == []
