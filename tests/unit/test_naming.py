"""Login names from people's names: transliterated, lower-case ASCII, unique, at most 20 chars."""

from __future__ import annotations

import pytest

from adminkit.accounts.naming import MAX_SAM, ascii_fold, login_for, unique


@pytest.mark.parametrize(("given", "surname", "login"), [
    ("Jiří", "Čermák", "jcermak"),
    # Czech
    ("Řehoř", "Žďárský", "rzdarsky"),
    ("Přemysl", "Ůžička", "puzicka"),
    # Slovak
    ("Ľubomír", "Šťastný", "lstastny"),
    ("Ďuro", "Ňuňez", "dnunez"),
    ("Ľudmila", "Ĺaďová", "lladova"),
    # German
    ("Jürgen", "Müller", "jmuller"),
    ("Hans", "Straße", "hstrasse"),
    ("Ömer", "Größer", "ogrosser"),
    # Polish
    ("Łukasz", "Wałęsa", "lwalesa"),
    ("Zbigniew", "Ślązak", "zslazak"),
    ("Żaneta", "Źdźbło", "zzdzblo"),
    # punctuation and spaces are dropped, not turned into separators
    ("Anne-Marie", "O'Neill", "aoneill"),
    ("Jan", "van der Berg", "jvanderberg"),
    ("  jan ", "NOVÁK", "jnovak"),
])
def test_login_for(given: str, surname: str, login: str) -> None:
    assert login_for(given, surname) == login


@pytest.mark.parametrize(("given", "surname", "login"), [
    ("Jürgen", "Müller", "jmueller"),
    ("Ömer", "Größer", "ogroesser"),  # only the first letter of the given name
    ("Hans", "Straße", "hstrasse"),
    ("Jiří", "Čermák", "jcermak"),  # german=True changes only ä ö ü
])
def test_login_for_german(given: str, surname: str, login: str) -> None:
    assert login_for(given, surname, german=True) == login


def test_ascii_fold() -> None:
    assert ascii_fold("Jiří Čermák") == "Jiri Cermak"
    assert ascii_fold("Müller", german=True) == "Mueller"
    assert ascii_fold("Müller") == "Muller"
    assert ascii_fold("Łódź") == "Lodz"
    assert ascii_fold("STRASSE ẞ") == "STRASSE SS"
    assert ascii_fold("Søren Ærø") == "Soren AEro"


@pytest.mark.parametrize("given", ["Jiří", "Ľubomír", "Łukasz", "Jürgen"])
def test_logins_are_lower_case_ascii(given: str) -> None:
    login = login_for(given, "Ščerbáková-Wöhrle Łęczycka")
    assert login.isascii()
    assert login.isalnum()
    assert login == login.lower()


def test_login_is_cut_to_the_limit() -> None:
    login = login_for("Maximilian", "Wolfeschlegelsteinhausenbergerdorff")
    assert login == "mwolfeschlegelsteinh"
    assert len(login) == MAX_SAM == 20
    assert login_for("Anna", "Nováková", limit=5) == "anova"


@pytest.mark.parametrize(("given", "surname"), [("!!!", "???"), ("", ""), ("😀", "—"),
                                                ("-", "'"), ("中", "文")])
def test_all_symbol_names_raise(given: str, surname: str) -> None:
    with pytest.raises(ValueError, match="cannot make a login"):
        login_for(given, surname)


def test_digits_are_kept() -> None:
    assert login_for("123", "") == "1"
    assert login_for("Karel", "IV.") == "kiv"


def test_unique_returns_the_login_when_free() -> None:
    assert unique("jcermak", lambda _: False) == "jcermak"


def test_unique_suffix_is_deterministic() -> None:
    taken = {"jcermak", "jcermak2", "jcermak3"}
    assert unique("jcermak", taken.__contains__) == "jcermak4"
    assert unique("jcermak", taken.__contains__) == "jcermak4"  # same answer every time


def test_unique_asks_in_order() -> None:
    asked: list[str] = []

    def taken(login: str) -> bool:
        asked.append(login)
        return len(asked) < 4

    assert unique("jnovak", taken) == "jnovak4"
    assert asked == ["jnovak", "jnovak2", "jnovak3", "jnovak4"]


def test_unique_respects_the_limit() -> None:
    base = "mwolfeschlegelsteinh"  # already 20
    taken = {base} | {base[:19] + str(n) for n in range(2, 10)}
    got = unique(base, taken.__contains__)
    assert got == base[:18] + "10"
    assert len(got) == MAX_SAM
    assert unique("abcdef", {"abcdef"}.__contains__, limit=6) == "abcde2"


def test_unique_gives_up() -> None:
    with pytest.raises(ValueError, match="no free login"):
        unique("x", lambda _: True)
