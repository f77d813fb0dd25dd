"""Each default once (issue #20, item 5): the click options and `benchmark.evaluate` show `EvaluationConfig`'s defaults,
one threat label, and the light modules that hold them load no torch."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import click
import pytest

from attacks.defaults import SmoothingConfig
from attacks.threat import DEFAULT_EPS, NORMS, ThreatModel, split_threat_label, threat_label
from benchmark.cli.bench import main
from benchmark.runner import EvaluationConfig

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DEFAULTS = {f.name: f.default for f in dataclasses.fields(EvaluationConfig) if f.default is not dataclasses.MISSING}
# click parameter name -> EvaluationConfig field, where they differ
FIELD_OF = {"threats": "threat"}
EVALUATION_COMMANDS = [("evaluate",), ("sweep",), ("submit",), ("reproduce",)]


def _command(path: tuple[str, ...]) -> click.Command:
    ctx = click.Context(main, info_name="bench")
    command = main.get_command(ctx, path[0])
    assert command is not None, path
    return command


def _shown_default(option: click.Parameter) -> object:
    """The value a command runs with when the option is not given, as click converts it (the batch size's text read as a number)."""
    value = option.type_cast_value(click.Context(click.Command("x")), option.default) if option.default is not None else None
    return int(value) if option.name == "batch_size" and isinstance(value, str) and value.isdigit() else value


@pytest.mark.parametrize("path", EVALUATION_COMMANDS, ids=[" ".join(p) for p in EVALUATION_COMMANDS])
def test_every_option_of_an_evaluation_field_defaults_to_evaluation_configs_value(path):
    compared = []
    for option in _command(path).params:
        field = FIELD_OF.get(option.name or "", option.name)
        unset = option.default is None or type(option.default).__name__ == "Sentinel"  # click >= 8.3: no default
        if field not in CONFIG_DEFAULTS or unset or isinstance(option, click.Argument):
            continue
        if path == ("submit",) and field == "threat":  # a submission runs every threat model
            assert _shown_default(option) == ",".join(NORMS)
            continue
        assert _shown_default(option) == CONFIG_DEFAULTS[field], f"bench {' '.join(path)} {option.opts[0]}"
        compared.append(field)
    assert {"batch_size"} <= set(compared), compared  # the walk found the shared options
    if path == ("evaluate",):
        assert {"n_iter", "square_queries", "attack", "threat", "dataset", "n_restarts", "seed", "device"} <= set(compared)


def test_library_api_defaults_are_evaluation_configs():
    """`benchmark.evaluate` and `bench evaluate` run the same attack when none is named: the paper's APGD-CE."""
    from benchmark.api import evaluate

    signature = inspect.signature(evaluate)
    for name in ("dataset", "threat", "attack"):
        assert signature.parameters[name].default == CONFIG_DEFAULTS[name], name
    assert CONFIG_DEFAULTS["attack"] == "apgd-ce"


def test_certify_help_shows_smoothing_configs_defaults():
    params = {p.name: p for p in _command(("evaluate",)).params}
    defaults = SmoothingConfig()
    for option, value in (
        ("certify_sigma", defaults.sigma),
        ("certify_n", defaults.n),
        ("certify_n0", defaults.n0),
        ("certify_alpha", defaults.alpha),
    ):
        assert f"[default: {value}" in (params[option].help or ""), option
        assert CONFIG_DEFAULTS[option] == value
    assert f"[default: {CONFIG_DEFAULTS['certify_n_ex']}]" in (params["certify_n_ex"].help or "")


def test_evaluate_and_submit_share_one_option_block():
    """The options both commands take are declared once (benchmark/cli/common.py): same help, same default."""
    evaluate = {p.name: p for p in _command(("evaluate",)).params}
    submit = {p.name: p for p in _command(("submit",)).params}
    shared = ["device", "model_kwargs", "quiet", "data_root", "batch_size", "follow_links", "square_queries"]
    for name in shared:
        assert (evaluate[name].help, evaluate[name].default) == (submit[name].help, submit[name].default), name


def test_one_threat_label():
    threat = ThreatModel.from_text("linf")
    assert threat.label == threat_label("linf", DEFAULT_EPS["linf"]) == "linf 4/255"
    assert split_threat_label(ThreatModel.from_text("l2", "0.5").label) == ("l2", "0.5")
    from leaderboard.tables import HEADLINE_THREATS, threat_sort_key

    assert HEADLINE_THREATS == ("linf 4/255", "l2 3.0")
    assert sorted(["l2 3.0", "linf 8/255", "linf 4/255"], key=threat_sort_key) == ["linf 4/255", "linf 8/255", "l2 3.0"]


def test_the_homes_of_the_defaults_load_no_torch():
    code = "import sys, attacks.defaults, attacks.threat, benchmark.cli.common; print('torch' in sys.modules)"
    completed = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""}, capture_output=True, text=True
    )
    assert completed.stdout.strip() == "False", completed.stderr
