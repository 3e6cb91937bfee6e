"""Global options may stand anywhere on the line: move them in front before parsing.

`adminkit journal list -o json` means `adminkit -o json journal list`. The root's
options are the global ones. The move reads the line as click will: through the groups
to the command being invoked, asking each command which of its options take values, so
that it never takes the value of a sub-command's option (`--given-name -t`), nor
anything after `--`, nor the arguments of a command that stops at its first argument.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import typer
from typer.core import TyperGroup, TyperOption

if TYPE_CHECKING:
    from typer._click import Command


def arities(command: Command) -> dict[str, int]:
    """Each option name of `command` -> how many values follow it (0: a flag or a counter)."""
    return {name: 0 if param.is_flag or param.count else param.nargs
            for param in command.params if isinstance(param, TyperOption)
            for name in (*param.opts, *param.secondary_opts)}


class _Option(NamedTuple):
    kept: str | None
    """What stays where it stood (the token itself, or its non-global short flags)."""
    hoisted: list[str]
    """What moves in front."""
    values: int
    """How many of the following tokens are the last option's values."""
    global_values: bool
    """Whether those values belong to a global option (and move with it)."""


def _long(name: str) -> bool:
    return len(name) > 2  # click: "-x" is a short option, "--x" and "-xy" are long ones


def _split(arg: str, own: dict[str, int], globals_: dict[str, int]) -> _Option:
    """One option token: which part is the command's, which is global, what follows."""
    name, eq, _value = arg.partition("=")
    for table, is_global in ((own, False), (globals_, True)):
        if _long(name) and name in table:
            values = 0 if eq else table[name]
            return (_Option(None, [arg], values, True) if is_global
                    else _Option(arg, [], values, False))
    if arg.startswith("--"):
        return _Option(arg, [], 0, False)  # unknown: click reports it
    # A cluster of short options: -vx, -ojson, -vo json (click reads them so).
    prefix, kept = arg[0], ""
    hoisted: list[str] = []
    for i, char in enumerate(arg[1:], start=1):
        opt = prefix + char
        attached = arg[i + 1:]  # a value-taking option takes the rest of the cluster
        if opt in own:
            if own[opt]:
                kept += arg[i:]
                return _Option(prefix + kept, hoisted, 0 if attached else own[opt], False)
            kept += char
        elif opt in globals_:
            if globals_[opt]:
                hoisted.append(opt + attached)
                return _Option(prefix + kept if kept else None, hoisted,
                               0 if attached else globals_[opt], True)
            hoisted.append(opt)
        else:
            return _Option(arg, [], 0, False)  # unknown: leave it whole for click
    return _Option(prefix + kept if kept else None, hoisted, 0, False)


def hoist_globals(argv: Sequence[str], root: Command) -> list[str]:
    """`argv` with the root's options (and their values) moved in front, in order."""
    globals_ = arities(root)
    front: list[str] = []
    rest: list[str] = []
    command, own = root, {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg == "--":
            rest.extend(argv[i - 1:])
            break
        if not arg.startswith("-") or arg == "-":
            rest.append(arg)
            if isinstance(command, TyperGroup):
                sub = command.get_command(typer.Context(command), arg)
                if sub is None:  # no such command: click says so; leave the rest alone
                    rest.extend(argv[i:])
                    break
                command, own = sub, arities(sub)
            elif not command.allow_interspersed_args:
                rest.extend(argv[i:])
                break
            continue
        option = _split(arg, own, globals_)
        if len(argv) - i < option.values:  # a missing value: leave it for click to report
            rest.extend(argv[i - 1:])
            break
        values = list(argv[i:i + option.values])
        i += option.values
        front.extend(option.hoisted)
        if option.kept is not None:
            rest.append(option.kept)
        (front if option.global_values else rest).extend(values)
    return front + rest
