"""Login names and mail local parts from a person's name, in any script.

Each part of the name (given name, surname) is transliterated on its own: the
profile's national scheme for its script, if it names one; the Latin fold below for
Latin letters (Jiří -> jiri, the same logins as ever); anyascii for every other
script. Spaces, hyphens, apostrophes and symbols separate words and are dropped from
logins, so particles stay part of the surname (van der Berg -> jvanderberg). A part
that gives no letters, or has letters that cannot be transliterated faithfully, is
refused with the part named: never dropped, which would give `Eva ЙЦУКЕН` the login
of some other e2.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from adminkit.accounts import transliteration
from adminkit.core.errors import ValidationError

# Letters that do not decompose into base letter + accent under NFKD.
_SPECIAL = {"ł": "l", "Ł": "L", "ß": "ss", "ẞ": "SS", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D",
            "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "TH", "ı": "i"}
_GERMAN = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"}
_LOGIN_OK = re.compile(r"[^a-z0-9]")
# Scripts that leave vowels unwritten (abjads) or implied (Indic and South-East Asian
# abugidas): anyascii gives Sharma as srma and Somchai as smchay, so they are refused.
_UNWRITTEN_VOWELS = frozenset({
    "ARABIC", "HEBREW", "SYRIAC", "THAANA", "DEVANAGARI", "BENGALI", "GURMUKHI", "GUJARATI",
    "ORIYA", "TAMIL", "TELUGU", "KANNADA", "MALAYALAM", "SINHALA", "THAI", "LAO", "TIBETAN",
    "MYANMAR", "KHMER"})
MAX_SAM = 20  # sAMAccountName limit Windows enforces (Samba does not)
MAX_LOCAL = 64  # RFC 5321: the local part of a mail address


class UnusableName(ValidationError, ValueError):
    """A name part that gives no login: refused (exit 2), naming the part."""


def ascii_fold(text: str, *, german: bool = False) -> str:
    """Jiří Čermák -> Jiri Cermak; with german=True, Müller -> Mueller. Latin letters only."""
    table = {**_SPECIAL, **(_GERMAN if german else {})}
    text = "".join(table.get(ch, ch) for ch in text)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def romanize(label: str, text: str, *, scheme: str = "auto", german: bool = False,
             use: str = "login") -> str:
    """One name part in lower-case ASCII, separators kept: Шевченко-Їжак -> shevchenko-yizhak.

    Raises UnusableName for letters the scheme must not guess at: any non-Latin letter
    under `latin`; Arabic, Hebrew, Indic or Thai letters under every scheme.
    """
    written = text
    text = transliteration.national(unicodedata.normalize("NFKC", text).lower(), scheme)
    out: list[str] = []
    refused: list[str] = []
    latin_base = True  # a combining mark after a Latin letter is an accent: dropped
    for ch in text:
        category = unicodedata.category(ch)
        script = unicodedata.name(ch, "").partition(" ")[0]
        if ch.isascii() or script == "LATIN":
            latin_base = True
            folded = ascii_fold(ch, german=german)
            out.append(folded if folded.isascii() else transliteration.any_ascii(folded))
        elif category[0] == "M":
            if not latin_base:  # an Indic vowel sign, say: part of the letter
                out.append(transliteration.any_ascii(ch))
        elif category[0] in "LN":
            latin_base = False
            if script in _UNWRITTEN_VOWELS or (scheme == "latin" and category not in ("Lm", "Nd")):
                refused.append(ch)
            else:
                out.append(transliteration.any_ascii(ch))
        else:  # punctuation, symbols, emoji: between words
            out.append("-" if category == "Pd" else " ")
    if refused:
        raise _refusal(f"cannot make a {use} from the {label} {written!r}", refused, scheme)
    result = "".join(out).lower()
    if not _LOGIN_OK.sub("", result):
        raise UnusableName(f"cannot make a {use} from the {label} {written!r}: it has no "
                           "letters or digits", hint="give the name as written, or a login")
    return result


def _refusal(what: str, letters: list[str], scheme: str) -> UnusableName:
    shown = ", ".join(dict.fromkeys(letters))
    scripts = {unicodedata.name(ch, "").partition(" ")[0] for ch in letters}
    if scripts & _UNWRITTEN_VOWELS:
        names = "/".join(sorted(s.title() for s in scripts & _UNWRITTEN_VOWELS))
        why = (f"{names} script does not write all its vowels, so a transliteration would "
               "not spell the name as its bearer does")
        hint = "give a login (--login, or a login column), or the name in Latin letters"
    else:
        why = (f"its letters {shown} are not Latin and the profile's naming.transliteration "
               f"is {scheme!r}")
        hint = ("give the name in Latin letters as in the passport, or a login; or set "
                "naming.transliteration to auto or a national scheme (uk, ru, bg, sr, el)")
    return UnusableName(f"{what}: {why}", hint=hint)


def _login_part(label: str, text: str, scheme: str, german: bool) -> str:
    return _LOGIN_OK.sub("", romanize(label, text, scheme=scheme, german=german))


def login_for(given: str, surname: str, *, german: bool = False, limit: int = MAX_SAM,
              style: str = "first-initial-surname", scheme: str = "auto") -> str:
    """jcermak (first-initial-surname), jiri.cermak (given.surname) or cermak (surname).

    Both parts must give letters, whichever the style uses: a name is checked as a whole.
    """
    first = _login_part("given name", given, scheme, german)
    last = _login_part("surname", surname, scheme, german)
    if style == "given.surname":
        return f"{first}.{last}"[:limit].rstrip(".")
    if style == "surname":
        return last[:limit]
    return (first[:1] + last)[:limit]


def local_part(given: str, surname: str, *, german: bool = False, limit: int = MAX_LOCAL,
               scheme: str = "auto") -> str:
    """given.surname for a mail address: Anne-Marie O'Neill -> anne-marie.oneill.

    Hyphens in a name stay (as in most mail addresses); spaces and apostrophes go.
    """
    parts = []
    for label, text in (("given name", given), ("surname", surname)):
        words = romanize(label, text, scheme=scheme, german=german,
                         use="mail local part").split("-")
        parts.append("-".join(w for w in (_LOGIN_OK.sub("", w) for w in words) if w))
    return ".".join(parts)[:limit].rstrip(".-")


def candidates(login: str, *, limit: int = MAX_SAM) -> Iterator[str]:
    """login, login2, login3, ... up to login999, each cut to `limit` characters."""
    yield login
    for n in range(2, 1000):
        suffix = str(n)
        yield login[: limit - len(suffix)] + suffix
