"""Names in Cyrillic, Greek and other scripts to Latin letters, by national schemes.

A profile may pick one national scheme (`naming.transliteration`); it changes only
the letters of its own script and leaves every other character as it is, for the
general fallback (anyascii) and the Latin fold in `naming` to handle.

- uk: the Ukrainian national system (Cabinet of Ministers resolution 55 of 2010),
  through translitua: Щ shch, Х kh, Г h, Ґ g, зг zgh; Є Ї Й Ю Я are ye yi y yu ya at
  the start of a word and ie i i iu ia inside it; ь and the apostrophe vanish.
- ru: Russian passports since 2013 (ICAO Doc 9303), through translitua.
- bg: the Bulgarian Transliteration Act of 2009 (Щ sht, Ъ a, -ия at a word's end ia).
- sr: Serbian Cyrillic to Gaj's Latin alphabet, with Ђ/Đ as dj (Đorđe -> Djordje).
- el: Greek by ELOT 743 (2001, as on Greek passports): μπ b at a word's edge and mp
  inside, γγ ng, γκ gk, αυ/ευ/ηυ av/ev/iv or, before a voiceless consonant or at a
  word's end, af/ef/if; accents and a diaeresis only say how vowels pair.

The libraries load on the first name computed, never at start-up.
"""

from __future__ import annotations

import re
import unicodedata

SCHEMES = ("auto", "latin", "uk", "ru", "bg", "sr", "el")

# translitua's table for each scheme it serves
_TRANSLITUA = {"uk": "UkrainianKMU", "ru": "RussianICAO"}

_BULGARIAN = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
    "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch",
    "ш": "sh", "щ": "sht", "ъ": "a", "ь": "y", "ю": "yu", "я": "ya"})
_BULGARIAN_IA = re.compile(r"ия\b")

# Gaj's Latin letters; the Latin fold then makes č ć š ž plain (Džaković -> dzakovic)
_SERBIAN = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "dj", "е": "e", "ж": "ž",
    "з": "z", "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n",
    "њ": "nj", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "ћ": "ć", "у": "u",
    "ф": "f", "х": "h", "ц": "c", "ч": "č", "џ": "dž", "ш": "š", "đ": "dj"})

_GREEK = {"α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th",
          "ι": "i", "κ": "k", "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p",
          "ρ": "r", "σ": "s", "ς": "s", "τ": "t", "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps",
          "ω": "o"}
_GREEK_PAIRS = {"γγ": "ng", "γκ": "gk", "γξ": "nx", "γχ": "nch"}
_VOICELESS = frozenset("θκξπσςτφχψ")
_DIAERESIS = "\u0308"


def national(text: str, scheme: str) -> str:
    """`text` (lower case) with the letters of the scheme's script in Latin letters."""
    if scheme in _TRANSLITUA:
        import translitua

        return translitua.translit(text, getattr(translitua, _TRANSLITUA[scheme]))
    if scheme == "bg":
        return _BULGARIAN_IA.sub("ia", text).translate(_BULGARIAN)
    if scheme == "sr":
        return text.translate(_SERBIAN)
    if scheme == "el":
        return _greek(text)
    if scheme in SCHEMES:
        return text
    raise ValueError(f"unknown transliteration scheme {scheme!r}")


def any_ascii(text: str) -> str:
    """The general fallback for every script: 王 -> Wang, Ђ -> Dj, あ -> a."""
    from anyascii import anyascii

    return anyascii(text)


class _Letter:
    __slots__ = ("accent", "base", "diaeresis")

    def __init__(self, base: str) -> None:
        self.base, self.accent, self.diaeresis = base, False, False


def _greek(text: str) -> str:
    """ELOT 743 for the (lower-case) Greek letters of `text`; other characters stay."""
    letters: list[_Letter] = []
    for ch in text:
        if "GREEK" not in unicodedata.name(ch, ""):
            letters.append(_Letter(ch))
            continue
        for part in unicodedata.normalize("NFD", ch):
            if unicodedata.combining(part) and letters and letters[-1].base in _GREEK:
                if part == _DIAERESIS:
                    letters[-1].diaeresis = True
                else:  # tonos, breathings: only the position of the accent matters
                    letters[-1].accent = True
            elif not unicodedata.combining(part):
                letters.append(_Letter(part))

    def base(k: int) -> str:
        return letters[k].base if 0 <= k < len(letters) else ""

    out: list[str] = []
    i = 0
    while i < len(letters):
        this, following = letters[i], base(i + 1)
        c = this.base
        if c not in _GREEK:
            out.append(c)
            i += 1
            continue
        # a vowel pair, unless the first is accented or the second has a diaeresis
        pair = (following == "υ" and not this.accent and not letters[i + 1].diaeresis)
        if pair and c in "αεη":
            after = base(i + 2)
            voiced = after in _GREEK and after not in _VOICELESS
            out.append(_GREEK[c] + ("v" if voiced else "f"))
        elif pair and c == "ο":
            out.append("ou")
        elif c == "μ" and following == "π":
            edge = base(i - 1) not in _GREEK or base(i + 2) not in _GREEK
            out.append("b" if edge else "mp")
        elif c + following in _GREEK_PAIRS:
            out.append(_GREEK_PAIRS[c + following])
        else:
            out.append(_GREEK[c])
            i += 1
            continue
        i += 2
    return "".join(out)
