"""Every `bench` command's help is complete: each option says what it does and shows its default, one word per option."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from benchmark.cli.bench import main


def _commands(command: click.Command, path: tuple[str, ...], ctx: click.Context):
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            yield from _commands(sub, (*path, name), click.Context(sub, parent=ctx, info_name=name))
    else:
        yield path, command


COMMANDS = list(_commands(main, ("bench",), click.Context(main, info_name="bench")))


def _has_default(option: click.Option) -> bool:
    default = option.default
    unset = type(default).__name__ == "Sentinel"  # click >= 8.3 marks "no default" with a sentinel
    return not (unset or default is None or option.is_flag or option.multiple or option.count)


@pytest.mark.parametrize("path, command", COMMANDS, ids=[" ".join(path) for path, _ in COMMANDS])
def test_every_option_has_help_and_shows_its_default(path, command):
    assert len(COMMANDS) > 20  # the walk reached the lazy groups (data, invert, finetune, campaign, ...)
    visible = [p for p in command.params if isinstance(p, click.Option) and not p.hidden]
    missing = [p.opts[0] for p in visible if not (p.help or "").strip()]
    hidden_defaults = [p.opts[0] for p in visible if _has_default(p) and not p.show_default and "[default" not in (p.help or "")]
    assert not missing, f"{' '.join(path)}: options without help: {missing}"
    assert not hidden_defaults, f"{' '.join(path)}: defaults not shown: {hidden_defaults}"
    assert not any("%%" in (p.help or "") for p in visible), "click prints help verbatim: write 7%, not 7%%"
    assert "--out" not in [opt for p in visible for opt in p.opts], "the output folder is --output-dir (--out is a hidden alias)"


def test_no_short_help_is_cut_at_an_abbreviation():
    """click cuts a short help at the first '. ': 'Feature inversion (Eq. 9)' became 'Feature inversion (Eq.'."""
    for path, command in COMMANDS:
        short = command.get_short_help_str(120)
        assert not short.endswith(("Eq.", "Sec.", "e.g.", "i.e.", "Fig.")), f"{' '.join(path)}: {short!r}"
    for group in ("invert", "finetune", "data", "campaign"):
        out = CliRunner().invoke(main, [group, "--help"])
        assert out.exit_code == 0 and "(Eq.\n" not in out.output and "Sec.\n" not in out.output, out.output


def test_out_is_a_hidden_alias_of_output_dir(tmp_path):
    (tmp_path / "results").mkdir()
    for spelling in ("--out", "--output-dir"):
        site = tmp_path / spelling.strip("-")
        out = CliRunner().invoke(main, ["leaderboard", "--results", str(tmp_path / "results"), spelling, str(site), "--no-reported"])
        assert out.exit_code == 0 and (site / "index.html").is_file(), out.output
    assert "--out " not in CliRunner().invoke(main, ["leaderboard", "--help"]).output
    missing = CliRunner().invoke(main, ["submit", "--model", "ssim", "--smoke"])
    assert missing.exit_code == 2 and "Missing option '--output-dir'" in missing.output


def test_finetune_help_gives_each_methods_own_data_and_recipe_defaults():
    from finetune.config import METHOD_DEFAULTS

    for command, method, data in (("nights", "lora", "nights/"), ("fare", "fare", "train/<wnid>"), ("tecoa", "tecoa", "train/<wnid>")):
        params = {p.name: p for p in COMMANDS_BY_NAME[("bench", "finetune", command)].params}
        assert data in params["data_root"].help and ("ImageNet" in params["data_root"].help) == (command != "nights")
        for name in ("lr", "weight_decay", "seed"):
            shown = params[name].help.split("[default: ")[1].split(",")[0]
            assert float(shown) == float(METHOD_DEFAULTS[method][name][0]), (command, name, shown)
    assert "7%" in COMMANDS_BY_NAME[("bench", "finetune", "fare")].params[0].help or any(
        "7% of the steps" in (p.help or "") for p in COMMANDS_BY_NAME[("bench", "finetune", "fare")].params
    )


COMMANDS_BY_NAME = dict(COMMANDS)
