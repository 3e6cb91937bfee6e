"""Result.public(): the scrubbed JSON form, made once and made again after a change."""

from __future__ import annotations

import uuid

from adminkit.core.result import Change, Result, Status
from adminkit.core.secrets import MASK, Secret


def test_public_form_is_scrubbed_cached_and_refreshed_after_a_change() -> None:
    canary = f"canary-{uuid.uuid4().hex}"
    Secret(canary)
    result = Result(action="toy", target="t", status=Status.CHANGED,
                    summary=f"server said {canary}",
                    changes=[Change(op="set", field="password", after=Secret(canary))],
                    data={"echo": canary})
    public = result.public()
    assert canary not in str(public)
    assert public["summary"] == f"server said {MASK}"
    assert public["changes"][0]["after"] == MASK and public["data"] == {"echo": MASK}
    assert result.public() is public  # made once
    result.duration = 1.5
    assert result.public() is not public and result.public()["duration"] == 1.5


def test_a_secret_learnt_later_is_scrubbed_from_a_result_made_before() -> None:
    value = f"later-{uuid.uuid4().hex}"
    result = Result(action="toy", target="t", status=Status.FAILED,
                    summary=f"the server echoed {value}")
    assert value in result.public()["summary"]  # not a secret yet
    before = result.public()
    Secret(f"fresh-{uuid.uuid4().hex}", fresh=True)  # a generated password: nothing to redo
    assert result.public() is before
    Secret(value)  # a credential resolved after the result was made
    assert result.public()["summary"] == f"the server echoed {MASK}"


def test_a_copy_does_not_keep_the_scrubbed_form_of_the_original() -> None:
    result = Result(action="toy", target="t", status=Status.CHANGED, summary="done")
    assert result.public()["summary"] == "done"
    copy = result.model_copy(update={"summary": "done (earlier)"})
    assert copy.public()["summary"] == "done (earlier)"


def test_a_shared_change_is_scrubbed_once_and_again_when_a_secret_is_learnt() -> None:
    from adminkit.core.result import shared_change

    value = f"ou-{uuid.uuid4().hex}"
    change = shared_change("set", "ou", value)
    rows = [Result(action="toy", target=f"t{i}", status=Status.CHANGED, summary="s",
                   changes=[change]) for i in range(2)]
    first = [r.public(keep=False)["changes"][0] for r in rows]
    assert first[0] is first[1] and first[0]["after"] == value  # made once, shared
    Secret(value)
    assert [r.public(keep=False)["changes"][0]["after"] for r in rows] == [MASK, MASK]


def test_shared_field_sets_never_change_under_another_result() -> None:
    from adminkit.core.result import share_fields_set

    a, b = (Result(action="toy", target=t, status=Status.OK, summary="s") for t in "ab")
    share_fields_set(a)
    share_fields_set(b)
    assert a.model_fields_set is b.model_fields_set
    a.duration = 2.0
    assert "duration" in a.model_fields_set and "duration" not in b.model_fields_set
    assert b.model_dump(exclude_unset=True) == {"action": "toy", "target": "b",
                                                 "status": Status.OK, "summary": "s"}


def _bulk_row(secret: str) -> Result:
    return Result(action="account.create", target="jnovak", status=Status.CHANGED,
                  summary="create account jnovak (Jan Nováček)",
                  changes=[Change(op="create", field="account", after="jnovak"),
                           Change(op="set", field="password", after=Secret(secret))],
                  data={"login": "jnovak", "echo": secret, "n": 3})


def test_public_line_is_the_public_form_as_json_whether_or_not_parts_were_encoded() -> None:
    import json

    secret = f"line-{uuid.uuid4().hex}"
    Secret(secret)
    plain, spliced = _bulk_row(secret), _bulk_row(secret)
    expected = json.dumps(plain.public(), ensure_ascii=False, default=str)
    assert plain.public_line() == expected  # nothing encoded yet: one dumps
    assert json.loads(spliced.public_json("changes")) == spliced.public()["changes"]
    assert json.loads(spliced.public_json("data")) == {"login": "jnovak", "echo": MASK, "n": 3}
    assert spliced.public_line() == expected  # the same text, the same order
    assert secret not in spliced.public_line()


def test_public_json_is_made_again_when_the_public_form_is() -> None:
    import json

    result = _bulk_row(f"again-{uuid.uuid4().hex}")
    first = result.public_json("data")
    assert result.public_json("data") is first  # encoded once
    result.data = {"login": "jnovak2"}
    assert json.loads(result.public_json("data")) == {"login": "jnovak2"}
    assert json.loads(result.public_line())["data"] == {"login": "jnovak2"}
    later = f"later-{uuid.uuid4().hex}"
    result.data = {"echo": later}
    assert later in result.public_json("data")
    Secret(later)  # known only now: the cached text is not used again
    assert later not in result.public_json("data") and later not in result.public_line()
