"""`bench --version`, `bench --help` and the commands' `--help` start without torch (benchmark/cli/bench.py's lazy commands)."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import click
import click.testing
import pytest

from benchmark.cli.bench import LAZY_COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "open_clip", "timm", "pandas", "matplotlib", "scipy")
# Runs `bench ARGS` in a fresh interpreter, then prints which heavy modules it imported.
PROBE = (
    "import runpy, sys\n"
    "sys.argv = ['bench', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('benchmark', run_name='__main__')\n"
    "except SystemExit as exit:\n    code = exit.code\n"
    f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
)


def heavy_modules_loaded(*args: str) -> list[str]:
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""}, capture_output=True, text=True
    )
    assert completed.returncode == 0, completed.stderr
    line = [row for row in completed.stderr.splitlines() if row.startswith("HEAVY=")][-1]
    return [name for name in line.removeprefix("HEAVY=").split(",") if name]


def test_version_and_help_load_no_heavy_module():
    assert heavy_modules_loaded("--version") == []
    assert heavy_modules_loaded("--help") == []


LIGHT_HELP = [
    "campaign",
    "schema",
    "evaluate",
    "sweep",
    "perf",
    "models",
    "datasets",
    "leaderboard",
    "compare",
    "results",
    "submit",
    "verify-submission",
    "data",
    "reproduce",
    "finetune",
    "invert",  # its defaults come from attacks.defaults.InversionConfig; attacks/__init__.py is lazy
]


@pytest.mark.parametrize("command", LIGHT_HELP)
def test_command_help_loads_no_heavy_module(command):
    assert heavy_modules_loaded(command, "--help") == []


SUBCOMMANDS = [("campaign", "run"), ("campaign", "status"), ("data", "download"), ("data", "verify")]
SUBCOMMANDS += [("finetune", "nights"), ("finetune", "fare"), ("finetune", "tecoa"), ("invert", "features"), ("invert", "text")]


@pytest.mark.parametrize("group, command", SUBCOMMANDS)
def test_subcommand_help_loads_no_heavy_module(group, command):
    assert heavy_modules_loaded(group, command, "--help") == []


def test_every_subcommand_of_a_light_group_is_checked():
    checked = set(SUBCOMMANDS)
    groups = {name: main.get_command(click.Context(main), name) for name in LIGHT_HELP}
    found = {
        (name, sub) for name, group in groups.items() if isinstance(group, click.Group) for sub in group.list_commands(click.Context(group))
    }
    assert found == checked


@pytest.mark.parametrize("package", ["benchmark.datasets", "finetune", "attacks"])
def test_lazy_package_exports_match_their_type_checking_imports(package):
    """A lazy package's `_EXPORTS` names exactly what its `if TYPE_CHECKING:` block imports, and each name resolves."""
    module = importlib.import_module(package)
    tree = ast.parse(Path(module.__file__).read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING")
    imported = {alias.name: "." * node.level + (node.module or "") for node in block.body for alias in node.names}
    assert imported == module._EXPORTS
    assert sorted(module.__all__) == sorted(module._EXPORTS)
    for name in module._EXPORTS:
        assert getattr(module, name) is not None


def test_every_command_is_listed_as_light_or_heavy():
    assert sorted(LIGHT_HELP) == sorted(main.list_commands(click.Context(main)))


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_lazy_table_matches_each_command(name):
    command = main.get_command(click.Context(main), name)
    assert command is not None and command.name == name
    assert LAZY_COMMANDS[name][1] == command.get_short_help_str(120)


def test_help_lists_lazy_commands_with_their_short_help():
    result = click.testing.CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    for name in LAZY_COMMANDS:
        assert f"  {name} " in result.output
