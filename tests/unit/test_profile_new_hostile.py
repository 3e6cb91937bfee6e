"""`adminkit profile new` given what a careless or hostile operator types: names that are
not names, URLs that carry a password, a secret file path that is someone else's file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adminkit.core.config import load_profile

FLAGS = ["--no-input", "--no-check", "--directory-kind", "openldap", "--directory-url",
         "ldap1.acme.example", "--bind-user", "cn=svc,dc=acme,dc=example",
         "--bind-password", "env:ACME_BIND"]


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
    r = subprocess.run([sys.executable, "-m", "adminkit.cli.main", "profile", "new", "acme",
                        "--no-check", "--store", "file"],
                       input="\n".join(["", "openldap", "ldap1.acme.example", "",
                                        "cn=svc,dc=acme,dc=example", "Bind-Secret-4711",
                                        str(theirs)]) + "\n",
                       text=True, capture_output=True, env=dict(os.environ), timeout=60,
                       check=False)
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
