"""A command group that imports a sub-command only when it is used.

The root of `adminkit` knows each sub-command by name, one line of help and an import
path (a LazyCommand). Its --help and shell completion list them without importing any;
`adminkit account ...` imports the account commands alone. Start-up so stays short
however many groups (or, later, domain plug-ins) there are.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from gettext import gettext as _
from typing import TYPE_CHECKING, Any

import typer
from typer.core import MarkupMode, TyperCommand, TyperGroup

from adminkit.cli.commands import LazyCommand

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter
    from typer._click.shell_completion import CompletionItem


def load(name: str, target: str, markup: MarkupMode) -> Command:
    """Import `target` and build its click command, as `add_typer`/`command` would.

    Built through a throw-away parent Typer with the root's markup mode, so a lazily
    loaded group behaves (and renders its help) exactly as one added eagerly.
    """
    module, _sep, attr = target.partition(":")
    obj = getattr(importlib.import_module(module), attr)
    holder = typer.Typer(add_completion=False, rich_markup_mode=markup)
    if isinstance(obj, typer.Typer):
        holder.add_typer(obj, name=name)
    elif callable(obj):
        holder.command(name)(obj)
    else:
        raise TypeError(f"{target} is neither a typer.Typer nor a command function")
    return typer.main.get_group(holder).commands[name]


class LazyCommands(MutableMapping[str, "Command"]):
    """A group's commands, each built already or imported (in its place) on first access.

    Listing names (help, completion, "did you mean") imports nothing; reading a
    command (invoking it, its own --help) imports that one.
    """

    def __init__(self, built: Mapping[str, Command], lazy: Mapping[str, LazyCommand],
                 markup: MarkupMode) -> None:
        self._entries: dict[str, Command | LazyCommand] = dict(built)
        for name, entry in lazy.items():
            self._entries.setdefault(name, entry)
        self._markup = markup

    def peek(self, name: str) -> Command | LazyCommand:
        """The command if it is built; where it lives if it is not imported yet."""
        return self._entries[name]

    def __getitem__(self, name: str) -> Command:
        entry = self._entries[name]
        if isinstance(entry, LazyCommand):
            entry = self._entries[name] = load(name, entry.target, self._markup)
        return entry

    def __setitem__(self, name: str, command: Command) -> None:
        self._entries[name] = command

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries  # Mapping's would import it

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


class LazyGroup(TyperGroup):
    """A TyperGroup whose `lazy_commands()` are imported when first used.

    Subclass it, override `lazy_commands`, and pass the subclass as `typer.Typer(cls=...)`.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = LazyCommands(self.commands, self.lazy_commands(), self.rich_markup_mode)

    def lazy_commands(self) -> Mapping[str, LazyCommand]:
        """Sub-command name -> where it lives and its one line of help."""
        return {}

    def list_commands(self, ctx: Context) -> list[str]:
        """The names, in order, without importing anything (TyperGroup's reads every value)."""
        return list(self.commands)

    def _listed(self) -> Iterator[tuple[str, Command]]:
        """Each visible sub-command, or a help-only stand-in for one not imported yet."""
        commands = self.commands
        assert isinstance(commands, LazyCommands)
        for name in commands:
            command = commands.peek(name)
            if isinstance(command, LazyCommand):
                command = TyperCommand(name, help=command.help)
            if not command.hidden:
                yield name, command

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        """TyperGroup's list of commands, without importing the lazy ones."""
        rows = list(self._listed())
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _cmd in rows)
            with formatter.section(_("Commands")):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])

    def shell_complete(self, ctx: Context, incomplete: str) -> list[CompletionItem]:
        """Sub-command names and the group's options, without importing the lazy ones."""
        from typer._click.shell_completion import CompletionItem

        items = [CompletionItem(name, help=cmd.get_short_help_str())
                 for name, cmd in self._listed() if name.startswith(incomplete)]
        # The options, from click's Command (TyperGroup's own would import every command).
        items.extend(super(TyperGroup, self).shell_complete(ctx, incomplete))
        return items
