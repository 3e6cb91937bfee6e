"""The root's --help printed without typer is, to the character, what Typer prints."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import types

import pytest
import typer
from typer._click.utils import _detect_program_name, make_default_short_help

from adminkit import __version__
from adminkit.cli import roothelp
from adminkit.cli.app import app
from adminkit.cli.commands import LazyCommand, sub_commands
from adminkit.cli.main import answered_without_typer
from adminkit.cli.roothelp import program_name, root_help, short_help, terminal_columns


def typer_says(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """What the Typer app prints for `adminkit ARGS` (at the COLUMNS of the environment)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        typer.main.get_command(app).main(list(args), prog_name="adminkit")
    assert exit_.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("columns", [80, 81, 120, 250])
def test_root_help_is_what_typer_prints(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str], columns: int) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    expected = typer_says(capsys, "--help")
    # After a change to a global option, paste its part of what Typer prints into OPTIONS:
    assert expected.split("\nCommands:\n")[0] == roothelp.HEAD
    assert root_help("adminkit", columns, sub_commands()) == expected
    assert root_help("adminkit", terminal_columns(), sub_commands()) == expected


def test_version_is_what_typer_prints(capsys: pytest.CaptureFixture[str]) -> None:
    expected = typer_says(capsys, "--version")
    assert expected.startswith(f"adminkit {__version__}\nextras: ")
    assert answered_without_typer(["--version"])
    assert capsys.readouterr().out == expected


@pytest.mark.parametrize("argv", [["--help", "--debug"], ["account", "--help"], [],
                                  ["--version", "--help"]])
def test_anything_else_is_left_to_typer(capsys: pytest.CaptureFixture[str],
                                        argv: list[str]) -> None:
    assert not answered_without_typer(argv)
    assert capsys.readouterr().out == ""


def test_where_it_cannot_say_the_same_it_leaves_it_to_typer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    commands = sub_commands()
    assert root_help("adminkit", 80, commands) is not None  # the control
    assert root_help("adminkit", 79, commands) is None  # click wraps at 77
    assert root_help("python -m adminkit.cli.main", 120, commands) is None
    assert root_help(None, 120, commands) is None
    assert root_help("adminkit", 120, {}) is None
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    assert root_help("adminkit", 120, commands) is None


COMMANDS = {
    "two-sentences": {"a": LazyCommand("m:a", "First sentence. Second one.")},
    "paragraphs": {"a": LazyCommand("m:a", "Short first\nparagraph\n\nand a second.")},
    "abbreviation": {"a": LazyCommand("m:a", "Stops at e.g. the abbreviation.")},
    "truncated": {"a": LazyCommand("m:a", "word " * 30)},
    "long-name": {"a-rather-long-command-name": LazyCommand("m:a", "x " * 40),
                  "b": LazyCommand("m:b", "Short.")},
    "no-rewrap": {"a": LazyCommand("m:a", "\b\nKept   as is, but collapsed.")},
    "at-limit": {"ab": LazyCommand("m:a", "y" * 33 + " " + "z" * 34)},  # 68 = 78 - 6 - 2 + 2
    "past-limit": {"ab": LazyCommand("m:a", "y" * 33 + " " + "z" * 35)},
    "one-long-word": {"a": LazyCommand("m:a", "w" * 90)},
    "empty-help": {"a": LazyCommand("m:a", ""), "bc": LazyCommand("m:b", "Help.")},
    "name-over-30": {"n" * 31: LazyCommand("m:a", "Help for a long name."),
                     "b": LazyCommand("m:b", "Help.")},
    "name-of-60": {"n" * 60: LazyCommand("m:a", "Help for a very long name.")},
}


@pytest.mark.parametrize("case", COMMANDS)
@pytest.mark.parametrize("columns", [80, 200])
def test_commands_are_laid_out_as_click_does(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str],
                                             case: str, columns: int) -> None:
    commands = COMMANDS[case]
    monkeypatch.setattr("adminkit.cli.app.sub_commands", lambda: commands)
    monkeypatch.setenv("COLUMNS", str(columns))
    assert root_help("adminkit", columns, commands) == typer_says(capsys, "--help")


@pytest.mark.parametrize("text", [
    "", "One.", "First. Second.", "no period at all", "\b\nno rewrap marker", "a\n\nb.",
    "x" * 50, "word " * 20, "end. ", "e.g. this", "ab cd ef gh ij", "   spaced   out  ",
])
@pytest.mark.parametrize("limit", [1, 5, 10, 14, 45, 72])
def test_short_help_is_clicks(text: str, limit: int) -> None:
    assert short_help(text, limit) == make_default_short_help(text, limit)


@pytest.mark.parametrize("columns", [None, "100", "abc", "0", "-3", "79"])
def test_terminal_columns_is_shutils(monkeypatch: pytest.MonkeyPatch,
                                     columns: str | None) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert terminal_columns() == shutil.get_terminal_size().columns


@pytest.mark.parametrize(("package", "argv0"), [
    (None, "/usr/local/bin/adminkit"), ("", "adminkit"), ("adminkit.cli", "/x/main.py")])
def test_program_name_is_clicks(monkeypatch: pytest.MonkeyPatch, package: str | None,
                                argv0: str) -> None:
    main = types.ModuleType("__main__")
    main.__package__ = package
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(sys, "argv", [argv0])
    clicks = _detect_program_name()
    assert program_name() == (clicks if package in (None, "") else None)


def test_the_command_prints_it_without_typer() -> None:
    """End to end: `adminkit --help` in a process of its own, at 80 columns."""
    code = "import sys; sys.argv = ['adminkit', '--help']; " \
           "from adminkit.cli.main import main; main(); print(sorted(sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True, env={**os.environ, "COLUMNS": "80"})
    text, _sep, modules = proc.stdout.rpartition("\n[")
    assert text + "\n" == root_help("adminkit", 80, sub_commands())
    assert "'typer'" not in modules


@pytest.mark.parametrize("args", [["--help"], ["--debug", "--help"]])
def test_a_reader_that_has_gone_is_not_a_traceback(args: list[str]) -> None:
    """`adminkit --help | head -1`: exit 1 and say nothing, with or without Typer."""
    read, write = os.pipe()
    os.close(read)
    code = f"import sys; sys.argv = ['adminkit', *{args!r}]; " \
           "from adminkit.cli.main import main; main()"
    with subprocess.Popen([sys.executable, "-c", code], stdout=write, stderr=subprocess.PIPE,
                          text=True) as proc:
        os.close(write)
        _out, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (1, "")
