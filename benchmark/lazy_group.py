"""A click group that imports a command's module only when that command runs or shows its own help.

`bench --help` lists every command from the short help stored beside its "module:attr" target, so
listing the commands imports none of them; `tests/benchmark/test_cli_startup.py` checks that each
stored short help is the command's own.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives ("package.module:attribute") and its short help, shown by the group's --help."""

    target: str
    short_help: str

    def load(self) -> click.Command:
        """Import the module and return the command (a `click.Command` or `click.Group`)."""
        module_name, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"lazy command target '{self.target}' is a {type(command).__name__}, not a click command")
        return command


class LazyGroup(click.Group):
    """A group whose `lazy_commands` are imported on first use; its other commands are ordinary ones."""

    def __init__(self, *args: Any, lazy_commands: Mapping[str, LazyCommand] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            self.add_command(self.lazy_commands[cmd_name].load(), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, with a stand-in holding the stored short help for each command not yet imported."""
        commands = {
            name: self.commands.get(name) or click.Command(name, help=self.lazy_commands[name].short_help)
            for name in self.list_commands(ctx)
        }
        visible = {name: command for name, command in commands.items() if not command.hidden}
        if not visible:
            return
        limit = formatter.width - 6 - max(map(len, visible))
        with formatter.section("Commands"):
            formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in visible.items()])
