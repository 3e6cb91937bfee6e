"""Hostile review: the pipelined adds are OpenLDAP's alone. Samba AD (and Entra) keep
writing a unit's accounts one by one: no `create_users`, so `_create_together` leaves
every row to the one-by-one path and sends nothing itself."""

from __future__ import annotations

from adminkit.accounts.ad import ActiveDirectory
from adminkit.accounts.entra import EntraDirectory
from adminkit.accounts.openldap import OpenLdapDirectory


def test_only_openldap_pipelines() -> None:
    assert hasattr(OpenLdapDirectory, "create_users")
    assert not hasattr(ActiveDirectory, "create_users")
    assert not hasattr(EntraDirectory, "create_users")

