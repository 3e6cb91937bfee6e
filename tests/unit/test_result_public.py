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
