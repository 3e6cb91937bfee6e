"""What a login, and any text value of an account, may be: checked before anything is
asked of a directory (no import of the run machinery: `account show` uses it too)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field


def printable(value: str) -> str:
    """Values are data: refuse control characters and stray spaces instead of storing them."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("contains a control character (a line break?)")
    if value != value.strip():
        raise ValueError("has leading or trailing spaces")
    return value


Text = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(printable)]
def login_length(value: str) -> str:
    """A login is at most 64 characters; a UPN (`name@domain`, which Entra takes as its
    login) at most 113, its name part 64 and its domain 48, as Entra allows."""
    local, at, domain = value.rpartition("@") if "@" in value else (value, "", "")
    if at and (not local or "@" in local or not domain or domain.strip(".") != domain
               or ".." in domain):  # `jdoe@`, a domain forgotten: never "nothing to do"
        raise ValueError("is not a UPN: one @, a name before it and a domain after it")
    if len(local) > 64:
        raise ValueError(f"is {len(local)} characters {'before the @ ' if at else ''}"
                         "(at most 64)")
    if len(domain) > 48:
        raise ValueError(f"has a domain of {len(domain)} characters (at most 48)")
    return value


Login = Annotated[str, Field(min_length=1, max_length=113), AfterValidator(printable),
                  AfterValidator(login_length)]


class LoginOnly(BaseModel):
    """A login alone (`account show`): refused as a run's parameters would be."""

    login: Login
