"""`Secret` stays masked in every way a value can be turned into text."""

from __future__ import annotations

import copy
import json
import logging
import pickle
import traceback
import uuid

import pytest
from pydantic import BaseModel

from adminkit.core.errors import SecretError
from adminkit.core.secrets import MASK, Secret, check_reference, redact, redact_obj, resolve


@pytest.fixture
def canary() -> str:
    return f"canary-{uuid.uuid4().hex}"


@pytest.fixture
def secret(canary: str) -> Secret:
    return Secret(canary)


class Credentials(BaseModel):
    user: str
    password: Secret


def test_reveal_is_the_only_way_back(secret: Secret, canary: str) -> None:
    assert secret.reveal() == canary
    assert Secret(secret).reveal() == canary  # wrapping a Secret does not nest
    assert len(secret) == len(canary)
    assert secret
    assert not Secret("")


def test_equality_compares_values(secret: Secret, canary: str) -> None:
    assert secret == Secret(canary)
    assert secret != Secret(canary + "x")
    assert secret != canary  # never equal to the plain string
    assert hash(secret) == hash(Secret(canary))


@pytest.mark.parametrize(
    "render",
    [
        pytest.param(repr, id="repr"),
        pytest.param(str, id="str"),
        pytest.param(lambda s: f"{s}", id="f-string"),
        pytest.param(lambda s: f"{s!r}", id="f-string-repr"),
        pytest.param(lambda s: f"{s:>40}", id="f-string-spec"),
        pytest.param(lambda s: f"{s:*^30}", id="f-string-fill"),
        pytest.param(lambda s: "{}".format(s), id="str.format"),  # noqa: UP032
        pytest.param(lambda s: "%s" % s, id="percent-s"),  # noqa: UP031
        pytest.param(lambda s: "%r" % (s,), id="percent-r"),  # noqa: UP031
        pytest.param(lambda s: "%(pw)s" % {"pw": s}, id="percent-mapping"),  # noqa: UP031
        pytest.param(lambda s: json.dumps({"pw": s}, default=str), id="json-default-str"),
        pytest.param(lambda s: str([s, {"k": s}, (s,)]), id="container-str"),
    ],
)
def test_every_text_form_is_masked(render, secret: Secret, canary: str) -> None:
    text = render(secret)
    assert canary not in text
    assert MASK in text


def test_format_spec_applies_to_the_mask(secret: Secret) -> None:
    assert f"{secret:>12}" == "    " + MASK
    assert f"{secret:<10}|" == MASK + "  |"


def test_json_without_default_refuses_rather_than_leaks(secret: Secret) -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        json.dumps({"pw": secret})


def test_pydantic_model_dumps_masked(canary: str) -> None:
    creds = Credentials(user="svc", password=canary)  # a plain value is wrapped on validation
    assert isinstance(creds.password, Secret)
    assert creds.password.reveal() == canary
    assert creds.model_dump(mode="json") == {"user": "svc", "password": MASK}
    assert json.loads(creds.model_dump_json()) == {"user": "svc", "password": MASK}
    assert creds.model_dump()["password"] == MASK
    assert canary not in repr(creds)
    assert canary not in str(creds)


def test_pydantic_model_keeps_a_given_secret(secret: Secret) -> None:
    assert Credentials(user="svc", password=secret).password is secret


def test_logging_masks(caplog: pytest.LogCaptureFixture, secret: Secret, canary: str) -> None:
    log = logging.getLogger("adminkit.test.secrets")
    with caplog.at_level(logging.DEBUG, logger="adminkit.test.secrets"):
        log.info("binding with %s", secret)
        log.info("binding with %r", secret)
        log.info("binding with %(pw)s", {"pw": secret})
        log.info(f"binding with {secret}")
        log.warning("args %s", {"user": "svc", "password": secret})
    assert len(caplog.records) == 5
    assert canary not in caplog.text
    for record in caplog.records:
        assert MASK in record.getMessage()


def test_exception_message_masks(secret: Secret, canary: str) -> None:
    def fail() -> None:
        raise RuntimeError(f"bind failed with password {secret}", secret)

    with pytest.raises(RuntimeError) as info:
        fail()
    assert canary not in str(info.value)
    assert canary not in repr(info.value)
    formatted = "".join(traceback.format_exception(info.value))
    assert canary not in formatted
    assert MASK in formatted


def test_redact_scrubs_known_values_from_free_text(secret: Secret, canary: str) -> None:
    echoed = f"LDAP error 49: invalid credentials for bind password '{canary}' (data 52e)"
    cleaned = redact(echoed)
    assert canary not in cleaned
    assert cleaned == "LDAP error 49: invalid credentials for bind password '********' (data 52e)"
    assert redact("") == ""
    assert redact("nothing secret here") == "nothing secret here"


def test_redact_prefers_the_longest_value() -> None:
    short = f"pw{uuid.uuid4().hex[:6]}"
    long_ = short + "-and-more"
    Secret(short)
    Secret(long_)
    assert redact(f"x {long_} y") == f"x {MASK} y"  # not "********-and-more"
    assert redact(f"x {short} y") == f"x {MASK} y"


def test_redact_leaves_very_short_values_alone() -> None:
    Secret("zq")  # too short to scrub without destroying ordinary words
    assert redact("zq is a word") == "zq is a word"


def test_redact_obj_walks_nested_structures(secret: Secret, canary: str) -> None:
    data = {
        "user": "svc",
        "password": secret,
        "nested": [1, None, True, {"echo": f"got {canary}", "items": (secret, f"{canary}!")}],
        canary: "key too",
    }
    out = redact_obj(data)
    assert canary not in json.dumps(out)
    assert out["user"] == "svc"
    assert out["password"] == MASK
    assert out["nested"][:3] == [1, None, True]
    assert out["nested"][3] == {"echo": f"got {MASK}", "items": [MASK, f"{MASK}!"]}
    assert out[MASK] == "key too"


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickling_is_refused(secret: Secret, protocol: int) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(secret, protocol=protocol)


def test_pickling_a_container_is_refused(secret: Secret) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps({"creds": [secret]})


def test_copy_is_refused_too(secret: Secret) -> None:
    with pytest.raises(TypeError):
        copy.deepcopy(secret)


def test_no_instance_dict(secret: Secret) -> None:
    assert not hasattr(secret, "__dict__")  # vars() cannot dump the value


# -- references --------------------------------------------------------------------------

@pytest.mark.parametrize("ref", ["env:BIND_PW", "file:/etc/adminkit/pw", "keyring:svc/user",
                                 "prompt"])
def test_valid_references(ref: str) -> None:
    assert check_reference(ref) == ref


@pytest.mark.parametrize(
    ("ref", "why"),
    [("hunter2", "reference"), ("env:", "reference"), ("file:relative/pw", "absolute"),
     ("keyring:nouser", "service/user"), ("vault:x", "reference")],
)
def test_invalid_references(ref: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_reference(ref)


def test_resolve_env(monkeypatch: pytest.MonkeyPatch, canary: str) -> None:
    monkeypatch.setenv("ADMINKIT_TEST_PW", canary)
    value = resolve("env:ADMINKIT_TEST_PW")
    assert isinstance(value, Secret)
    assert value.reveal() == canary


def test_resolve_env_missing_names_the_variable() -> None:
    with pytest.raises(SecretError, match="ADMINKIT_TEST_UNSET_PW is not set") as info:
        resolve("env:ADMINKIT_TEST_UNSET_PW", label="profile x: bind password")
    assert info.value.exit_code == 2


def test_resolve_file(tmp_path, canary: str) -> None:
    path = tmp_path / "pw"
    path.write_text(canary + "\n")
    path.chmod(0o600)
    assert resolve(f"file:{path}").reveal() == canary  # trailing newline stripped


def test_resolve_file_readable_by_others_is_refused(tmp_path, canary: str) -> None:
    path = tmp_path / "pw"
    path.write_text(canary)
    path.chmod(0o644)
    with pytest.raises(SecretError, match="readable by others") as info:
        resolve(f"file:{path}")
    assert canary not in str(info.value)


def test_resolve_file_missing(tmp_path) -> None:
    with pytest.raises(SecretError, match="cannot read"):
        resolve(f"file:{tmp_path / 'absent'}")


def test_resolve_prompt_without_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(SecretError, match="no terminal"):
        resolve("prompt")


def test_redact_with_many_known_values_finds_each_of_them() -> None:
    """Past a few dozen values redact looks values up by prefix: same answers, no scan."""
    values = [f"bulk-{uuid.uuid4().hex}" for _ in range(200)]
    for value in values:
        Secret(value)
    longer = values[7] + "-tail"
    Secret(longer)
    text = f"row 1: {values[0]}; row 2: {values[199]},{values[0]} and {longer}!"
    assert redact(text) == f"row 1: {MASK}; row 2: {MASK},{MASK} and {MASK}!"
    assert redact(f"x{values[7]}") == f"x{MASK}"
    assert redact("bulk- but no value") == "bulk- but no value"
    assert redact(values[3][:-1]) == values[3][:-1]  # a value cut short is not a value


def test_redact_with_many_values_finds_short_and_long_ones_anywhere() -> None:
    """Long values are looked up every few characters: an occurrence at any offset counts."""
    for _ in range(100):
        Secret(f"filler-{uuid.uuid4().hex}")
    short = f"s{uuid.uuid4().hex[:7]}"  # under 16 characters: tried one by one
    long_ = f"L{uuid.uuid4().hex}"
    Secret(short)
    Secret(long_)
    for offset in range(20):
        text = "x" * offset + long_ + " and " + short + "y" * offset
        assert redact(text) == "x" * offset + MASK + " and " + MASK + "y" * offset


class CountingText(str):
    """Text that counts how often a value is looked for in it (each look is a scan)."""

    scans = 0

    def __contains__(self, value: object) -> bool:
        CountingText.scans += 1
        return super().__contains__(value)  # type: ignore[operator]


def test_redact_scans_a_long_text_once_per_candidate_not_once_per_match() -> None:
    """Past 64 known values, redact looks values up by 4-character pieces of the text. A
    1 MB note of one repeated piece that a known value contains made it scan the whole
    text again at every position (some 80,000 scans of 1 MB: `ticket show` hung)."""
    from adminkit.core import secrets

    for i in range(secrets._FEW + 1):
        Secret(f"unrelated-value-{i:04d}-abcdefgh")
    Secret("padding-xxxxxxxxxxxxxxxx-value")
    text = CountingText("x" * (1 << 20))
    CountingText.scans = 0
    assert redact(text) == text
    assert CountingText.scans <= len(secrets._known)
