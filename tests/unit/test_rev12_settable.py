"""Second review of issue 12: a password attribute made settable under another name.

`userPassword` in `accounts.settable_attributes` is refused at profile load; its OID
(2.5.4.35) or a name with an option (`userPassword;binary`) named the same attribute on
the server and passed, so `account set jdoe 2.5.4.35=…` wrote a password and journaled
it in the run row's argv."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("name", ["2.5.4.35", "userPassword;binary", "unicodePwd;x",
                                  "1.2.840.113556.1.4.90", " userPassword", "userPassword "])
def test_a_password_attribute_by_another_name_is_refused_at_profile_load(
        env, cli, name: str) -> None:
    (env.profiles / "leaky.yaml").write_text(
        f"accounts:\n  settable_attributes: [title, {name!r}]\n")
    res = cli("profile", "show", "leaky")
    assert res.code == 2, res.err
    assert "leaky.yaml:2:3: accounts.settable_attributes" in res.err, res.err
    assert "internal error" not in res.err


def test_ordinary_attribute_names_are_still_settable(env, cli) -> None:
    (env.profiles / "fine.yaml").write_text(
        "accounts:\n  settable_attributes: [title, telephoneNumber, "
        "msDS-cloudExtensionAttribute1, extension_0a1b_costCentre]\n")
    res = cli("profile", "show", "fine")
    assert res.code == 0, res.err
