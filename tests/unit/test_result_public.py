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
