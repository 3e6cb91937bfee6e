"""Login names from people's names: transliterated, lower-case ASCII, unique, at most 20 chars."""

from __future__ import annotations

import itertools

import pytest

from adminkit.accounts.naming import MAX_SAM, ascii_fold, candidates, login_for


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


def first_free(login: str, taken: set[str], **kw: int) -> str:
    return next(c for c in candidates(login, **kw) if c not in taken)


def test_candidates_start_with_the_login_itself() -> None:
    assert first_free("jcermak", set()) == "jcermak"


def test_candidates_suffix_is_deterministic() -> None:
    taken = {"jcermak", "jcermak2", "jcermak3"}
    assert first_free("jcermak", taken) == "jcermak4"
    assert first_free("jcermak", taken) == "jcermak4"  # same answer every time


def test_candidates_come_in_order() -> None:
    assert list(itertools.islice(candidates("jnovak"), 4)) == [
        "jnovak", "jnovak2", "jnovak3", "jnovak4"]


def test_candidates_respect_the_limit() -> None:
    base = "mwolfeschlegelsteinh"  # already 20
    taken = {base} | {base[:19] + str(n) for n in range(2, 10)}
    got = first_free(base, taken)
    assert got == base[:18] + "10"
    assert len(got) == MAX_SAM
    assert first_free("abcdef", {"abcdef"}, limit=6) == "abcde2"


def test_candidates_end_at_999() -> None:
    every = list(candidates("x"))
    assert len(every) == 999 and every[-1] == "x999"
