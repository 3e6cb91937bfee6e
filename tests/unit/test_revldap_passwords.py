"""Review of one CSPRNG read per password: a byte at or above the pool's limit is never
used (no modulo bias), no byte serves twice, and every length a profile or a directory
may ask for (12 to 128, and more) gets that length with every character class."""

from __future__ import annotations

import string

import pytest

from adminkit.accounts import passwords


class Counted(passwords._Source):
    """A source whose bytes are known: 0, 1, 2, ... (mod 256), refills continuing."""

    def __init__(self, size: int) -> None:
        self.next = 0
        self.handed: list[int] = []
        super().__init__(size)

    def take(self, count: int) -> bytes:
        taken = super().take(count)
        self.handed += list(taken)
        return taken


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    made: list[int] = []

    def urandom(size: int) -> bytes:
        out = bytes((len(made) + i) % 256 for i in range(size))
        made.extend(out)
        return out

    monkeypatch.setattr(passwords.os, "urandom", urandom)
    return made


def test_bytes_at_or_above_the_limit_are_never_used(counting: list[int]) -> None:
    pool = "abc"  # limit 255: byte 255 would favour 'a'
    source = Counted(0)
    source.data, source.at = bytes([255, 255, 1, 255, 5, 6] + [255] * 8), 0  # 2*3+8
    assert passwords._pick(pool, 3, source) == ["b", "c", "a"]


def test_no_byte_is_handed_out_twice(counting: list[int]) -> None:
    source = Counted(10)
    for size in (3, 7, 64, 1, 100, 5):
        source.take(size)
    # each handed byte is the next one the OS gave, none again (refills skip the rest)
    positions = []
    at = 0
    for b in source.handed:
        while counting[at] != b:
            at += 1
        positions.append(at)
        at += 1
    assert positions == sorted(set(positions))


@pytest.mark.parametrize("length", [1, 12, 13, 16, 20, 64, 127, 128, 256])
def test_every_length_has_every_class(length: int) -> None:
    for _ in range(50):
        text = passwords.generate(length).reveal()
        assert len(text) == max(length, 12)
        for pool in (string.ascii_uppercase, string.ascii_lowercase, string.digits,
                     passwords.SYMBOLS):
            assert any(ch in pool for ch in text), (pool, text)
        assert set(text) <= set(string.ascii_letters + string.digits + passwords.SYMBOLS)
