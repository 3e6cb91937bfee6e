"""Hostile values are data: stored literally or refused, never a wider search or another entry.

Each value goes through search, disable, create (as a surname) and a group change on
the real AD and OpenLDAP. Afterwards every entry not created here must be exactly as
before, and every search result must literally match what was asked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError as PydanticValidationError

from adminkit.accounts.actions import AccountGroups, CreateAccount, DisableAccount
from adminkit.accounts.actions.base import LoginParams
from adminkit.accounts.actions.create import CreateParams
from adminkit.accounts.actions.groups import GroupsParams
from adminkit.accounts.directory import Directory, open_directory
from adminkit.core.config import load_profile
from adminkit.core.context import Context
from adminkit.core.errors import AdminkitError
from adminkit.core.run import Run
from adminkit.core.runner import Runner
from adminkit.core.secrets import Secret
from adminkit.lab.base import LabServer

CORPUS = [
    "*", "(", ")", "\\", "\x00", ",", "+", '"', "#start", "=", " lead", "trail ", "a\r\nb",
    "a\nb", "x" * 300, "*)(uid=*", "*)(|(objectClass=*)", "admin*", "*admin", "(cn=*)", "\\2a",
    "\\00", "jdoe)(&", "a,b=c", "cn=evil,dc=example,dc=org", "O'Brien, Jr. (admin)*\\",
    "Müller", "Ž", "<script>alert(1)</script>", "${jndi:ldap://127.0.0.1/x}", "{{ 7*7 }}",
    "{% raw %}", "`id`", "$(id)", "; rm -rf /", "|", "&", "%s%n", "\t", "#", "a\\,b", "==",
    "a+b=c", '"quoted"', "\\5c", "ü" * 64, "😀", "\u202e", "\ufeff", "", " ",
    "Administrator", "krbtgt", "*)", "(|(a=b)",
    "CN=Administrator,CN=Users,DC=samdom,DC=example,DC=com",
    "uid=x,ou=people,dc=example,dc=org", "\x7f", "a;b", "-", "..",
]
MARK = "Hostile"


def test_corpus_is_large_enough() -> None:
    assert len(set(CORPUS)) >= 50


def snapshot(directory: Directory) -> dict[str, Any]:
    """Every entry below the base with all its user attributes, except ours."""
    skip_attrs = {"lastlogontimestamp", "logoncount", "badpwdcount", "badpasswordtime",
                  "lastlogon", "lockouttime"}
    out = {}
    for e in directory.entries(directory.config.base_dn, "(objectClass=*)", ["*"]):  # type: ignore[attr-defined]
        # ours; and the counters creating accounts legitimately advance (AD RIDs, uidNumber)
        if e.get("givenName") == [MARK] or "RID Set" in e["dn"] or \
                e["dn"].lower().startswith("cn=counters,"):
            continue
        out[e["dn"].lower()] = {k.lower(): sorted(map(str, v)) if isinstance(v, list) else str(v)
                                for k, v in e.items() if k.lower() not in skip_attrs}
    return out


@pytest.fixture(scope="module", params=["lab", "lab-openldap"])
def ctx(request: pytest.FixtureRequest, samba: LabServer, slapd: LabServer,
        lab_config_dir: Path) -> Iterator[Context]:
    (samba if request.param == "lab" else slapd).reset()
    profile = load_profile(request.param, lab_config_dir)
    context = Context(run=Run(command="hostile corpus", profile=request.param), profile=profile)
    yield context
    context.close()


def run_one(ctx: Context, build: Any) -> tuple[str, str]:
    """(status, message) for an action built by `build()`; refused params count as refused."""
    try:
        action = build()
    except (PydanticValidationError, AdminkitError, ValueError) as exc:
        return "refused", str(exc)
    result = Runner(ctx).run_one(action)
    return result.status.value, result.error or result.summary


def test_hostile_values_are_data(ctx: Context) -> None:
    directory = open_directory(ctx.require_profile())
    before = snapshot(directory)
    stored, refused = 0, 0
    for i, value in enumerate(CORPUS):
        # 1. search: every hit literally matches; nothing widens
        try:
            hits = directory.search_users(value, field="any")
        except AdminkitError:
            hits = []
        for hit in hits:
            fields = [hit.login, hit.mail, hit.display_name, hit.given_name, hit.surname]
            assert any((f or "").casefold() == value.casefold() for f in fields), (value, hit)

        # 2. disable by a hostile login: never a change
        status, message = run_one(ctx, lambda v=value: DisableAccount(LoginParams(login=v)))
        assert status in ("refused", "failed", "ok"), (value, status, message)
        if status == "failed":
            assert "internal" not in message.lower() and "Traceback" not in message

        # 3. create with the value as surname: stored literally, or refused with a reason
        login = f"hv{i}"
        status, message = run_one(ctx, lambda v=value, lg=login: CreateAccount(CreateParams(
            given_name=MARK, surname=v, login=lg, password=Secret("Hv-Pass.12345!"))))
        entry = directory.find_user(login)
        if status == "changed":
            assert entry is not None and entry.surname == value, (value, entry)
            stored += 1
        else:
            assert status in ("refused", "failed"), (value, status, message)
            assert entry is None, value
            assert message, value
            refused += 1

        # 4. a hostile group name: never joins anything
        if entry is not None:
            status, message = run_one(ctx, lambda v=value, lg=login: AccountGroups(
                GroupsParams(login=lg, add=[v])))
            assert status in ("refused", "failed"), (value, status)
            assert directory.user_groups(entry) == []
    after = snapshot(directory)
    assert after == before  # no other entry was changed
    assert stored >= 30 and refused >= 5, (stored, refused)
    directory.close()
