"""Resuming a run whose `printer add` took its device URI from a secret.

The journal keeps no secret: the recorded parameters lack `uri_secret`, and AddParams
wants exactly one of uri and uri_secret. The resume must still rebuild the run (an add
journaled as done is skipped; one not done is refused with what to do), not fail as a
whole with "the recorded parameters no longer validate".
"""

from __future__ import annotations

import pytest

from adminkit.core.errors import UsageError
from adminkit.core.secrets import Secret
from adminkit.printing.actions.lifecycle import AddParams, AddPrinter


def test_an_add_with_a_uri_secret_is_rebuilt_without_its_secret() -> None:
    from adminkit.automation.record import NotKept, rebuild

    action = AddPrinter(AddParams(printer="floor3", server="lab-cups", location="3rd floor",
                                  uri_secret=Secret("smb://svc:Zq81kkP@fs1/f3")))
    entry = action.record()
    assert "Zq81kkP" not in repr(entry) and entry["secrets"] == ["uri_secret"]
    rebuilt = rebuild(entry, None)
    assert isinstance(rebuilt, NotKept)
    assert rebuilt.target() == "floor3"
    with pytest.raises(UsageError) as refused:
        rebuilt.plan(None)  # type: ignore[arg-type]
    assert "uri_secret" in refused.value.message and "stdin" not in refused.value.message
