"""`bench --help`, `--version` and every command's `--help` import no torch: the command modules load lazily."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from benchmark.cli import LAZY_COMMANDS, main

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "open_clip", "timm", "pandas", "matplotlib", "scipy")
# `bench invert ...`'s option defaults come from attacks.inversion.InversionConfig, and any `attacks.*` import runs
# attacks/__init__, which imports torch; it stays heavy until that package's exports load lazily.
STILL_HEAVY = {"invert"}
# Runs the CLI as `python -m benchmark ARGS` does, then prints which heavy modules it imported and its exit code.
PROBE = """
import runpy, sys
sys.argv = ["bench", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("benchmark", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    code = exit.code or 0
print("LOADED", ",".join(m for m in {heavy!r} if m in sys.modules), "EXIT", code)
"""


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand of `group` as the words that name it (this imports them: in the test process only)."""
    ctx = click.Context(group)
    paths = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, name
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths.extend(command_paths(command, (*prefix, name)))
    return paths


def run_probe(*args: str) -> tuple[set[str], int]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    line = done.stdout.strip().splitlines()[-1]
    _, loaded, _, code = line.split(" ")
    return set(filter(None, loaded.split(","))), int(code)


@pytest.mark.parametrize("args", [("--version",), ("--help",)], ids=" ".join)
def test_top_level_imports_no_torch(args):
    loaded, code = run_probe(*args)
    assert code == 0
    assert loaded == set(), f"bench {' '.join(args)} imported {sorted(loaded)}"


@pytest.mark.parametrize("path", command_paths(main), ids=" ".join)
def test_every_command_help_imports_no_torch(path):
    loaded, code = run_probe(*path, "--help")
    assert code == 0, f"bench {' '.join(path)} --help exited {code}"
    if path[0] in STILL_HEAVY:
        pytest.xfail(f"bench {path[0]} still imports {sorted(loaded)} for its --help")
    assert loaded == set(), f"bench {' '.join(path)} --help imported {sorted(loaded)}"


def test_help_lists_every_command_without_importing_it():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "benchmark", "--help"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    listed = {line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == set(main.list_commands(click.Context(main)))
    assert set(LAZY_COMMANDS) <= listed


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_stored_short_help_is_the_commands_own(name):
    """At every width click's help formatter can use (50 to 78 columns), `bench --help` shows what the command says itself."""
    command = LAZY_COMMANDS[name].load()
    stand_in = click.Command(name, help=LAZY_COMMANDS[name].short_help)
    longest = max(map(len, main.list_commands(click.Context(main))))
    for width in range(50, 79):
        limit = width - 6 - longest
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), (name, width)


def test_lazy_target_that_is_not_a_command_is_refused():
    from benchmark.lazy_group import LazyCommand

    with pytest.raises(TypeError, match="benchmark.cli:LAZY_COMMANDS"):
        LazyCommand("benchmark.cli:LAZY_COMMANDS", "x").load()


@pytest.mark.parametrize("package", ["benchmark.datasets", "finetune"])
def test_lazy_package_exports_match_their_type_checking_imports(package):
    """A lazy package's `_EXPORTS` names exactly what its `if TYPE_CHECKING:` block imports, and each resolves."""
    module = importlib.import_module(package)
    tree = ast.parse(Path(module.__file__).read_text())
    block = next(node for node in tree.body if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING")
    imported = {alias.name: "." * node.level + (node.module or "") for node in block.body for alias in node.names}
    assert imported == module._EXPORTS
    assert sorted(module.__all__) == sorted(module._EXPORTS)
    for name in module._EXPORTS:
        assert getattr(module, name) is not None
