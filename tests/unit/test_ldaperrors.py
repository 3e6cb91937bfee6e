"""LDAP answers and ldap3's exceptions become the documented exit codes, for both
directories; what only AD or only ppolicy says is read by that backend."""

from __future__ import annotations

import pytest
from ldap3.core import exceptions as lexc

from adminkit.accounts import ad, openldap
from adminkit.accounts.ldaperrors import (
    OutcomeUnknown,
    bind_error,
    exception_error,
    outcome_unknown,
    result_error,
)
from adminkit.core.errors import (
    ActionFailed,
    AuthenticationFailed,
    ConnectionFailed,
    ExitCode,
    PolicyRefused,
    ValidationError,
)


@pytest.mark.parametrize(("code", "cls", "exit_code"), [
    (50, PolicyRefused, ExitCode.POLICY),
    (19, ValidationError, ExitCode.USAGE),
    (21, ValidationError, ExitCode.USAGE),
    (34, ValidationError, ExitCode.USAGE),
    (65, ValidationError, ExitCode.USAGE),
    (49, AuthenticationFailed, ExitCode.CONNECTION),
    (52, ConnectionFailed, ExitCode.CONNECTION),
    (51, ConnectionFailed, ExitCode.CONNECTION),
    (8, ConnectionFailed, ExitCode.CONNECTION),
    (68, ActionFailed, ExitCode.FAILED),
    (32, ActionFailed, ExitCode.FAILED),
    (53, ActionFailed, ExitCode.FAILED),
    (80, ActionFailed, ExitCode.FAILED),
])
def test_a_result_code_picks_the_error_and_its_exit_code(
        code: int, cls: type[Exception], exit_code: ExitCode) -> None:
    error = result_error({"result": code, "description": "x", "message": ""}, "create jnovak")
    assert type(error) is cls and error.exit_code == exit_code
    assert str(error).startswith("create jnovak: ")


def test_a_detail_is_said_instead_of_the_code_and_is_bad_input() -> None:
    error = result_error({"result": 53, "message": "x"}, "reset", detail="too short")
    assert isinstance(error, ValidationError) and error.message == "reset: too short"


@pytest.mark.parametrize(("exc", "cls"), [
    (lexc.LDAPInvalidDnError("bad dn"), ValidationError),
    (lexc.LDAPInvalidFilterError("bad filter"), ValidationError),
    (lexc.LDAPSocketReceiveError("error receiving data"), ConnectionFailed),
    (lexc.LDAPSessionTerminatedByServerError("session terminated by server"),
     ConnectionFailed),
    (lexc.LDAPResponseTimeoutError("no response from server"), ConnectionFailed),
    (ConnectionResetError(104, "Connection reset by peer"), ConnectionFailed),
    (lexc.LDAPInsufficientAccessRightsResult(result=50, description="insufficientAccessRights"),
     PolicyRefused),
    (lexc.LDAPExtensionError("multiple extended responses"), ActionFailed),
])
def test_an_ldap3_exception_becomes_an_adminkit_error(exc: Exception,
                                                      cls: type[Exception]) -> None:
    error = exception_error(exc, "search under dc=example,dc=org")
    assert type(error) is cls
    assert error.message.startswith("search under dc=example,dc=org: ")


def test_a_lost_answer_says_what_may_have_happened_and_what_to_check() -> None:
    error = outcome_unknown("create jnovak", "127.0.0.1:636", "the connection ended",
                            "look uid=jnovak,ou=people,dc=example,dc=org up")
    assert isinstance(error, OutcomeUnknown) and error.exit_code == ExitCode.CONNECTION
    assert "may or may not have been done" in error.message
    assert error.hint is not None and error.hint.startswith("look uid=jnovak")


def test_ad_bind_and_write_codes_are_read_by_the_ad_backend() -> None:
    refused = {"result": 49, "description": "invalidCredentials",
               "message": "80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext "
                          "error, data 775, v1db1"}
    assert ad.bind_reason(refused) == "account locked out"
    assert "account locked out" in str(bind_error(refused, "svc",
                                                  reason=ad.bind_reason(refused)))
    taken = {"result": 68, "message": "00002071: UpdErr: DSID-031B0D3A, problem 6005"}
    error = ad.ad_error(taken, "create jnovak")
    assert isinstance(error, ValidationError) and "sAMAccountName is already taken" in str(error)
    policy = {"result": 19, "message": "0000052D: Constraint violation - "
                                       "check_password_restrictions: the password is too short"}
    assert "domain's policy" in str(ad.ad_error(policy, "reset"))


def test_ppolicy_texts_are_read_by_the_openldap_backend() -> None:
    said = {"result": 19, "message": "Password fails quality checking policy"}
    assert openldap.ppolicy_detail(said) == (
        "the password does not meet the directory's password policy")
    assert openldap.ppolicy_detail({"result": 19, "message": "Password is in history of old "
                                                             "passwords"}
                                   ) == "the password was used before (history)"
    assert openldap.ppolicy_detail({"result": 53, "message": "too short"}) is None
    error = openldap.openldap_error(said, "reset jnovak")
    assert isinstance(error, ValidationError) and "password policy" in error.message
