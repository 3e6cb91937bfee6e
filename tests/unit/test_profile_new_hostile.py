"""`adminkit profile new` given what a careless or hostile operator types: names that are
not names, URLs that carry a password, a secret file path that is someone else's file."""

from __future__ import annotations

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
