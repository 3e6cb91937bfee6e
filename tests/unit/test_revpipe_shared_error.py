"""Hostile review: a unit of pipelined creates whose connection cannot be had (the
directory went down between planning and the adds). Each row's error must speak of its
own password file only. `Link.add_many` handed every row the same exception object, and
`not_set` appended each row's "(the new password was not set: FILE was removed)" to it:
every row's error named every other row's file (25 of them in a unit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from adminkit.accounts import connection
from adminkit.accounts.actions.create import CreateAccount, CreateParams
from adminkit.accounts.directory import NewUser
from adminkit.accounts.openldap import OpenLdapDirectory
from adminkit.accounts.settings import DirectoryConfig
from adminkit.core import delivery as deliv
from adminkit.core.errors import AdminkitError
from adminkit.core.secrets import Secret
from tests.fakes.ldappeer import Peer

OU = "ou=people,dc=example,dc=org"


def test_each_row_of_a_unit_that_cannot_connect_names_only_its_own_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "RECONNECT_PAUSE", 0)
    folder = tmp_path / "pw"
    folder.mkdir(mode=0o700)
    deliver = deliv.delivery(f"file:{folder}/")
    deliver.check(bulk=True)
    logins = [f"u{i}" for i in range(4)]
    actions: list[CreateAccount] = []
    for login in logins:
        action = CreateAccount(CreateParams(given_name="A", surname=login, login=login),
                               deliver)
        action.new = NewUser(login=login, given_name="A", surname=login, display_name="A",
                             password=Secret(""), ou=OU)
        actions.append(action)
    passwords = [Secret(f"Pw-{login}-1234") for login in logins]
    hows = deliver.many(list(zip(logins, passwords, strict=True)))
    handed: dict[int, Any] = {k: (passwords[k], how) for k, how in enumerate(hows)}

    with Peer() as peer:
        cfg = DirectoryConfig(kind="openldap", url=peer.url, base_dn="dc=example,dc=org",
                              bind_user="cn=svc,dc=example,dc=org", password="env:UNUSED",
                              insecure=True, timeout=5)
        directory = OpenLdapDirectory(cfg, Secret("Svc-Secret-1"))
        peer.stop()  # the directory goes down: no new connection can be had
        peer.close_open()
        try:
            out = CreateAccount._create_together(cast(Any, None), directory, actions, handed)
        finally:
            directory.close()
    assert list(folder.iterdir()) == []  # never set: every file taken back
    for k, login in enumerate(logins):
        error = out[k]
        assert isinstance(error, AdminkitError), error
        others = [f"{x}.password" for x in logins if x != login]
        assert f"{login}.password" in error.message, error.message
        assert not [o for o in others if o in error.message], (login, error.message)
