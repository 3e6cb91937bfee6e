"""`adminkit profile new` against the lab: a profile from a technician's answers, checked
on the real directory and RT, and then used."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.lab.base import LabServer

Cli = Callable[..., Any]


def lab_settings(config_dir: Path, name: str = "lab") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((config_dir / "profiles" / f"{name}.yaml").read_text())
    return data


def secret_of(ref: str) -> str:
    """What a lab secret reference (file:...) holds: what a technician would type."""
    return Path(ref.removeprefix("file:")).read_text().strip()


def rows(stdout: str) -> dict[str, dict[str, Any]]:
    return {row["system"]: row for row in json.loads(stdout)}


@pytest.fixture
def answers(cli: Cli, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`adminkit ARGS` with answers piped in, a file keyring of its own (keyrings.alt)."""
    keyring_env = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
                   "XDG_DATA_HOME": str(tmp_path / "data")}

    def run(args: list[str], lines: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*cli.argv, *args],  # type: ignore[attr-defined]
                              input="\n".join(lines) + "\n", capture_output=True, text=True,
                              env={**os.environ, **cli.env, **keyring_env},  # type: ignore[attr-defined]
                              timeout=120, check=False)

    return run


def test_answers_for_the_lab_ad_and_rt_make_a_profile_that_works(
        samba: LabServer, rt: LabServer, lab_config_dir: Path, answers: Any) -> None:
    lab = lab_settings(lab_config_dir)
    d, t = lab["directory"], lab["tickets"]
    password, token = secret_of(d["password"]), secret_of(t["token"])
    r = answers(["-o", "json", "profile", "new", "firstco"], [
        "First Customer", "ad", "localhost",  # the host name: ldaps://localhost:636
        d["base_dn"], d["bind_user"], "keyring", password, d["ca_file"], d["users_ou"],
        d["quarantine_ou"], "",  # UPN suffix: from the service account's
        "rt", t["url"], "",  # no user: a token
        "keyring", token, "Helpdesk", ""])  # no mail relay
    assert r.returncode == 0, r.stderr
    checked = rows(r.stdout)  # `profile check` ran on what was written
    assert set(checked) == {"directory", "tickets"}
    assert checked["directory"]["status"] == "ok", checked
    assert checked["directory"]["detail"].startswith(f"bound as {d['bind_user']}")
    assert checked["tickets"]["status"] == "ok" and "queue Helpdesk" in checked["tickets"]["detail"]
    written = (lab_config_dir / "profiles" / "firstco.yaml").read_text()
    assert password not in written and token not in written
    assert password not in r.stdout + r.stderr and token not in r.stdout + r.stderr
    data = yaml.safe_load(written)
    assert data["directory"]["password"] == "keyring:adminkit/firstco-directory"
    assert data["directory"]["upn_suffix"] == "samdom.example.com"

    shown = answers(["-p", "firstco", "-o", "json", "account", "show", "Administrator"], [])
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["login"] == "Administrator"


def test_flags_for_the_lab_openldap_with_file_references(
        slapd: LabServer, rt: LabServer, lab_config_dir: Path, cli: Cli) -> None:
    lab = lab_settings(lab_config_dir, "lab-openldap")
    d, t = lab["directory"], lab["tickets"]
    r = cli("-o", "json", "profile", "new", "ldapco", "--no-input",
            "--directory-kind", "openldap", "--directory-url", d["url"],
            "--base-dn", d["base_dn"], "--bind-user", d["bind_user"],
            "--bind-password", d["password"], "--ca-file", d["ca_file"],
            "--users-ou", d["users_ou"], "--tickets-kind", "rt", "--tickets-url", t["url"],
            "--tickets-token", t["token"], "--queue", "Helpdesk")
    assert r.returncode == 0, r.stderr
    checked = rows(r.stdout)
    assert checked["directory"]["status"] == "ok" and checked["tickets"]["status"] == "ok"
    data = yaml.safe_load((lab_config_dir / "profiles" / "ldapco.yaml").read_text())
    assert data["directory"]["password"] == d["password"]  # the reference, as given


def test_a_wrong_password_is_written_and_the_check_says_so(
        samba: LabServer, lab_config_dir: Path, answers: Any) -> None:
    lab = lab_settings(lab_config_dir)
    d = lab["directory"]
    r = answers(["-o", "json", "profile", "new", "typo", "--store", "keyring",
                 "--directory-kind", "ad", "--directory-url", d["url"], "--base-dn",
                 d["base_dn"], "--bind-user", d["bind_user"], "--ca-file", d["ca_file"],
                 "--tickets-kind", "none"],
                ["", "Not-The-Password-1", "", "", "", "", ""])
    assert r.returncode == 3, r.stderr  # as `profile check` exits: the credentials refused
    checked = rows(r.stdout)
    assert checked["directory"]["status"] == "failed"
    assert "wrong password" in checked["directory"]["detail"]
    assert "Not-The-Password-1" not in r.stdout + r.stderr
    assert (lab_config_dir / "profiles" / "typo.yaml").exists()  # to fix, not to type again
