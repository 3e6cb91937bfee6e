"""A purge's journal row names every job it cancels, in runs (`1-1500,1502-2000`)."""

from __future__ import annotations

import pytest

from adminkit.printing.idranges import id_ranges


@pytest.mark.parametrize(("ids", "text"), [
    ([], ""),
    ([7], "7"),
    ([1, 2, 3], "1-3"),
    ([5, 1, 2, 3, 9, 10, 12], "1-3,5,9-10,12"),
    ([*range(1, 1501), *range(1502, 2001)], "1-1500,1502-2000"),
    ([4, 4, 5], "4-5"),
])
def test_every_id_in_runs(ids: list[int], text: str) -> None:
    assert id_ranges(ids) == text


def test_the_runs_give_back_exactly_the_ids() -> None:
    ids = [3, 8, 9, 10, 11, 40, 41, 97, 2**31 - 1]
    back: list[int] = []
    for run in id_ranges(ids).split(","):
        first, _, last = run.partition("-")
        back += range(int(first), int(last or first) + 1)
    assert back == ids
