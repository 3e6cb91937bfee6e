"""Login names from people's names: transliterated, lower-case ASCII, unique, at most 20 chars."""

from __future__ import annotations

import itertools
import subprocess
import sys
from typing import get_args

import pytest

from adminkit.accounts import transliteration
from adminkit.accounts.naming import (
    MAX_SAM,
    UnusableName,
    ascii_fold,
    candidates,
    local_part,
    login_for,
)
from adminkit.accounts.settings import NamingRules
from adminkit.core.errors import ValidationError


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
                                                ("-", "'")])
def test_all_symbol_names_raise(given: str, surname: str) -> None:
    with pytest.raises(ValueError, match="cannot make a login"):
        login_for(given, surname)


def test_digits_are_kept() -> None:
    assert login_for("123", "4") == "14"
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


# -- names in other scripts --------------------------------------------------------------
def names(given: str, surname: str, scheme: str = "auto", **kw: bool) -> tuple[str, str]:
    """The login (jcermak) and mail local part (jiri.cermak), after checking that the
    given.surname login is that local part without the hyphens a login does not take."""
    local = local_part(given, surname, scheme=scheme, **kw)
    dotted = login_for(given, surname, scheme=scheme, style="given.surname", limit=64, **kw)
    assert dotted == local.replace("-", "")
    return login_for(given, surname, scheme=scheme, **kw), local


@pytest.mark.parametrize(("given", "surname", "login", "local"), [
    ("Олександр", "Шевченко", "oshevchenko", "oleksandr.shevchenko"),
    # Г h, Ґ g, зг zgh; й inside a word i
    ("Ганна", "Згурська", "hzghurska", "hanna.zghurska"),
    ("Арсеній", "Ґалаґан", "agalagan", "arsenii.galagan"),
    # Є Ї Й Ю Я start a word as ye yi y yu ya, and are ie i i iu ia inside it
    ("Євген", "Їжак", "yyizhak", "yevhen.yizhak"),
    ("Юрій", "Яковенко", "yyakovenko", "yurii.yakovenko"),
    ("Йосип", "Гаєвський", "yhaievskyi", "yosyp.haievskyi"),
    # the apostrophe, in all three spellings, vanishes; я after it is inside the word
    ("Мар'яна", "Коваль", "mkoval", "mariana.koval"),
    ("Мар’яна", "Коваль", "mkoval", "mariana.koval"),
    ("Марʼяна", "Коваль", "mkoval", "mariana.koval"),
    # Щ shch, Х kh, Ж zh; a hyphenated surname keeps its hyphen only in mail
    ("Христина", "Щербань-Жук", "kshcherbanzhuk", "khrystyna.shcherban-zhuk"),
])
def test_ukrainian_national_scheme(given: str, surname: str, login: str, local: str) -> None:
    assert names(given, surname, "uk") == (login, local)


def test_ukrainian_differs_from_the_general_fallback_where_the_standard_says_so() -> None:
    assert names("Олександр", "Шевченко")[0] == "oshevchenko"  # auto agrees here
    assert names("Ганна", "Гаєвська")[1] == "ganna.gaievska"  # but reads Г as g, є as ie
    assert names("Ганна", "Гаєвська", "uk")[1] == "hanna.haievska"


@pytest.mark.parametrize(("given", "surname", "scheme", "login", "local"), [
    # Russian passports (ICAO 9303): й i, ё e, ъ ie, ь silent, ю iu, я ia
    ("Сергей", "Щукин", "ru", "sshchukin", "sergei.shchukin"),
    ("Юлия", "Ёлкина", "ru", "ielkina", "iuliia.elkina"),
    ("Наталья", "Подъячева", "ru", "npodieiacheva", "natalia.podieiacheva"),
    # Bulgarian 2009: щ sht, ъ a, ц ts, -ия at a word's end ia
    ("Мария", "Георгиева", "bg", "mgeorgieva", "maria.georgieva"),
    ("Цветан", "Щерев", "bg", "tshterev", "tsvetan.shterev"),
    ("Христо", "Ъглов", "bg", "haglov", "hristo.aglov"),
    ("Йорданка", "Янкова", "bg", "yyankova", "yordanka.yankova"),
    # Serbian: Gaj's Latin, Ђ and Đ as dj, in either script
    ("Ђорђе", "Џаковић", "sr", "ddzakovic", "djordje.dzakovic"),
    ("Љиљана", "Његош", "sr", "lnjegos", "ljiljana.njegos"),
    ("Đorđe", "Ćosić", "sr", "dcosic", "djordje.cosic"),
    # Greek, ELOT 743
    ("Γεώργιος", "Παπαδόπουλος", "el", "gpapadopoulos", "georgios.papadopoulos"),
    ("Χρήστος", "Ψυχογιός", "el", "cpsychogios", "christos.psychogios"),
    ("Ευάγγελος", "Αγγελοπούλου", "el", "eangelopoulou", "evangelos.angelopoulou"),
    ("Ευστάθιος", "Μπακογιάννης", "el", "ebakogiannis", "efstathios.bakogiannis"),  # ef, b
    ("Ντίνος", "Λαμπράκης", "el", "nlamprakis", "ntinos.lamprakis"),  # nt, mp inside
    ("Σταύρος", "Αϋπνία", "el", "saypnia", "stavros.aypnia"),  # av; ϋ breaks the pair
    ("ΠΑΥΛΟΣ", "ΓΚΙΚΑΣ", "el", "pgkikas", "pavlos.gkikas"),  # capitals, no accents
    ("Ουρανία", "Ζωή", "el", "ozoi", "ourania.zoi"),
])
def test_national_schemes(given: str, surname: str, scheme: str, login: str,
                          local: str) -> None:
    assert names(given, surname, scheme) == (login, local)


@pytest.mark.parametrize(("given", "surname", "login", "local"), [
    # Vietnamese: stacked diacritics, đ is d; the family name comes first when spoken
    ("Minh Khai", "Nguyễn", "mnguyen", "minhkhai.nguyen"),
    ("Hưng Đạo", "Trần", "htran", "hungdao.tran"),
    ("Thị Hương", "Phạm", "tpham", "thihuong.pham"),
    # Turkish: ı and İ are i
    ("Işıl", "Öztürk", "iozturk", "isil.ozturk"),
    ("İlkay", "Gündoğan", "igundogan", "ilkay.gundogan"),
    ("Çağlar", "Şahin", "csahin", "caglar.sahin"),
    # Hungarian, Scandinavian, Icelandic, Azerbaijani
    ("Ödön", "Győri", "ogyori", "odon.gyori"),
    ("Åse", "Ærø", "aaero", "ase.aero"),
    ("Søren", "Kierkegaard", "skierkegaard", "soren.kierkegaard"),
    ("Þórunn", "Guðmundsdóttir", "tgudmundsdottir", "thorunn.gudmundsdottir"),
    ("Ilham", "Əliyev", "ieliyev", "ilham.eliyev"),
    # Cyrillic and Greek without a national scheme: anyascii
    ("Юлия", "Ёлкина", "yelkina", "yuliya.elkina"),
    ("Γεώργιος", "Παπαδόπουλος", "gpapadopoylos", "georgios.papadopoylos"),
    # Georgian, Armenian, Chinese, Korean, Japanese kana
    ("Nino", "ბერიძე", "nberidze", "nino.beridze"),
    ("Հայկ", "Ահարոնյան", "haharonyan", "hayk.aharonyan"),
    ("小明", "王", "xwang", "xiaoming.wang"),
    ("민준", "김", "mgim", "minjun.gim"),
    ("たろう", "やまだ", "tyamada", "tarou.yamada"),
])
def test_other_scripts_by_default(given: str, surname: str, login: str, local: str) -> None:
    assert names(given, surname) == (login, local)


def test_german_umlauts_also_apply_to_other_languages() -> None:
    """The profile's choice: ö is oe for Öztürk too, as German mail systems write it."""
    assert names("Jürgen", "Öztürk", german=True) == ("joeztuerk", "juergen.oeztuerk")


@pytest.mark.parametrize(("given", "surname", "login", "local"), [
    # apostrophes go; hyphens stay in mail only
    ("Anne-Marie", "O'Neill", "aoneill", "anne-marie.oneill"),
    ("Sean", "D’Angelo", "sdangelo", "sean.dangelo"),
    ("Mary", "McAllister-O'Brien", "mmcallisterobrien", "mary.mcallister-obrien"),
    ("Hans-Peter", "Müller-Lüdenscheidt", "hmullerludenscheidt",
     "hans-peter.muller-ludenscheidt"),
    # particles are part of the surname, written together: no language's list of them
    # to keep, and van der Berg does not collide with Berg
    ("Jan", "van der Berg", "jvanderberg", "jan.vanderberg"),
    ("María José", "de la Cruz", "mdelacruz", "mariajose.delacruz"),
    ("Ludwig", "van Beethoven", "lvanbeethoven", "ludwig.vanbeethoven"),
    ("Karl-Theodor", "von und zu Guttenberg", "kvonundzuguttenberg",
     "karl-theodor.vonundzuguttenberg"),
    # an emoji between letters is only a separator
    ("Anna", "😀Test", "atest", "anna.test"),
])
def test_punctuation_particles_and_compound_names(given: str, surname: str, login: str,
                                                  local: str) -> None:
    assert names(given, surname) == (login, local)


def test_local_part_is_cut_to_64() -> None:
    local = local_part("Maximilian-Alexander", "Wolfeschlegelsteinhausenbergerdorff-" * 3)
    assert len(local) == 64 and not local.endswith(("-", "."))


# -- refusals ------------------------------------------------------------------------------
@pytest.mark.parametrize(("given", "surname", "scheme", "named", "why"), [
    # what used to become test2 and e2: the part is refused, never dropped
    ("ЙЦУКЕН", "Test", "latin", "given name 'ЙЦУКЕН'", "are not Latin"),
    ("Eva", "ЙЦУКЕН", "latin", "surname 'ЙЦУКЕН'", "are not Latin"),
    ("Eva", "Novák-Шевченко", "latin", "surname 'Novák-Шевченко'", "are not Latin"),
    ("中", "文", "latin", "given name '中'", "are not Latin"),
    # nothing but symbols, under any scheme
    ("😀", "Test", "auto", "given name '😀'", "no letters or digits"),
    ("Eva", "★☆", "uk", "surname '★☆'", "no letters or digits"),
    ("Eva", "🇺🇦", "el", "surname '🇺🇦'", "no letters or digits"),
    ("Ь", "Test", "auto", "given name 'Ь'", "no letters or digits"),  # a soft sign alone
    ("", "Test", "auto", "given name ''", "no letters or digits"),
    ("Eva", "—", "auto", "surname '—'", "no letters or digits"),
    ("Eva", "", "auto", "surname ''", "no letters or digits"),
    # scripts whose vowels a transliteration cannot restore
    ("محمد", "Test", "auto", "given name 'محمد'", "Arabic script"),
    ("Test", "כהן", "uk", "surname 'כהן'", "Hebrew script"),
    ("राहुल", "Sharma", "auto", "given name 'राहुल'", "Devanagari script"),
    ("Somchai", "สมชาย", "auto", "surname 'สมชาย'", "Thai script"),
])
def test_unusable_parts_are_refused_by_name(given: str, surname: str, scheme: str, named: str,
                                            why: str) -> None:
    for style in ("first-initial-surname", "given.surname", "surname"):
        with pytest.raises(UnusableName) as caught:
            login_for(given, surname, scheme=scheme, style=style)
        error = caught.value
        assert isinstance(error, ValidationError)
        assert error.exit_code == 2
        assert named in error.message and why in error.message
        assert error.hint
    with pytest.raises(UnusableName, match="cannot make a mail local part"):
        local_part(given, surname, scheme=scheme)


def test_a_national_scheme_still_takes_other_scripts() -> None:
    """ЙЦУКЕН is refused only where the profile wants Latin names; elsewhere it is a name."""
    assert login_for("ЙЦУКЕН", "Test") == "ytest"
    assert login_for("Eva", "ЙЦУКЕН", scheme="el") == "eytsuken"
    assert login_for("Eva", "ЙЦУКЕН", scheme="uk") == "eytsuken"
    assert login_for("Jiří", "Čermák", scheme="latin") == "jcermak"
    assert login_for("Эдуард", "Test", scheme="uk") == "etest"  # not Ukrainian: anyascii


def test_mail_local_placeholder_is_computed_only_where_a_template_uses_it() -> None:
    from adminkit.accounts.actions.base import fill
    from adminkit.accounts.actions.create import _Values

    def values(rules: NamingRules, given: str, surname: str) -> _Values:
        return _Values(rules, login="x1", given_name=given, surname=surname, mail="",
                       display_name=f"{given} {surname}")

    uk = NamingRules(transliteration="uk")
    assert fill("{mail_local}@acme.example", values(uk, "Ганна", "Шевченко")) == \
        "hanna.shevchenko@acme.example"
    unusable = values(NamingRules(), "😀", "Test")  # an account given its login explicitly
    assert fill(r"\\fs1\home\{login}", unusable) == r"\\fs1\home\x1"
    with pytest.raises(ValidationError, match="mail local part from the given name '😀'"):
        fill("{mail_local}@acme.example", unusable)
    with pytest.raises(ValidationError, match="unknown placeholder"):
        fill("{nickname}", unusable)


def test_every_scheme_of_the_profile_is_known_here() -> None:
    field = NamingRules.model_fields["transliteration"]
    assert get_args(field.annotation) == transliteration.SCHEMES
    assert field.default == "auto"
    for scheme in transliteration.SCHEMES:
        assert login_for("Jiří", "Čermák", scheme=scheme) == "jcermak"  # Latin: as ever
    with pytest.raises(ValueError, match="unknown transliteration scheme"):
        login_for("Jiří", "Čermák", scheme="xx")


LAZY = """
import sys
from adminkit.accounts import naming
assert not {"anyascii", "translitua"} & set(sys.modules), "imported with naming"
naming.login_for("Jiří", "Čermák", german=True)
assert not {"anyascii", "translitua"} & set(sys.modules), "imported for a Latin name"
naming.login_for("Олександр", "Шевченко", scheme="uk")
naming.login_for("Ђорђе", "王")
print(sorted({"anyascii", "translitua"} & set(sys.modules)))
"""


def test_libraries_load_only_for_names_that_need_them() -> None:
    proc = subprocess.run([sys.executable, "-c", LAZY], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['anyascii', 'translitua']"
