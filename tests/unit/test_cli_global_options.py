"""Global options are accepted anywhere on the command line, and never steal a value."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import pytest
import typer
from typer.core import TyperGroup, TyperOption

from adminkit.cli.app import app
from adminkit.cli.hoist import arities, hoist_globals
from adminkit.cli.state import state_of

# What a sub-command must never define: the brief's list, checked to be among the root's.
GLOBAL_NAMES = {"-p", "--profile", "-t", "--ticket", "-o", "--output", "--config", "--check",
                "--debug", "-h", "--help"}


def root() -> Any:
    return typer.main.get_command(app)


def hoist(*argv: str) -> list[str]:
    return hoist_globals(list(argv), root())


@pytest.mark.parametrize(("argv", "expected"), [
    (["journal", "list", "-o", "json"], ["-o", "json", "journal", "list"]),
    (["account", "create", "--check", "--surname", "X", "--profile=acme"],
     ["--check", "--profile=acme", "account", "create", "--surname", "X"]),
    (["-p", "lab", "account", "create", "--ticket", "42"],
     ["-p", "lab", "--ticket", "42", "account", "create"]),
    # global options between the groups
    (["account", "-o", "json", "bulk", "enable", "-t", "7", "f.csv"],
     ["-o", "json", "-t", "7", "account", "bulk", "enable", "f.csv"]),
    # after "--" everything is an argument, even if it looks like an option
    (["run", "--", "-o", "json"], ["run", "--", "-o", "json"]),
    # a value-taking option at the very end is left for click to report
    (["journal", "list", "-o"], ["journal", "list", "-o"]),
    # the value of a sub-command's option stays with it, even if it looks like a global
    (["account", "create", "--given-name", "-t", "--surname", "Test"],
     ["account", "create", "--given-name", "-t", "--surname", "Test"]),
    (["account", "create", "-g", "-o", "-o", "csv"],
     ["-o", "csv", "account", "create", "-g", "-o"]),
    (["run", "pb", "-i", "-p", "-pacme"], ["-pacme", "run", "pb", "-i", "-p"]),
    # --opt=value carries its value; a short option's value may be attached
    (["account", "create", "--given-name=-t", "-t", "42"],
     ["-t", "42", "account", "create", "--given-name=-t"]),
    (["journal", "list", "-ojson", "-t=9"], ["-ojson", "-t=9", "journal", "list"]),
    # an unknown command: left alone for click to report
    (["acount", "create", "-o", "json"], ["acount", "create", "-o", "json"]),
])
def test_hoist_globals(argv: list[str], expected: list[str]) -> None:
    assert hoist(*argv) == expected


# A test-only command on the real root, to see what click finally parses.
probe_app = typer.Typer()
seen: dict[str, Any] = {}


@probe_app.command("probe", context_settings={"allow_interspersed_args": True})
def probe(ctx: typer.Context,
          given_name: Annotated[str, typer.Option("--given-name")],
          surname: Annotated[str, typer.Option("--surname")],
          verbose: Annotated[int, typer.Option("-v", count=True)] = 0,
          force: Annotated[bool, typer.Option("-f")] = False,
          group: Annotated[str | None, typer.Option("-g")] = None,
          pair: Annotated[tuple[str, str] | None, typer.Option("--pair")] = None,
          rest: Annotated[list[str] | None, typer.Argument()] = None) -> None:
    state = state_of(ctx)
    seen.clear()
    seen.update(given_name=given_name, surname=surname, verbose=verbose, force=force,
                group=group, pair=pair, rest=rest or [], profile=state.profile,
                ticket=state.ticket, output=str(state.output), check=state.check)


@probe_app.command("other")
def other() -> None:
    """Makes probe_app a group, so that `probe` keeps its name."""


def parse(*argv: str) -> dict[str, Any]:
    """What the probe receives for `adminkit probe ARGV`, after hoisting."""
    tree = root()
    tree.add_command(typer.main.get_command(probe_app).commands["probe"], "probe")
    seen.clear()
    tree.main(hoist_globals(["probe", *argv], tree), prog_name="adminkit",
              standalone_mode=False)
    return dict(seen)


def test_a_value_that_looks_like_a_global_option_stays_a_value() -> None:
    got = parse("--given-name", "-t", "--surname", "Test")
    assert got["given_name"] == "-t"
    assert got["surname"] == "Test"
    assert got["ticket"] is None


def test_globals_after_the_command_are_parsed_as_globals() -> None:
    got = parse("--given-name", "-o", "-o", "json", "--surname", "-p", "-p", "acme",
                "--ticket=42", "--check")
    assert (got["given_name"], got["surname"]) == ("-o", "-p")
    assert (got["output"], got["profile"], got["ticket"], got["check"]) == \
        ("json", "acme", "42", True)


def test_combined_short_flags_split_only_around_a_global() -> None:
    got = parse("--given-name", "A", "--surname", "B", "-vvfo", "csv", "-vg", "-t")
    assert (got["verbose"], got["force"], got["output"]) == (3, True, "csv")
    assert got["group"] == "-t"  # -g takes the next token, though it looks like --ticket
    assert got["ticket"] is None
    got = parse("--given-name", "A", "--surname", "B", "-fp", "acme", "-gx")
    assert (got["force"], got["profile"], got["group"]) == (True, "acme", "x")


def test_option_with_several_values_and_double_dash() -> None:
    got = parse("--pair", "-p", "-t", "--given-name", "A", "--surname", "B", "--",
                "-o", "json")
    assert got["pair"] == ("-p", "-t")
    assert (got["profile"], got["ticket"]) == (None, None)
    assert got["rest"] == ["-o", "json"]
    assert got["output"] == "table"


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command below `command`, groups included, at any depth."""
    yield path, command
    if isinstance(command, TyperGroup):
        ctx = typer.Context(command)
        for name in command.list_commands(ctx):
            yield from walk(command.get_command(ctx, name), (*path, name))


def reserved(tree: Any) -> set[str]:
    """The root's option names (all global) and its help option's."""
    return set(arities(tree)) | set(tree.context_settings["help_option_names"])


def clashes(tree: Any) -> list[str]:
    """Sub-commands that define an option name a global option (or help) uses."""
    taken = reserved(tree)
    found = []
    for path, command in walk(tree):
        for param in command.params if path else []:
            if isinstance(param, TyperOption):
                for name in sorted(taken & {*param.opts, *param.secondary_opts}):
                    found.append(f"adminkit {' '.join(path)}: {name}")
    return found


def test_no_sub_command_defines_a_global_option_name() -> None:
    tree = root()
    assert reserved(tree) >= GLOBAL_NAMES
    paths = [path for path, _cmd in walk(tree)]
    assert ("account", "bulk", "enable") in paths  # nested groups are walked, lazy ones loaded
    assert len(paths) > 40
    assert clashes(tree) == []


def test_the_clash_check_would_notice_one() -> None:
    """Control: a nested sub-command that defines -p (a printer, say) is reported."""
    printer = typer.Typer(add_completion=False)
    queue = typer.Typer()

    @queue.command("pause")
    def pause(name: Annotated[str, typer.Option("--printer", "-p")]) -> None: ...

    @queue.command("resume")
    def resume(debug: Annotated[bool, typer.Option("--debug")] = False) -> None: ...

    printer.add_typer(queue, name="queue")
    tree = root()
    tree.add_command(typer.main.get_command(printer), "printer")
    assert clashes(tree) == ["adminkit printer queue pause: -p",
                             "adminkit printer queue resume: --debug"]
