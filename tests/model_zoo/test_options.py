"""`--model-kwarg` values are typed against the factory's declared parameters (model_zoo/options.py)."""

from __future__ import annotations

import math

import pytest

from model_zoo.options import parse_model_options, split_option_pairs, typed_model_options

FACTORY = """
from __future__ import annotations

from model_zoo import PairwiseModel


class Flat(PairwiseModel):
    sim_range = (0.0, 1.0)

    def pairwise_sim(self, x, y):
        return 1 - (x - y).abs().flatten(1).mean(dim=1)


def flat(pretrained: bool = True, reduced: bool = False, depth: int = 2, scale: float = 1.0, name: str = "a", limit: int | None = None, free=None) -> Flat:
    return Flat()
"""


@pytest.fixture
def typed_factory(tmp_path, monkeypatch) -> str:
    (tmp_path / "acme_typed.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "acme_typed:flat"


@pytest.mark.parametrize(
    "pair,expected",
    [
        ("reduced=true", {"reduced": True}),
        ("reduced=False", {"reduced": False}),
        ("reduced=1", {"reduced": True}),
        ("reduced=0", {"reduced": False}),
        ("depth=-3", {"depth": -3}),
        ("scale=0.25", {"scale": 0.25}),
        ("scale=3", {"scale": 3.0}),
        ("name=3", {"name": "3"}),
        ("name=", {"name": ""}),
        ("limit=none", {"limit": None}),
        ("limit=7", {"limit": 7}),
        ("free=0.5", {"free": 0.5}),
        ("free=hello", {"free": "hello"}),
    ],
)
def test_command_line_text_becomes_the_declared_type(typed_factory, pair, expected):
    assert parse_model_options([typed_factory], [pair]) == expected


@pytest.mark.parametrize(
    "pair,message",
    [
        ("reduced=banana", "takes true or false \\(or 1/0\\) for 'reduced'"),
        ("reduced=2", "takes true or false"),
        ("reduced=yes", "takes true or false"),
        ("depth=2.5", "takes a whole number for 'depth'"),
        ("depth=two", "takes a whole number"),
        ("scale=nan", "takes a finite number for 'scale'"),
        ("scale=inf", "takes a finite number"),
        ("scale=-Infinity", "takes a finite number"),
        ("free=NaN", "give true/false, a whole or finite number, or text"),
        ("colour=red", "has no option 'colour' \\(--model-kwarg accepts: reduced, depth, scale, name, limit, free\\)"),
        ("reduced", "expects KEY=VALUE"),
        ("=1", "expects KEY=VALUE"),
    ],
)
def test_values_of_the_wrong_type_are_refused_in_one_line(typed_factory, pair, message):
    with pytest.raises(ValueError, match=message) as caught:
        parse_model_options([typed_factory], [pair])
    assert "\n" not in str(caught.value)


def test_values_from_files_must_already_have_the_declared_type(typed_factory):
    """A campaign file's `reduced: banana` (or 'true', a string) is refused, not read as true."""
    assert typed_model_options(typed_factory, {"reduced": True, "depth": 3, "scale": 2}) == {"reduced": True, "depth": 3, "scale": 2.0}
    for options in ({"reduced": "banana"}, {"reduced": "true"}, {"reduced": 1}, {"depth": True}, {"scale": math.nan}, {"name": 3}):
        with pytest.raises(ValueError, match="--model-kwarg"):
            typed_model_options(typed_factory, options)


def test_registry_models_type_reduced_and_every_model_must_agree():
    assert parse_model_options(["clip-convnext", "dino-vit-b16"], ["reduced=1"]) == {"reduced": True}
    assert parse_model_options(["clip-convnext"], []) == {}
    with pytest.raises(ValueError, match="model 'ssim' has no option 'reduced'"):
        parse_model_options(["clip-convnext", "ssim"], ["reduced=true"])
    assert split_option_pairs(["a=b=c"]) == {"a": "b=c"}
