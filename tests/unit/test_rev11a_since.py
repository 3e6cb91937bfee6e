"""`journal list --since` far out of range is a usage error, not a crash (rev11a)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize("since", ["99999999999d", "999999d", "9999-12-31T23:59:59-23:59",
                                   "0001-01-01T00:00:00+01:00"])
def test_a_since_out_of_range_is_a_usage_error(cli: Any, since: str) -> None:
    for command in (["journal", "list"], ["journal", "list", "--runs"]):
        res = cli(*command, "--since", since)
        assert res.code == 2, res.err
        assert f"--since {since!r}: outside years 1 to 9999" in res.err
        assert "internal error" not in res.err


@pytest.mark.parametrize("since", ["30m", "7d", "2026-11-01", "2026-11-01T10:00:00+02:00"])
def test_ordinary_since_values_still_list(cli: Any, since: str) -> None:
    assert cli("journal", "list", "--since", since).code == 0
