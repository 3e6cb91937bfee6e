"""Login and display names from a person's name: transliterated, lower case, unique."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

# Letters that do not decompose into base letter + accent under NFKD.
_SPECIAL = {"ł": "l", "Ł": "L", "ß": "ss", "ẞ": "SS", "ø": "o", "Ø": "O", "đ": "d", "Đ": "D",
            "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "TH", "ı": "i"}
_GERMAN = {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"}
_LOGIN_OK = re.compile(r"[^a-z0-9]")
MAX_SAM = 20  # sAMAccountName limit Windows enforces (Samba does not)


def ascii_fold(text: str, *, german: bool = False) -> str:
    """Jiří Čermák -> Jiri Cermak; with german=True, Müller -> Mueller."""
    table = {**_SPECIAL, **(_GERMAN if german else {})}
    text = "".join(table.get(ch, ch) for ch in text)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def login_for(given: str, surname: str, *, german: bool = False, limit: int = MAX_SAM,
              style: str = "first-initial-surname") -> str:
    """jcermak (first-initial-surname), jiri.cermak (given.surname) or cermak (surname)."""
    given_part = _LOGIN_OK.sub("", ascii_fold(given, german=german).lower())
    last = _LOGIN_OK.sub("", ascii_fold(surname, german=german).lower())
    if style == "given.surname":
        login = f"{given_part}.{last}".strip(".")[:limit].rstrip(".")
    elif style == "surname":
        login = last[:limit]
    else:
        login = (given_part[:1] + last)[:limit]
    if not login:
        raise ValueError(f"cannot make a login from {given!r} {surname!r}")
    return login


def candidates(login: str, *, limit: int = MAX_SAM) -> Iterator[str]:
    """login, login2, login3, ... up to login999, each cut to `limit` characters."""
    yield login
    for n in range(2, 1000):
        suffix = str(n)
        yield login[: limit - len(suffix)] + suffix
