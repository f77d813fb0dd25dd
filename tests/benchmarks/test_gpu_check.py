"""benchmarks/gpu_check.py's tiny CPU mode: every step of the GPU mode runs, with the same keys, and an overrun is contained."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check")
    # `perf_channels_last` gets a budget too small to finish: it must be recorded as an overrun and the rest must still run.
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--device", "cpu", "--out", str(out), "--budget", "perf_channels_last=0.01"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr
    return out, json.loads((out / "gpu_check.json").read_text()), time.perf_counter() - started


def test_every_step_runs_with_the_declared_keys(tiny_run):
    _, report, _ = tiny_run
    gpu_check = _module()
    assert tuple(report) == gpu_check.REPORT_KEYS
    assert tuple(report["agreement"]) == gpu_check.AGREEMENT_KEYS
    assert [step["name"] for step in report["steps"]] == [step.name for step in gpu_check.STEPS]
    assert set(gpu_check.FIGURE_KEYS) == {step.name for step in gpu_check.STEPS}
    for step in report["steps"]:
        assert tuple(step) == gpu_check.STEP_KEYS
        if step["status"] == "ok":  # the keys the GPU mode writes too: both build figures with figures_of
            assert tuple(step["figures"]) == gpu_check.FIGURE_KEYS[step["name"]], step["name"]
    statuses = {step["name"]: step["status"] for step in report["steps"]}
    assert statuses.pop("perf_channels_last") == "overrun"
    assert set(statuses.values()) == {"ok"}, [(s["name"], s["error"]) for s in report["steps"] if s["status"] != "ok"]


def test_an_undeclared_figure_is_refused():
    gpu_check = _module()
    with pytest.raises(KeyError, match="undeclared"):
        gpu_check.figures_of("torchrun", launcher="x", speed=1)
    assert gpu_check.figures_of("torchrun", launcher="x") == {"launcher": "x", "backend": None, "samples": None, "identical": None}


def test_the_figures_are_there(tiny_run):
    _, report, _ = tiny_run
    gpu_check = _module()
    figures = {step["name"]: step["figures"] for step in report["steps"]}
    for method in ("floor", "ours", "reference"):
        assert tuple(figures["perf_fp32"][method]) == gpu_check.MEASUREMENT_KEYS
    nights = figures["evaluate_nights"]
    assert nights["triplets"] == nights["triplets_evaluated"] == 4 and nights["extrapolated"] is True and nights["nights_test_s"] > 0
    assert set(figures["finetune"]) == set(gpu_check.RECIPES)
    for recipe in figures["finetune"].values():
        assert tuple(recipe) == gpu_check.RECIPE_KEYS and recipe["error"] is None and recipe["images_per_s"] > 0, recipe
    assert figures["torchrun"]["identical"] is True and figures["torchrun"]["backend"] == "gloo"
    assert figures["perf_fp16"]["skipped"] and figures["perf_compile"]["skipped"]


def test_tiny_mode_is_one_process_and_reports_its_start(tiny_run):
    _, report, seconds = tiny_run
    assert report["mode"] == "tiny" and report["startup_s"] > 0
    # Loose on purpose (a loaded machine); a quiet 2-core machine takes well under a minute (README).
    assert seconds < 900


def test_the_markdown_table_lists_every_step(tiny_run):
    out, report, _ = tiny_run
    table = (out / "gpu_check.md").read_text()
    for step in report["steps"]:
        assert f"| {step['name']} | {step['status']} |" in table


def test_a_bad_budget_is_refused_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path), "--budget", "nonsense=3"], capture_output=True, text=True)
    assert done.returncode == 2 and "--budget takes STEP=SECONDS" in done.stderr
