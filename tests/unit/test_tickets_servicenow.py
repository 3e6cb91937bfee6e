"""What only the ServiceNow backend does, against a protocol-level fake of the Table and
Attachment APIs.

The real httpx client talks to tests/fakes/servicenow.py over HTTP; nothing is mocked.
What every backend must do (delivery through the outbox, retries, refused credentials,
missing tickets) is in test_ticket_contract.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adminkit.core.errors import (
    ActionFailed,
    AdminkitError,
    AuthenticationFailed,
    ConnectionFailed,
    UsageError,
)
from adminkit.core.secrets import redact
from adminkit.journal.store import Journal
from adminkit.tickets.base import Rejected, TicketNotFound
from adminkit.tickets.outbox import FlushReport, flush
from adminkit.tickets.servicenow import NoteNotSaved, ServiceNow
from tests.fakes.httpserver import Reply, self_signed_tls
from tests.fakes.outbox_rig import NOTE, RUN, make_due, marker, queue_note
from tests.fakes.servicenow import FakeServiceNow
from tests.fakes.ticketfake import profile_for


@pytest.fixture
def fake() -> Iterator[FakeServiceNow]:
    with FakeServiceNow(token="snow-oauth-token-9") as fake:
        fake.record("INC0012345", "Please block jdoe", state="2", caller="Anna Example",
                    group="Service Desk")
        fake.record("RITM0001234", "New laptop for jdoe", caller="Jan Doe")
        yield fake


def clean(fake: FakeServiceNow) -> None:
    assert fake.unknown == [], "the backend called something the Table API does not have"
    assert fake.ignored_query == [], "the backend sent query conditions an instance drops"
    assert fake.ignored_fields == [], "the backend sent fields an instance ignores"


@pytest.fixture
def snow(fake: FakeServiceNow, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServiceNow]:
    backend = ServiceNow(profile_for(fake, monkeypatch))
    yield backend
    backend.close()
    clean(fake)


def test_add_note_is_a_work_note(snow: ServiceNow, fake: FakeServiceNow) -> None:
    note_id = snow.add_note("INC0012345", NOTE)
    assert fake.journal_of("INC0012345") == [("work_notes", NOTE)]
    rec = fake.find("INC0012345")
    [entry] = [j for j in fake.store.journal if j["element_id"] == rec["sys_id"]]
    assert note_id == entry["sys_id"]  # the journal entry, as find_note names it
    [patch] = [r for r in fake.requests if r.method == "PATCH"]
    assert patch.path == f"/api/now/table/incident/{rec['sys_id']}"
    assert patch.json() == {"work_notes": NOTE}


def test_the_prefix_names_the_table(snow: ServiceNow, fake: FakeServiceNow) -> None:
    snow.add_note("RITM0001234", NOTE)
    assert fake.journal_of("RITM0001234") == [("work_notes", NOTE)]
    assert any(r.path == "/api/now/table/sc_req_item" for r in fake.requests)


def test_options_table_overrides_the_prefix(fake: FakeServiceNow,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    backend = ServiceNow(profile_for(fake, monkeypatch, options={"tables": {"INC": "problem"}}))
    try:
        with pytest.raises(TicketNotFound, match="no such record in problem"):
            backend.add_note("INC0012345", NOTE)
    finally:
        backend.close()


def test_an_unknown_prefix_is_a_usage_error(snow: ServiceNow) -> None:
    with pytest.raises(UsageError, match="no table known for the prefix CS") as err:
        snow.add_note("CS0001234", NOTE)
    assert err.value.hint is not None and "tickets.options.tables" in err.value.hint


def test_a_malformed_number_never_reaches_a_query(snow: ServiceNow) -> None:
    with pytest.raises(UsageError, match="not a ServiceNow record number"):
        snow.add_note("INC001^ORnumber!=x", NOTE)


def test_find_note_searches_the_journal(snow: ServiceNow, fake: FakeServiceNow) -> None:
    fake.journal_entry("INC0012345", "customer called back", element="comments")
    entry = fake.journal_entry("INC0012345", NOTE)
    fake.journal_entry("RITM0001234", NOTE)  # the same marker on another record
    assert snow.find_note("INC0012345", marker(RUN, 0)) == entry
    assert snow.find_note("INC0012345", marker(RUN, 1)) is None
    query = next(r.arg("sysparm_query") for r in fake.requests
                 if r.path == "/api/now/table/sys_journal_field")
    sys_id = fake.find("INC0012345")["sys_id"]
    assert query == f"element_id={sys_id}^elementINwork_notes,comments^valueLIKE{marker(RUN, 0)}"


def test_find_note_checks_the_text_when_the_instance_drops_a_condition(
        snow: ServiceNow, fake: FakeServiceNow) -> None:
    fake.unqueryable = {"value"}  # this instance cannot search the journal text
    fake.journal_entry("INC0012345", "adminkit:R0:0; an older note")
    assert snow.find_note("INC0012345", marker(RUN, 0)) is None
    fake.ignored_query.clear()


def test_find_note_in_the_record_for_an_account_without_journal_access(
        fake: FakeServiceNow, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.journal_readable = False
    fake.journal_entry("INC0012345", NOTE)
    backend = ServiceNow(profile_for(fake, monkeypatch, options={"find_notes_in": "record"}))
    try:
        assert backend.find_note("INC0012345", marker(RUN, 0)) == fake.find("INC0012345")[
            "sys_id"]
        assert backend.find_note("INC0012345", marker(RUN, 1)) is None
    finally:
        backend.close()
    clean(fake)


def test_get_maps_the_record(snow: ServiceNow) -> None:
    ticket = snow.get("INC0012345")
    assert str(ticket.ref) == "snow:INC0012345"
    assert ticket.subject == "Please block jdoe"
    assert ticket.status == "In Progress"
    assert ticket.queue == "Service Desk"
    assert ticket.requester == "Anna Example"
    assert (ticket.fields["table"], ticket.fields["state"]) == ("incident", "2")
    assert snow.get("RITM0001234").requester == "Jan Doe"


def test_set_status_by_label_or_value(snow: ServiceNow, fake: FakeServiceNow) -> None:
    snow.set_status("INC0012345", "On Hold")
    assert fake.find("INC0012345")["state"] == "3"
    snow.set_status("INC0012345", "2")
    assert fake.find("INC0012345")["state"] == "2"


def test_resolving_an_incident_needs_the_resolve_fields(snow: ServiceNow,
                                                        fake: FakeServiceNow) -> None:
    with pytest.raises(ActionFailed, match="Data Policy Exception") as err:
        snow.set_status("INC0012345", "Resolved")
    assert err.value.hint is not None and "resolve_fields" in err.value.hint
    assert fake.find("INC0012345")["state"] == "2"


def test_resolve_fields_go_with_a_move_to_resolved(fake: FakeServiceNow,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    fields = {"close_code": "Solution provided", "close_notes": "Blocked as asked."}
    backend = ServiceNow(profile_for(fake, monkeypatch, options={"resolve_fields": fields}))
    try:
        backend.set_status("INC0012345", "Resolved")
    finally:
        backend.close()
    rec = fake.find("INC0012345")
    assert (rec["state"], rec["close_code"], rec["close_notes"]) == (
        "6", "Solution provided", "Blocked as asked.")
    clean(fake)


def test_attach_uploads_the_file_to_the_record(snow: ServiceNow, fake: FakeServiceNow) -> None:
    snow.attach("INC0012345", "report.txt", b"jdoe: disabled\n")
    [att] = fake.store.attachments
    rec = fake.find("INC0012345")
    assert (att.table_name, att.table_sys_id, att.file_name, att.content_type, att.data) == (
        "incident", rec["sys_id"], "report.txt", "text/plain", b"jdoe: disabled\n")


def test_bearer_token(fake: FakeServiceNow, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNOW_TOKEN", "snow-oauth-token-9")
    backend = ServiceNow(profile_for(fake, monkeypatch, user=None, password=None,
                                     token="env:SNOW_TOKEN"))
    try:
        backend.add_note("INC0012345", NOTE)
    finally:
        backend.close()
    assert fake.requests[-1].header("authorization") == "Bearer snow-oauth-token-9"


def test_tls_is_verified_against_the_profiles_ca_file(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    fake = FakeServiceNow()
    fake.server.tls, ca_file = self_signed_tls(tmp_path)
    with fake:
        fake.record("INC0012345")
        assert fake.url.startswith("https://")
        untrusting = ServiceNow(profile_for(fake, monkeypatch))
        try:
            # a configuration problem: refused for good, not retried
            with pytest.raises(Rejected, match="certificate could not be verified"):
                untrusting.add_note("INC0012345", NOTE)
        finally:
            untrusting.close()
        trusting = ServiceNow(profile_for(fake, monkeypatch, ca_file=str(ca_file)))
        try:
            trusting.add_note("INC0012345", NOTE)
        finally:
            trusting.close()
        assert fake.journal_of("INC0012345") == [("work_notes", NOTE)]


def test_ping_names_the_account_and_the_table(snow: ServiceNow, fake: FakeServiceNow) -> None:
    text = snow.ping()
    assert text == ("ServiceNow Table API: authenticated as Adminkit Integration "
                    "(adminkit.integration), table incident readable, journal readable")
    assert [r.path for r in fake.requests] == ["/api/now/table/sys_user",
                                               "/api/now/table/incident",
                                               "/api/now/table/sys_journal_field"]
    assert fake.password not in text


def test_ping_with_an_oauth_token_names_no_user(fake: FakeServiceNow,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNOW_TOKEN", "snow-oauth-token-9")
    backend = ServiceNow(profile_for(fake, monkeypatch, user=None, password=None,
                                     token="env:SNOW_TOKEN", options={"table": "sc_req_item"}))
    try:
        text = backend.ping()
    finally:
        backend.close()
    assert text == ("ServiceNow Table API: OAuth token accepted, table sc_req_item readable, "
                    "journal readable")
    clean(fake)


def test_ping_when_the_account_may_not_read_sys_user(snow: ServiceNow,
                                                     fake: FakeServiceNow) -> None:
    fake.users_readable = False
    assert "authenticated as adminkit.integration (its sys_user record is not readable)" \
        in snow.ping()
    fake.empty_as_404 = True  # Table API v1: an empty answer is a 404
    assert "(its sys_user record is not readable), table incident readable" in snow.ping()


def test_ping_fails_when_the_journal_is_not_readable(fake: FakeServiceNow, snow: ServiceNow,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    fake.journal_readable = False  # the read ACL hides every row, answering 200 []
    with pytest.raises(ConnectionFailed, match="sees no journal entries") as err:
        snow.ping()
    assert err.value.exit_code == 3 and "sys_journal_field" in (err.value.hint or "")
    record = ServiceNow(profile_for(fake, monkeypatch, options={"find_notes_in": "record"}))
    try:
        assert record.ping().endswith("table incident readable")  # it needs no journal
    finally:
        record.close()


def test_a_redelivery_without_journal_access_does_not_post_twice(
        fake: FakeServiceNow, snow: ServiceNow) -> None:
    fake.journal_readable = False
    snow.add_note("INC0012345", NOTE)  # posted; the answer, say, was lost
    assert snow.find_note("INC0012345", marker(RUN, 0)) == fake.find("INC0012345")["sys_id"]
    assert snow.find_note("INC0012345", marker(RUN, 1)) is None


def test_notes_lists_work_notes_and_comments_every_page(fake: FakeServiceNow,
                                                        snow: ServiceNow,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("adminkit.tickets.servicenow.PAGE", 2)
    for n in range(3):
        snow.add_note("INC0012345", f"work note {n}")
    snow.add_note("INC0012345", "for the caller", internal=False)
    assert [(n["internal"], n["body"]) for n in snow.notes("INC0012345")] == [
        (True, "work note 0"), (True, "work note 1"), (True, "work note 2"),
        (False, "for the caller")]
    reads = [r for r in fake.seen("GET", "/api/now/table/sys_journal_field")
             if r.arg("sysparm_offset") is not None]  # not add_note's read-backs
    assert [r.arg("sysparm_offset") for r in reads] == ["0", "2", "4"]  # 2 full, then none


def test_ping_at_an_address_that_is_no_instance(snow: ServiceNow, fake: FakeServiceNow) -> None:
    fake.fail(404, reply=Reply(404, b"<html><h1>Not Found</h1></html>",
                                      {"Content-Type": "text/html"}))
    with pytest.raises(ConnectionFailed, match="no such address") as err:
        snow.ping()
    assert not isinstance(err.value, AuthenticationFailed)
    assert err.value.hint and "tickets.url" in err.value.hint


def test_no_credentials_is_a_usage_error(fake: FakeServiceNow,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UsageError, match="ServiceNow needs"):
        ServiceNow(profile_for(fake, monkeypatch, password=None))


@pytest.mark.parametrize("call", ["add_note", "find_note", "get", "set_status", "attach"])
def test_a_missing_record_is_ticket_not_found_with_v1s_404(snow: ServiceNow,
                                                           fake: FakeServiceNow,
                                                           call: str) -> None:
    fake.empty_as_404 = True  # Table API v1 answers "nothing matched" with 404
    args = {"add_note": ("INC0099999", NOTE), "find_note": ("INC0099999", "m"),
            "get": ("INC0099999",), "set_status": ("INC0099999", "3"),
            "attach": ("INC0099999", "a.txt", b"x")}[call]
    with pytest.raises(TicketNotFound):
        getattr(snow, call)(*args)


def test_a_note_the_instance_silently_drops_is_not_delivered(snow: ServiceNow,
                                                             fake: FakeServiceNow) -> None:
    fake.read_only = {"work_notes"}
    with pytest.raises(NoteNotSaved, match="saved nothing") as err:
        snow.add_note("INC0012345", NOTE)
    assert isinstance(err.value, TicketNotFound)  # permanent: the outbox leaves it for a person
    assert fake.journal_of("INC0012345") == []


CLIENT_ID, CLIENT_SECRET = "adminkit-client-1", "oauth-client-secret-7"


@pytest.fixture
def oauth(fake: FakeServiceNow, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServiceNow]:
    """The backend with OAuth client credentials (both Secrets, from the environment)."""
    fake.oauth_clients[CLIENT_ID] = CLIENT_SECRET
    monkeypatch.setenv("SNOW_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SNOW_CLIENT_SECRET", CLIENT_SECRET)
    backend = ServiceNow(profile_for(fake, monkeypatch, user=None, password=None,
                                     client_id="env:SNOW_CLIENT_ID",
                                     client_secret="env:SNOW_CLIENT_SECRET"))
    yield backend
    backend.close()
    clean(fake)


def test_client_credentials_fetch_a_token_and_keep_the_secret_out_of_sight(
        oauth: ServiceNow, fake: FakeServiceNow) -> None:
    text = oauth.ping()
    assert text.startswith("ServiceNow Table API: OAuth client credentials accepted")
    [token_request] = fake.seen("POST", "/oauth_token.do")
    api = [r for r in fake.requests if r.path != "/oauth_token.do"]
    assert api and all(r.authorization()[0] == "Bearer" and
                       r.authorization()[1] in fake.issued for r in api)
    for r in fake.requests:  # the secret only ever in the token request's form body
        assert CLIENT_SECRET not in r.path + str(r.query) + str(r.headers)
    assert CLIENT_SECRET in token_request.body.decode()
    assert CLIENT_SECRET not in text


def test_an_expired_token_is_renewed_and_the_retried_note_delivered(
        oauth: ServiceNow, fake: FakeServiceNow, env: Any) -> None:
    journal = Journal(env.journal)
    queue_note(journal, system="servicenow", ticket="INC0012345")
    fake.fail(503, method="PATCH")  # the first try fails; the token then runs out
    assert flush(journal, lambda _p, _k: oauth, close=False).retrying == 1
    fake.expire_tokens()  # 30 minutes later
    make_due(journal)
    assert flush(journal, lambda _p, _k: oauth, close=False) == FlushReport(delivered=1)
    assert fake.journal_of("INC0012345") == [("work_notes", NOTE)]
    assert len(fake.seen("POST", "/oauth_token.do")) == 2  # the first, and its renewal
    journal.close()


def test_a_401_after_the_renewal_fails_for_good_naming_no_token(
        oauth: ServiceNow, fake: FakeServiceNow) -> None:
    oauth.ping()
    fake.fail(401, times=2, method="PATCH")  # refused, and refused again with a new token
    with pytest.raises(AuthenticationFailed, match="refused the credentials") as err:
        oauth.add_note("INC0012345", NOTE)
    assert len(fake.seen("POST", "/oauth_token.do")) == 2  # one renewal, no loop
    assert not [t for t in fake.issued if t in str(err.value)]
    fake.fail(400, method="PATCH", echo=True)  # an error page that lists the headers
    with pytest.raises(AdminkitError) as refused:
        oauth.add_note("INC0012345", NOTE)
    assert "You sent" in str(refused.value)
    assert not [t for t in fake.issued if t in redact(str(refused.value))]
    assert fake.journal_of("INC0012345") == []


def test_refused_client_credentials_are_an_authentication_failure(
        fake: FakeServiceNow, oauth: ServiceNow) -> None:
    fake.oauth_clients[CLIENT_ID] = "rotated-secret"
    with pytest.raises(AuthenticationFailed, match="refused the client credentials") as err:
        oauth.add_note("INC0012345", NOTE)
    assert err.value.exit_code == 3 and CLIENT_SECRET not in str(err.value)
    assert fake.journal_of("INC0012345") == []


def test_without_journal_access_add_note_names_the_record_version(
        fake: FakeServiceNow, snow: ServiceNow) -> None:
    fake.journal_readable = False
    rec = fake.find("INC0012345")
    assert snow.add_note("INC0012345", NOTE) == f"incident:{rec['sys_id']}:1"
