"""Turning `--input k=v` strings (or an inputs file) into typed, validated input values."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from adminkit.core.errors import ValidationError
from adminkit.core.secrets import SCHEMES, Secret, check_reference, resolve
from adminkit.playbook.model import InputSpec, Playbook

EMAIL = re.compile(r"^[^@\s,;<>()\\\"]+@[^@\s,;<>()\\\"]+\.[^@\s,;<>()\\\"]+\Z")


def resolve_inputs(playbook: Playbook, given: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(playbook.inputs))
    problems = [f"unknown input {name!r}" for name in unknown]
    values: dict[str, Any] = {}
    for name, spec in playbook.inputs.items():
        if name not in given and spec.default is None:
            if spec.required:
                problems.append(f"input {name} is required ({spec.description or spec.type})")
            values[name] = None
            continue
        try:  # a default is converted like a given value (the loader has checked it)
            values[name] = convert(spec, given.get(name, spec.default))
        except ValueError as exc:
            problems.append(f"input {name}: {exc}")
    if problems:
        raise ValidationError("; ".join(problems),
                              hint=f"inputs of {playbook.name}: "
                                   + ", ".join(f"{k} ({v.type})"
                                               for k, v in playbook.inputs.items()))
    return values


HOW_TO_GIVE = ("give a secret input as a reference (-i NAME=env:VARIABLE, keyring:SERVICE/USER "
               "or prompt), in an --inputs file, or on stdin with --secret-stdin NAME")


def convert(spec: InputSpec, raw: Any) -> Any:
    if spec.type == "secret":
        return _secret(raw)
    if isinstance(raw, Secret):
        raise ValueError("a secret was given for an input that is not of type secret")
    if spec.type == "list":
        items = raw if isinstance(raw, list) else [p.strip() for p in str(raw).split(",")
                                                   if p.strip()]
        return [_text(spec, str(i)) for i in items]
    if spec.type == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).lower()
        if text in ("true", "yes", "1", "on"):
            return True
        if text in ("false", "no", "0", "off"):
            return False
        raise ValueError(f"{raw!r} is not true or false")
    if spec.type == "int":
        try:
            return int(str(raw))
        except ValueError:
            raise ValueError(f"{raw!r} is not a whole number") from None
    if spec.type == "date":
        try:
            return date.fromisoformat(str(raw)).isoformat()
        except ValueError:
            raise ValueError(f"{raw!r} is not a date (YYYY-MM-DD)") from None
    text = _text(spec, str(raw))
    if spec.type == "email" and not EMAIL.match(text):
        raise ValueError(f"{text!r} is not an e-mail address")
    if spec.type == "enum" and spec.choices and text not in spec.choices:
        raise ValueError(f"{text!r} is not one of {', '.join(spec.choices)}")
    return text


def _secret(raw: Any) -> Secret:
    """A Secret as given (an inputs file, stdin), or a reference resolved now; never a
    value typed on the command line, where it would stay in the shell's history."""
    if isinstance(raw, Secret):
        return raw
    text = str(raw)
    try:
        check_reference(text)
    except ValueError:
        raise ValueError(f"is a secret: {HOW_TO_GIVE}") from None
    return resolve(text, label="playbook input")


def from_file(raw: Any, where: str) -> Secret | str:
    """A secret input's value in an --inputs file: a reference (`env:NAME`, `file:/path`,
    `keyring:service/user`, `prompt`) is one, as with `-i`, resolved when the inputs are
    (and kept by name for a resume), never the password "env:NAME"; a malformed one is
    refused; anything else is the secret itself."""
    text = str(raw)
    if text != "prompt" and text.partition(":")[0] not in SCHEMES:
        return Secret(text)
    try:
        return check_reference(text)
    except ValueError as exc:
        raise ValidationError(f"{where}: {exc}",
                              hint="a secret that itself begins with env:, file: or "
                                   "keyring: can be given with --secret-stdin") from None


def _text(spec: InputSpec, text: str) -> str:
    if len(text) > spec.max_length:
        raise ValueError(f"longer than {spec.max_length} characters")
    if not text.isascii():
        try:  # bytes that are not UTF-8 come from argv as lone surrogates (\udcff)
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"is not UTF-8 text (character {exc.start + 1})") from None
    if any(ord(ch) < 32 for ch in text):
        raise ValueError("contains a control character")
    if spec.pattern and not re.fullmatch(spec.pattern, text):
        raise ValueError(f"{text!r} does not match {spec.pattern}")
    return text
