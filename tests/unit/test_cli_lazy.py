"""The lazy command group: lists sub-commands without importing them, loads one when used."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.core import TyperGroup

from adminkit.cli.app import app
from adminkit.cli.commands import LazyCommand, sub_commands
from adminkit.cli.lazy import LazyCommands, LazyGroup

MODULE = "lazyprobe_cmds"  # written to tmp_path by the fixture, imported only by the group


@pytest.fixture
def probe_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A root with two lazy sub-commands (a group and a function) from a fresh module."""
    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent('''
        import typer

        tools = typer.Typer(help="Tools for the probe. A second sentence.")

        @tools.command("hammer")
        def hammer(force: bool = False) -> None:
            """Hit it."""
            print(f"hammer force={force}")

        @tools.command("saw")
        def saw() -> None:
            """Cut it."""

        def ping(count: int = 1) -> None:
            """Ping the probe."""
            print(f"ping {count}")
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)

    class Root(LazyGroup):
        def lazy_commands(self) -> dict[str, LazyCommand]:
            return {"tools": LazyCommand(f"{MODULE}:tools", "Tools for the probe."),
                    "ping": LazyCommand(f"{MODULE}:ping", "Ping the probe.")}

    root = typer.Typer(cls=Root, rich_markup_mode=None, add_completion=False)

    @root.callback()
    def main(verbose: bool = False) -> None:
        """The probe's root."""

    @root.command("eager")
    def eager() -> None:
        """Built with the root."""

    return typer.main.get_command(root)


def help_text(command: Any, width: int = 80) -> str:
    ctx = typer.Context(command, info_name="probe", terminal_width=width,
                        max_content_width=width)
    return command.get_help(ctx)


def completions(command: Any, incomplete: str) -> list[tuple[str, str | None]]:
    items = command.shell_complete(typer.Context(command), incomplete)
    return [(item.value, item.help) for item in items]


def test_listing_imports_nothing(probe_group: Any) -> None:
    commands = probe_group.commands
    assert isinstance(commands, LazyCommands)
    assert list(commands) == ["eager", "tools", "ping"]
    assert probe_group.list_commands(typer.Context(probe_group)) == ["eager", "tools", "ping"]
    assert len(commands) == 3
    assert "tools" in commands and "nosuch" not in commands
    text = help_text(probe_group)
    assert "  tools  Tools for the probe.\n" in text
    assert "  ping   Ping the probe." in text
    assert [value for value, _help in completions(probe_group, "")] == ["eager", "tools", "ping"]
    assert completions(probe_group, "t") == [("tools", "Tools for the probe.")]
    assert [value for value, _help in completions(probe_group, "--")] == [
        "--verbose", "--no-verbose", "--help"]
    assert MODULE not in sys.modules


def test_a_command_is_imported_when_used(probe_group: Any, capsys: pytest.CaptureFixture[str],
                                         ) -> None:
    assert probe_group.get_command(typer.Context(probe_group), "nosuch") is None
    assert MODULE not in sys.modules
    probe_group.main(["ping", "--count", "3"], standalone_mode=False)
    assert capsys.readouterr().out == "ping 3\n"
    assert MODULE in sys.modules
    assert list(probe_group.commands) == ["eager", "tools", "ping"]  # each keeps its place
    probe_group.main(["tools", "hammer", "--force"], standalone_mode=False)
    assert capsys.readouterr().out == "hammer force=True\n"


def test_a_loaded_command_is_described_as_the_lazy_one_was(probe_group: Any) -> None:
    """The help and completion lists read the same before and after the imports."""
    before = [help_text(probe_group, width) for width in (40, 80, 200)]
    complete_before = completions(probe_group, ""), completions(probe_group, "--")
    for name in reversed(list(probe_group.commands)):
        probe_group.commands[name]  # import and build each
    assert MODULE in sys.modules
    assert [help_text(probe_group, width) for width in (40, 80, 200)] == before
    assert (completions(probe_group, ""), completions(probe_group, "--")) == complete_before


def test_a_loaded_group_renders_as_its_root_does(probe_group: Any) -> None:
    """Built as add_typer would: with the root's markup mode (None: plain click help)."""
    tools = probe_group.commands["tools"]
    assert isinstance(tools, TyperGroup)
    assert tools.rich_markup_mode is None
    assert list(tools.commands) == ["hammer", "saw"]


def test_commands_mapping_add_and_delete(probe_group: Any) -> None:
    commands = probe_group.commands
    del commands["ping"]
    del commands["eager"]
    with pytest.raises(KeyError):
        del commands["ping"]
    probe_group.add_command(probe_group.commands["tools"], "again")
    assert list(commands) == ["tools", "again"]


def test_a_target_that_is_not_a_command_is_a_clear_error(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lazyprobe_bad.py").write_text("NOT_A_COMMAND = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    class Root(LazyGroup):
        def lazy_commands(self) -> dict[str, LazyCommand]:
            return {"bad": LazyCommand("lazyprobe_bad:NOT_A_COMMAND", "Not a command.")}

    bare = typer.Typer(cls=Root, add_completion=False)
    bare.callback()(lambda: None)
    root = typer.main.get_command(bare)
    with pytest.raises(TypeError, match="lazyprobe_bad:NOT_A_COMMAND is neither"):
        root.commands["bad"]


def test_adminkit_lists_what_its_groups_say_of_themselves() -> None:
    """sub_commands()'s one-line help matches each group's own, at any width."""
    root = typer.main.get_command(app)
    before = [help_text(root, width) for width in (60, 80, 250)]
    complete_before = completions(root, "")
    for name in reversed(list(sub_commands())):
        root.commands[name]
    assert [help_text(root, width) for width in (60, 80, 250)] == before
    assert completions(root, "") == complete_before


def test_a_typo_in_a_lazy_command_name_is_still_suggested(cli: Any) -> None:
    res = cli("acount", "list")
    assert res.code == 2
    assert "No such command 'acount'. Did you mean 'account'?" in res.err


def test_the_typer_internals_lazy_relies_on() -> None:
    """lazy.py leans on typer's vendored click (typer._click, private): fail here if it moves."""
    from typer._click import Command
    from typer._click.shell_completion import CompletionItem

    # LazyGroup.shell_complete skips TyperGroup's (it would import every command) to
    # reach click's Command.shell_complete, which lists the options.
    assert TyperGroup.__mro__[1] is Command
    assert CompletionItem("x", help="y").help == "y"
