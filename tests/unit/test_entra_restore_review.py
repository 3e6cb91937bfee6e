"""Hostile review of `account restore` / `account delete --hard` on Entra (issue 15)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.fakes.graphrig import GraphRig, graph_fixture  # noqa: F401 - the fixture

Cli = Callable[..., Any]


def _binned(graph: GraphRig, login: str) -> dict[str, Any]:
    """The seeded user `login`, deleted in the portal (into deleted items)."""
    user = graph.user(login)
    assert user is not None
    graph.tenant.soft_delete(user)
    return user


def test_a_protected_deleted_account_is_not_purged_by_a_hard_delete(graph: GraphRig,
                                                                   cli: Cli) -> None:
    """Listed in protected_accounts, deleted in the portal: `--hard` must not purge it
    for good when `account restore` of it is refused (exit 4)."""
    graph.profile(extra="policy:\n  protected_accounts: [admin]\n")
    admin = _binned(graph, "admin")
    r = cli("-p", "entra", "account", "delete", "admin", "--hard")
    assert r.code == 4, r.out + r.err
    assert admin["id"] in graph.tenant.deleted


def test_a_user_restored_meanwhile_is_not_an_error(graph: GraphRig, cli: Cli) -> None:
    """Another technician restores it between adminkit's plan and its POST: Graph
    answers 404 to adminkit's restore; the user is back, which is what was asked."""
    graph.profile()
    kd = _binned(graph, "kdvorak")
    fake, handle = graph.fake, graph.fake.handle

    def racing(method: str, target: str, *args: Any, **kwargs: Any) -> Any:
        if method == "POST" and target.endswith("/restore") and kd["id"] in \
                graph.tenant.deleted:
            fake._restore(kd, {}, {})  # the other technician, in the portal
        return handle(method, target, *args, **kwargs)

    fake.handle = racing  # type: ignore[method-assign]
    r = cli("-p", "entra", "-o", "json", "account", "restore", "kdvorak")
    assert r.code == 0, r.out + r.err
    assert "meanwhile" in json.loads(r.out)["results"][0]["summary"]
    assert graph.user("kdvorak") is not None


def test_a_lookalike_login_does_not_restore_someone_else(graph: GraphRig, cli: Cli) -> None:
    """KELVIN SIGN casefolds to k; Graph's UPNs are ASCII only and compared without
    Unicode case folding."""
    graph.profile()
    kd = _binned(graph, "kdvorak")
    r = cli("-p", "entra", "account", "restore", "\u212advorak")
    assert r.code == 2, r.out + r.err
    assert kd["id"] in graph.tenant.deleted


def _journal_bytes() -> bytes:
    import os
    from pathlib import Path

    folder = Path(os.environ["ADMINKIT_JOURNAL"]).parent
    found = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    assert b"kdvorak" in found  # the run was journaled here: what is looked through
    return found


def test_no_secret_in_output_or_journal_when_graph_fails_mid_restore(graph: GraphRig,
                                                                     cli: Cli) -> None:
    from adminkit.lab.graph_fake import Fault
    from tests.fakes.graphrig import SECRET

    kd = _binned(graph, "kdvorak")
    for credential in ("secret", "certificate"):
        graph.profile(credential=credential)
        for status in (500, 403, 503):
            graph.fake.faults.append(Fault("POST", "/directory/deletedItems", status,
                                           times=40))
            r = cli("--debug", "-p", "entra", "account", "restore", "kdvorak")
            graph.fake.faults.clear()
            assert r.code != 0
            text = (r.out + r.err).encode()
            for leak in (SECRET.encode(), b"Bearer ", b"eyJ", b"PRIVATE KEY",
                         b"client_secret", b"client_assertion"):
                assert leak not in text, (credential, status, leak, r.out + r.err)
                assert leak not in _journal_bytes(), (credential, status, leak)
    assert kd["id"] in graph.tenant.deleted


def test_a_lost_restore_answer_is_settled_by_looking(graph: GraphRig, cli: Cli) -> None:
    """Graph restored it and its answer was lost (504): the user is active again, so the
    restore is done, said so, and journaled as a change; a second run is a no-op."""
    from adminkit.lab.graph_fake import Fault

    graph.profile()
    kd = _binned(graph, "kdvorak")
    graph.fake.faults.append(Fault("POST", f"/directory/deletedItems/{kd['id']}", 504,
                                   after_write=True))
    r = cli("-p", "entra", "-o", "json", "account", "restore", "kdvorak")
    assert r.code == 0, r.out + r.err
    assert json.loads(r.out)["results"][0]["status"] == "changed", r.out
    assert graph.user("kdvorak") is not None
    r = cli("-p", "entra", "-o", "json", "account", "restore", "kdvorak")
    assert r.code == 0, r.out + r.err
    assert json.loads(r.out)["results"][0]["status"] in ("ok", "skipped"), r.out
    # a 5xx that did nothing is still a failure
    _binned(graph, "psvoboda")
    graph.fake.faults.append(Fault("POST", "/directory/deletedItems", 500))
    r = cli("-p", "entra", "account", "restore", "psvoboda")
    assert r.code == 1, r.out + r.err


def test_a_throttled_restore_goes_again_once_done(graph: GraphRig, cli: Cli) -> None:
    from adminkit.lab.graph_fake import Fault

    graph.profile()
    kd = _binned(graph, "kdvorak")
    graph.fake.faults.append(Fault("POST", f"/directory/deletedItems/{kd['id']}", 429,
                                   times=2, retry_after=1))
    r = cli("-p", "entra", "account", "restore", "kdvorak")
    assert r.code == 0, r.out + r.err
    assert graph.user("kdvorak") is not None
    restores = [e for e in graph.fake.writes("POST", "/directory/deletedItems")
                if e.path.endswith("/restore")]
    assert [e.status for e in restores] == [429, 429, 200]


def test_an_app_in_a_privileged_role_purges_no_deleted_user_unless_allowed(
        graph: GraphRig, cli: Cli) -> None:
    """Its deleted users' roles cannot be read, and Graph lets an app in Global
    Administrator purge a deleted Global Administrator for good."""
    graph.role("Global Administrator")["_members"].add(graph.app()["id"])
    graph.profile()
    admin = _binned(graph, "admin")
    r = cli("-p", "entra", "account", "delete", "admin", "--hard")
    assert r.code == 4, r.out + r.err
    assert "Global Administrator" in r.out + r.err
    assert admin["id"] in graph.tenant.deleted


def test_a_profile_url_in_capitals_still_follows_graphs_next_links() -> None:
    """Graph writes its next links with its own host name, in lower case and without
    the default port: a profile with `https://Graph.Microsoft.com:443/v1.0` must not
    refuse every second page as `outside` the endpoint."""
    from adminkit.accounts.entra import EntraDirectory
    from adminkit.accounts.settings import DirectoryConfig
    from adminkit.core.secrets import Secret

    config = DirectoryConfig.model_validate({
        "kind": "entra", "url": "https://Graph.Microsoft.COM:443/v1.0/",
        "base_dn": "8d6c1f2e-3b4a-4c5d-9e8f-0a1b2c3d4e5f",
        "bind_user": "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b", "password": "env:NOPE",
        "upn_suffix": "contoso.example", "options": {"credential": "secret"}})
    directory = EntraDirectory(config, Secret("not-used"))
    try:
        link = ("https://graph.microsoft.com/v1.0/directory/deletedItems/"
                "microsoft.graph.user?$skiptoken=abc")
        assert directory._relative(link).startswith("/directory/deletedItems/")
    finally:
        directory.close()


def test_a_failed_restore_and_a_half_done_hard_delete_resume(graph: GraphRig,
                                                             cli: Cli) -> None:
    from adminkit.lab.graph_fake import Fault

    graph.profile()
    kd = _binned(graph, "kdvorak")
    graph.fake.faults.append(Fault("POST", "/directory/deletedItems", 503, times=50))
    r = cli("-p", "entra", "account", "restore", "kdvorak")
    assert r.code == 3, r.out + r.err
    graph.fake.faults.clear()
    r = cli("run", "--resume", "last")
    assert r.code == 0, r.out + r.err
    assert graph.user("kdvorak") is not None
    # --hard: the delete done, the purge refused by an outage; the resume purges it
    graph.fake.faults.append(Fault("DELETE", "/directory/deletedItems", 503, times=50))
    r = cli("-p", "entra", "account", "delete", "kdvorak", "--hard")
    assert r.code != 0, r.out + r.err
    assert kd["id"] in graph.tenant.deleted
    graph.fake.faults.clear()
    r = cli("run", "--resume", "last")
    assert r.code == 0, r.out + r.err
    assert kd["id"] not in graph.tenant.deleted and graph.user("kdvorak") is None


def test_a_login_that_is_another_deleted_users_id_and_upn(graph: GraphRig,
                                                          cli: Cli) -> None:
    """`{jnovak's id}jnovak` is a valid login of its own: deleted, Entra names it
    `{its id}{jnovak's id}jnovak@…`, which ends with jnovak's deleted UPN and the other
    way round; each restore must bring back exactly the one named."""
    graph.profile()
    jn = _binned(graph, "jnovak")
    twin_login = jn["id"].replace("-", "") + "jnovak"
    twin = graph.tenant.add_user(f"{twin_login}@{graph.domain}", "Twin")
    graph.tenant.soft_delete(twin)
    r = cli("-p", "entra", "-o", "json", "account", "restore", twin_login)
    assert r.code == 0, r.out + r.err
    assert twin["id"] in graph.tenant.users and jn["id"] in graph.tenant.deleted
    r = cli("-p", "entra", "account", "restore", "jnovak")
    assert r.code == 0, r.out + r.err
    assert jn["id"] in graph.tenant.users


def test_deleted_items_pages_that_loop_or_leave_are_not_followed(graph: GraphRig,
                                                                 cli: Cli) -> None:
    graph.profile()
    kd = _binned(graph, "kdvorak")
    fake, listing = graph.fake, graph.fake._list
    first: dict[str, str] = {}

    def hostile(kind: str, rows: list[dict[str, Any]], entry: Any, headers: Any) -> Any:
        status, out, body = listing(kind, rows, entry, headers)
        if kind.startswith("directory/deletedItems"):
            body = {**body, "value": []}  # kdvorak never on the pages
            here = f"{fake.base}/v1.0{entry.path}?{entry.query.get('$filter', '')}"
            body["@odata.nextLink"] = first.setdefault("link", here) if first.get(
                "mode") == "loop" else "https://evil.example/v1.0/directory/deletedItems"
        return status, out, body

    fake._list = hostile  # type: ignore[method-assign]
    for mode in ("loop", "away"):
        first.clear()
        first["mode"] = mode
        fake.log.clear()
        r = cli("-p", "entra", "account", "restore", "kdvorak")
        assert r.code == 1, (mode, r.out + r.err)
        assert len([e for e in fake.log if "deletedItems" in e.path]) <= 3
    assert kd["id"] in graph.tenant.deleted


def test_no_secret_in_output_when_the_tenant_refuses_the_credential(graph: GraphRig,
                                                                    cli: Cli) -> None:
    from tests.fakes.graphrig import CLIENT_ID, SECRET

    _binned(graph, "kdvorak")
    app = graph.fake.issuer.apps[CLIENT_ID]
    app.secret, app.certificates = "Another~Secret~0000", []
    for credential in ("secret", "certificate"):
        graph.profile(credential=credential)
        for check in ((), ("--check",)):
            r = cli("--debug", *check, "-p", "entra", "account", "restore", "kdvorak")
            assert r.code == 3, r.out + r.err
            text = (r.out + r.err).encode()
            for leak in (SECRET.encode(), b"Bearer ", b"eyJ", b"PRIVATE KEY",
                         b"client_secret=", b"client_assertion="):
                assert leak not in text, (credential, leak, r.out + r.err)
                assert leak not in _journal_bytes(), (credential, leak)


def test_the_fake_finds_no_user_by_a_unicode_look_alike_of_its_upn(graph: GraphRig,
                                                                   cli: Cli) -> None:
    """Graph's UPNs are ASCII only: `jnova\\u212a` (KELVIN SIGN) names nobody there,
    though Python's casefold makes it `jnovak`; the fake must not be kinder."""
    graph.profile()
    r = cli("-p", "entra", "account", "disable", "jnova\u212a")
    assert r.code == 2, r.out + r.err
    jn = graph.user("jnovak")
    assert jn is not None and jn["accountEnabled"] is True


def test_a_long_upn_of_another_verified_domain_can_be_restored(graph: GraphRig,
                                                               cli: Cli) -> None:
    graph.profile()
    upn = "jan.novak.external.contractor.2026@contoso.onmicrosoft.com"
    upn = "x" * (70 - len(upn)) + upn  # 70 characters: a valid UPN in Entra
    long = graph.tenant.add_user(upn, "Long Name")
    graph.tenant.soft_delete(long)
    r = cli("-p", "entra", "account", "restore", upn)
    assert r.code == 0, r.out + r.err
    assert long["id"] in graph.tenant.users


def test_a_restore_refused_for_a_missing_permission_is_exit_3(graph: GraphRig,
                                                              cli: Cli) -> None:
    """The issue: a tenant that refuses the app (403, missing permission) is exit 3
    naming the permission. An ordinary user, the app without User.DeleteRestore.All."""
    from tests.fakes.graphrig import CLIENT_ID

    graph.fake.issuer.apps[CLIENT_ID].roles -= {"User.DeleteRestore.All",
                                                "User.ReadWrite.All"}
    graph.profile()
    kd = _binned(graph, "kdvorak")
    r = cli("-p", "entra", "account", "restore", "kdvorak")
    assert kd["id"] in graph.tenant.deleted
    assert r.code == 3, r.out + r.err
    assert "User.DeleteRestore.All" in r.out + r.err

def test_a_synced_user_is_not_restored_in_entra(graph: GraphRig, cli: Cli) -> None:
    """Deleted by the sync (its AD object gone), a restore in Entra brings back a synced
    user that the next sync deletes again: it belongs to AD, as its delete does."""
    graph.profile()
    sy = _binned(graph, "syncd")
    for check in (("--check",), ()):
        r = cli(*check, "-p", "entra", "account", "restore", "syncd")
        assert r.code == 4, r.out + r.err
        assert "on-premises" in r.out + r.err
    assert sy["id"] in graph.tenant.deleted


def test_a_restore_done_is_not_reported_failed_when_the_check_after_it_fails(
        graph: GraphRig, cli: Cli) -> None:
    """The groups are read after the restore (they could not be before): that read
    failing must not turn a restore that was made into `failed`."""
    from adminkit.lab.graph_fake import Fault

    graph.profile()
    kd = _binned(graph, "kdvorak")
    graph.fake.faults.append(Fault("GET", f"/users/{kd['id']}/transitiveMemberOf", 500,
                                   times=50))
    r = cli("-p", "entra", "-o", "json", "account", "restore", "kdvorak")
    assert kd["id"] in graph.tenant.users
    assert r.code == 0, r.out + r.err
    assert "could not" in json.loads(r.out)["results"][0]["summary"]


def test_a_restore_killed_while_graph_answers_resumes_to_a_no_op(graph: GraphRig,
                                                                 cli: Cli) -> None:
    """kill -9 after Graph restored the user and before adminkit heard it: `run
    --resume` reads the directory, finds the user back, and sends nothing more."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    graph.profile()
    kd = _binned(graph, "kdvorak")
    fake, handle = graph.fake, graph.fake.handle
    held = threading.Event()

    def slow(method: str, target: str, *args: Any, **kwargs: Any) -> Any:
        reply = handle(method, target, *args, **kwargs)
        if method == "POST" and target.endswith("/restore"):
            held.set()
            time.sleep(30)  # done, and the answer never leaves in time
        return reply

    fake.handle = slow  # type: ignore[method-assign]
    child = subprocess.Popen(  # our own CLI, fixed arguments
        [sys.executable, "-c", "from adminkit.cli.main import main; main()", "-p", "entra",
         "account", "restore", "kdvorak"], env=dict(os.environ),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert held.wait(60), "the restore never reached the fake"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    fake.handle = handle  # type: ignore[method-assign]
    assert kd["id"] in graph.tenant.users
    fake.log.clear()
    r = cli("-o", "json", "run", "--resume", "last")
    assert r.code == 0, r.out + r.err
    assert json.loads(r.out)["run"]["command"] == "account restore kdvorak", r.out
    assert not [e for e in fake.log if e.method != "GET" and e.path != "/$batch"]
    assert kd["id"] in graph.tenant.users


def test_upns_with_every_character_entra_allows_are_restored_and_purged(
        graph: GraphRig, cli: Cli) -> None:
    """' # ! ^ ~ are valid in a UPN: quoted in the OData literal, encoded in the URL,
    and found exactly (not their neighbours)."""
    graph.profile()
    t = graph.tenant
    logins = ["o'brien", "a#b!c", "x^y~z", "o''brien", "a.b-c_d"]
    made = {k: t.add_user(f"{k}@{graph.domain}", k) for k in logins}
    for user in made.values():
        t.soft_delete(user)
    for login in ("o'brien", "a#b!c", "x^y~z"):
        r = cli("-p", "entra", "account", "restore", login)
        assert r.code == 0, (login, r.out + r.err)
        assert made[login]["id"] in t.users, login
    r = cli("-p", "entra", "account", "delete", "o''brien", "--hard")
    assert r.code == 0, r.out + r.err
    assert made["o''brien"]["id"] not in t.deleted and made["a.b-c_d"]["id"] in t.deleted


def test_the_fake_refuses_an_app_in_no_role_the_delete_of_an_administrator(
        graph: GraphRig) -> None:
    """Graph (user: delete): in app-only scenarios User.ReadWrite.All is not enough to
    delete a user with a privileged administrator role; the fake was kinder."""
    import ssl

    import httpx

    from tests.unit.test_entra_fake import token

    admin, kd = graph.user("admin"), graph.user("kdvorak")
    assert admin is not None and kd is not None
    with httpx.Client(base_url=graph.fake.base + "/v1.0/",
                      verify=ssl.create_default_context(cafile=str(graph.ca)),
                      headers={"Authorization": "Bearer " + token(graph)}) as http:
        refused = http.delete(f"users/{admin['id']}")
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "Authorization_RequestDenied"
        assert http.delete(f"users/{kd['id']}").status_code == 204
    assert admin["id"] in graph.tenant.users and kd["id"] in graph.tenant.deleted


def test_deleted_items_pages_without_end_are_not_followed_for_ever(
        graph: GraphRig, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each page names a new next page (a new $skiptoken) and never a last one: the
    loop check by URL never fires; the page limit must (lowered here to stay quick)."""
    from adminkit.accounts import entra

    monkeypatch.setattr(entra, "PAGES_MAX", 30)
    graph.profile()
    kd = _binned(graph, "kdvorak")
    fake, listing = graph.fake, graph.fake._list
    count = iter(range(10**9))

    def endless(kind: str, rows: list[dict[str, Any]], entry: Any, headers: Any) -> Any:
        status, out, body = listing(kind, rows, entry, headers)
        if kind.startswith("directory/deletedItems"):
            token = f"t{next(count)}"
            fake._pages[token] = 0  # a token the fake honours: the first page again
            link = f"{fake.base}/v1.0{entry.path}?$skiptoken={token}"
            body = {**body, "value": [], "@odata.nextLink": link}
        return status, out, body

    fake._list = endless  # type: ignore[method-assign]
    r = cli("-p", "entra", "account", "restore", "kdvorak")
    assert r.code == 1, r.out + r.err
    assert "pages" in r.out + r.err
    assert kd["id"] in graph.tenant.deleted


def test_an_object_id_in_capitals_names_the_same_deleted_user(graph: GraphRig,
                                                              cli: Cli) -> None:
    """Object ids are GUIDs: Graph reads them in any case (the Entra portal shows them
    in lower case, PowerShell's Guid type prints either)."""
    graph.profile()
    kd = _binned(graph, "kdvorak")
    r = cli("-p", "entra", "account", "restore", kd["id"].upper())
    assert r.code == 0, r.out + r.err
    assert kd["id"] in graph.tenant.users
