"""The leaderboard as a trust boundary (#19): malformed files are skipped in one line, nothing invalid is ranked, outputs cannot be injected."""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import benchmark
from benchmark.results import EvaluationResult, ResultFormatError
from leaderboard.escape import csv_cell, markdown_cell

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def valid_result(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("valid")
    benchmark.evaluate("pixel-l2", dataset="demo", threat="linf", attack="apgd-ce", n_ex=4, n_iter=2, output_dir=folder)
    path = next(folder.rglob("*.json"))
    return path, json.loads(path.read_text())


# The eight shapes the issue found crashing the leaderboard, and three more.
BAD_SHAPES = {
    "per_split_list": lambda d: d["scores"].__setitem__("per_split", []),
    "model_int": lambda d: d.__setitem__("model", 3),
    "dataset_null": lambda d: d.__setitem__("dataset", None),
    "created_at_int": lambda d: d.__setitem__("created_at", 5),
    "environment_list": lambda d: d.__setitem__("environment", []),
    "attack_list": lambda d: d.__setitem__("attack", []),
    "protocol_string": lambda d: d.__setitem__("protocol", "x"),
    "deep": lambda d: d.__setitem__("environment", json.loads("[" * 500 + "]" * 500)),
    "score_7_5": lambda d: d["scores"].__setitem__("robust", 7.5),
    "score_text": lambda d: d["scores"].__setitem__("clean", "0.9"),
    "relabelled_dataset": lambda d: d.__setitem__("dataset", "nights"),
}


def _write_bad_files(folder: Path, data: dict) -> list[str]:
    names = []
    for name, mutate in BAD_SHAPES.items():
        bad = copy.deepcopy(data)
        mutate(bad)
        (folder / f"bad-{name}.json").write_text(json.dumps(bad))
        names.append(f"bad-{name}.json")
    (folder / "bad-not-json.json").write_text("{not json")
    (folder / "bad-list.json").write_text("[1, 2]")
    return names + ["bad-not-json.json", "bad-list.json"]


@pytest.mark.parametrize("name", sorted(BAD_SHAPES))
def test_each_bad_shape_is_refused_with_its_field(valid_result, name):
    data = copy.deepcopy(valid_result[1])
    BAD_SHAPES[name](data)
    with pytest.raises(ResultFormatError):
        EvaluationResult.from_dict(data)


def test_the_leaderboard_skips_bad_files_in_one_line_each_and_builds(valid_result, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    path, data = valid_result
    (results / path.name).write_text(path.read_text())
    bad = _write_bad_files(results, data)
    done = subprocess.run(
        [sys.executable, "-m", "benchmark", "leaderboard", "--results", str(results), "--out", str(tmp_path / "site"), "--no-reported"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: skipping")]
    assert sorted(Path(line.split()[2].rstrip(":")).name for line in warnings) == sorted(bad)
    assert "pixel-l2" in (tmp_path / "site" / "LEADERBOARD.md").read_text()


def _mutants():
    """Mutations of a result dict: a value replaced by another type, deleted, nested, or a number out of range."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**12), 10**12),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    )
    return st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["replace", "delete", "nest"]), leaves), min_size=1, max_size=4)


def _paths(data, prefix=()):
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


def _mutate(data, mutations):
    data = copy.deepcopy(data)
    for pick, action, leaf in mutations:
        paths = list(_paths(data))
        if not paths:
            break
        *parent_path, key = paths[pick % len(paths)]
        parent = data
        for part in parent_path:
            parent = parent[part]
        if action == "delete":
            del parent[key]
        elif action == "nest":
            parent[key] = {"x": [parent[key]]}
        else:
            parent[key] = leaf
    return data


@settings(max_examples=1000, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutations=_mutants())
def test_no_mutant_escapes_the_validator_and_nothing_invalid_is_read(valid_result, mutations):
    data = _mutate(valid_result[1], mutations)
    try:
        result = EvaluationResult.from_dict(data)
    except ResultFormatError:
        return
    for score in (result.scores.clean, result.scores.robust):
        assert score is None or (isinstance(score, float) and math.isfinite(score) and 0 <= score <= 1)
    assert isinstance(result.model, str) and isinstance(result.dataset, str)
    assert result.scores.n is None or result.scores.n >= 1


@pytest.mark.parametrize("text", ["=cmd|'/C calc'!A0", "+1+2", "-x", "@SUM(1)", "\tx", "\rx"])
def test_csv_cells_that_a_spreadsheet_would_run_are_escaped(text):
    cell = csv_cell(text)
    assert cell.startswith("'") and cell[1:] == text
    assert csv_cell("-0.5") == "-0.5" and csv_cell(0.5) == 0.5


def test_a_model_name_with_a_newline_adds_no_markdown_row():
    cell = markdown_cell("evil\n| fake | row |")
    assert "\n" not in cell and "|" not in cell.replace("\\|", "")
    rows = list(csv.reader(io.StringIO(cell)))
    assert len(rows) == 1
