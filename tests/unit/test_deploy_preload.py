"""Which host commands start importing paramiko early (deploy/sshlib.py preload): those
that log in. A command that contacts no host imports none of it. Fresh processes; the
module list is read at exit (no timing in the test)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.unit.conftest import Env
from tests.unit.test_startup import _modules_after

INVENTORY = {"ssh": {"user": "ops", "known_hosts": "/dev/null"},
             "run": {"allow": True, "programs": ["uname"]},
             "hosts": [{"name": f"h{n}", "address": f"192.0.2.{n}"} for n in (1, 2)]}


def _profile(env: Env) -> None:
    (env.profiles / "fleet.yaml").write_text(yaml.safe_dump({"name": "fleet",
                                                             "inventory": INVENTORY}))


def test_host_list_imports_no_paramiko(env: Env, tmp_path: Path) -> None:
    _profile(env)
    proc, modules = _modules_after(tmp_path, "-p", "fleet", "-o", "json", "host", "list",
                                   "--hosts", "all")
    assert proc.returncode == 0, proc.stderr
    assert [row["host"] for row in json.loads(proc.stdout)] == ["h1", "h2"]
    assert "paramiko" not in modules


def test_a_checked_host_run_imports_no_paramiko(env: Env, tmp_path: Path) -> None:
    _profile(env)
    proc, modules = _modules_after(tmp_path, "-p", "fleet", "--check", "-o", "json", "host",
                                   "run", "--hosts", "all", "--", "uname", "-r")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["counts"]["changed"] == 2  # planned on both hosts
    assert "paramiko" not in modules
