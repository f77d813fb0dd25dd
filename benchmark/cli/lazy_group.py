"""A click group whose commands are imported when they run, so `bench --help` and `--version` load no torch.

Each lazy command is `name: (module:attribute, short help)`. `bench --help` prints the stored short
help without importing anything; `bench NAME ...` (its `--help` too) imports only NAME's module.
tests/benchmark/test_cli_startup.py checks that each stored short help is the command's own.
"""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """`click.Group` plus commands named by import path, loaded on first use."""

    def __init__(self, *args, lazy_commands: dict[str, tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            self.add_command(self.load(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def load(self, cmd_name: str) -> click.Command:
        """Import the command registered as `module:attribute`."""
        target, _ = self.lazy_commands[cmd_name]
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"lazy command '{cmd_name}' names {target}, which is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list with the stored short help of lazy commands (nothing imported)."""
        rows = []
        for name in self.list_commands(ctx):
            if name in self.commands:
                command = self.commands[name]
                if command.hidden:
                    continue
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
            else:
                stand_in = click.Command(name, help=self.lazy_commands[name][1])  # click shortens it as it does a loaded command
                rows.append((name, stand_in.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
