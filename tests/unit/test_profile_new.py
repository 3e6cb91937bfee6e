"""`adminkit profile new`: the file it writes, from flags and from answers, and its secrets.

The connection check at the end is tested against the lab (tests/integration); here
`--no-check` leaves it out.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.core.config import load_profile

FLAGS = ["--no-input", "--no-check", "--description", "ACME Ltd.", "--directory-kind", "ad",
         "--directory-url", "dc1.acme.example", "--bind-user", "svc-adminkit@acme.example",
         "--bind-password", "env:ACME_BIND", "--users-ou", "OU=Staff,DC=acme,DC=example",
         "--tickets-kind", "rt", "--tickets-url", "https://rt.acme.example/REST/2.0",
         "--tickets-token", "file:/etc/adminkit/acme-rt", "--queue", "Helpdesk"]


def test_flags_alone_write_a_valid_commented_private_profile(cli: Any, env: Any) -> None:
    res = cli("profile", "new", "acme", *FLAGS)
    assert res.code == 0, res.err
    path = env.profiles / "acme.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "  password: 'env:ACME_BIND'  # a reference, never the password itself" in text
    profile = load_profile("acme", env.config)
    assert profile.description == "ACME Ltd."
    d = profile.directory  # type: ignore[attr-defined]
    assert (d.kind, d.url, d.base_dn) == ("ad", "ldaps://dc1.acme.example:636",
                                          "DC=acme,DC=example")
    assert d.upn_suffix == "acme.example" and d.password == "env:ACME_BIND"
    assert "Domain Admins" in profile.policy.protected_groups
    t = profile.tickets  # type: ignore[attr-defined]
    assert (t.kind, t.token, t.queue) == ("rt", "file:/etc/adminkit/acme-rt", "Helpdesk")
    assert profile.mail is None
    assert f"wrote {path}" in res.err


def test_a_missing_answer_with_no_input_names_its_flag(cli: Any, env: Any) -> None:
    flags = [f for f in FLAGS if f not in ("--bind-user", "svc-adminkit@acme.example")]
    res = cli("profile", "new", "acme", *flags)
    assert res.code == 2
    assert "--bind-user is needed with --no-input" in res.err
    assert not (env.profiles / "acme.yaml").exists()


def test_a_password_is_never_taken_as_a_value(cli: Any, env: Any) -> None:
    flags = [("hunter2-pw" if f == "env:ACME_BIND" else f) for f in FLAGS]
    res = cli("profile", "new", "acme", *flags)
    assert res.code == 2
    assert "--bind-password: a secret must be a reference" in res.err
    assert "hunter2-pw" not in res.out + res.err
    assert not (env.profiles / "acme.yaml").exists()


def test_an_existing_profile_is_kept_unless_force(cli: Any, env: Any) -> None:
    (env.profiles / "acme.yaml").write_text("description: mine\n")
    res = cli("profile", "new", "acme", *FLAGS)
    assert res.code == 2 and "--force" in res.err
    assert (env.profiles / "acme.yaml").read_text() == "description: mine\n"
    assert cli("profile", "new", "acme", *FLAGS, "--force").code == 0
    assert load_profile("acme", env.config).description == "ACME Ltd."


def test_a_bad_choice_is_refused(cli: Any) -> None:
    res = cli("profile", "new", "acme", *FLAGS, "--directory-kind", "novell")
    assert res.code == 2 and "'novell' is not one of ad, openldap, none" in res.err


@pytest.fixture
def file_keyring(tmp_path: Path) -> dict[str, str]:
    """keyrings.alt's plaintext file backend, in this test's own data folder."""
    return {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            "XDG_DATA_HOME": str(tmp_path / "data")}


def answer(env_vars: dict[str, str], *lines: str, args: tuple[str, ...] = (),
           cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `profile new` as a person would, the answers piped to it line by line, in
    `cwd` (default: the test's config folder, never the repository)."""
    return subprocess.run([sys.executable, "-m", "adminkit.cli.main", "profile", "new", "acme",
                           "--no-check", *args], input="\n".join(lines) + "\n", text=True,
                          capture_output=True, env={**os.environ, **env_vars}, timeout=60,
                          check=False, cwd=cwd or os.environ["ADMINKIT_CONFIG"])


def test_answers_and_the_keyring(env: Any, file_keyring: dict[str, str]) -> None:
    r = answer(file_keyring,
               "ACME Ltd.", "openldap", "ldap1.acme.example:636", "",  # base DN: the guess
               "cn=adminkit,ou=services,dc=acme,dc=example",
               "keyring", "Bind-Secret-4711",  # where, then the password itself
               "", "ou=people,dc=acme,dc=example", "ou=gone,dc=acme,dc=example",
               "redmine", "https://redmine.acme.example", "", "keyring", "tok-0815-abcdef",
               "HD", "smtp.acme.example", "587", "adminkit@acme.example",
               "l2@acme.example")
    assert r.returncode == 0, r.stderr
    assert "Bind-Secret-4711" not in r.stdout + r.stderr
    text = (env.profiles / "acme.yaml").read_text()
    assert "Bind-Secret-4711" not in text and "tok-0815" not in text
    data = yaml.safe_load(text)
    assert data["directory"]["url"] == "ldaps://ldap1.acme.example:636"
    assert data["directory"]["base_dn"] == "dc=acme,dc=example"
    assert data["directory"]["password"] == "keyring:adminkit/acme-directory"
    assert "policy" not in data  # AD's built-in accounts only
    assert data["tickets"] == {"kind": "redmine", "url": "https://redmine.acme.example",
                               "token": "keyring:adminkit/acme-tickets", "queue": "HD"}
    assert data["mail"]["port"] == 587 and data["mail"]["password_recipient"] == "l2@acme.example"
    # what the keyring holds, read back as a run would
    read = subprocess.run([sys.executable, "-c", "import json, keyring; print(json.dumps(["
                           "keyring.get_password('adminkit', 'acme-directory'), "
                           "keyring.get_password('adminkit', 'acme-tickets')]))"],
                          capture_output=True, text=True, check=True,
                          env={**os.environ, **file_keyring})
    assert json.loads(read.stdout) == ["Bind-Secret-4711", "tok-0815-abcdef"]


def test_a_file_secret_is_written_private(env: Any, file_keyring: dict[str, str]) -> None:
    r = answer(file_keyring, "", "ad", "dc1.acme.example", "", "svc@acme.example",
               "Bind-Secret-4711", "", "", "", "", "", "none", "",  # file: the default path
               args=("--store", "file"))
    assert r.returncode == 0, r.stderr
    data = yaml.safe_load((env.profiles / "acme.yaml").read_text())
    secret = Path(data["directory"]["password"].removeprefix("file:"))
    assert secret == env.config / "secrets" / "acme-directory"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE(secret.parent.stat().st_mode) == 0o700
    assert secret.read_text() == "Bind-Secret-4711\n"
    assert data["description"] == "acme" and "tickets" not in data and "mail" not in data
