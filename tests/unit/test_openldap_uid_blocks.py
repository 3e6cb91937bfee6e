"""uidNumbers come in blocks reserved by one compare-and-swap each, sized by the
batches asked for (four units at once) and growing up to UID_BLOCK: a bulk import of
2,000 rows on one connection takes a handful of reservations, a single create one
number, and no number is given twice."""

from __future__ import annotations

from adminkit.accounts import openldap
from adminkit.accounts.openldap import OpenLdapDirectory


def _directory(reserved: list[tuple[int, int]]) -> OpenLdapDirectory:
    directory = object.__new__(OpenLdapDirectory)  # no connection: only the counter
    directory._uid_free = iter(())
    directory._uid_block = 1
    counter = [10_000]

    def reserve(count: int) -> int:
        start = counter[0]
        counter[0] += count
        reserved.append((start, count))
        return start

    directory._reserve_uid_numbers = reserve  # type: ignore[method-assign]
    return directory


def test_a_bulk_import_reserves_few_blocks_and_no_number_twice() -> None:
    reserved: list[tuple[int, int]] = []
    directory = _directory(reserved)
    numbers: list[int] = []
    for _ in range(80):  # 80 units of 25, as create_users sizes the next block
        directory._size_uid_block(25)  # as create_users does
        numbers += [directory.next_uid_number() for _ in range(25)]
    assert len(set(numbers)) == 2000 and numbers == sorted(numbers)
    assert max(count for _, count in reserved) == openldap.UID_BLOCK == 256
    assert [count for _, count in reserved[:3]] == [100, 200, 256]  # 4 units, then more
    assert len(reserved) == 9  # 300 numbers, then 256 a block


def test_a_single_create_takes_one_number() -> None:
    reserved: list[tuple[int, int]] = []
    directory = _directory(reserved)
    directory._size_uid_block(1)
    assert directory.next_uid_number() == 10_000
    assert reserved == [(10_000, 1)]
