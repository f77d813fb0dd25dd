"""benchmarks/gpu_check.py's tiny CPU mode: every step of the GPU mode runs, with the same keys, and an overrun is contained."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
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
    # `environment` gets a budget too small to finish: it must be recorded as an overrun and the rest must still run.
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--device", "cpu", "--out", str(out), "--budget", "environment=0.01"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr
    return out, json.loads((out / "gpu_check.json").read_text())


def test_every_step_runs_with_the_gpu_modes_keys(tiny_run):
    _, report = tiny_run
    gpu_check = _module()
    assert [step["name"] for step in report["steps"]] == [step.name for step in gpu_check.STEPS]
    for step in report["steps"]:
        assert tuple(step) == gpu_check.STEP_KEYS
    statuses = {step["name"]: step["status"] for step in report["steps"]}
    assert statuses.pop("environment") == "overrun"
    assert set(statuses.values()) == {"ok"}, [(s["name"], s["error"]) for s in report["steps"] if s["status"] != "ok"]


def test_the_figures_are_there(tiny_run):
    _, report = tiny_run
    figures = {step["name"]: step["figures"] for step in report["steps"]}
    assert {"floor", "ours", "reference"} <= set(figures["perf_fp32"])
    assert figures["evaluate_nights"]["triplets"] == 8 and figures["evaluate_nights"]["extrapolated_nights_test_s"] > 0
    assert set(figures["finetune"]) == {"nights_lora", "nights_mlp", "fare", "tecoa"}
    assert all("images_per_s" in recipe for recipe in figures["finetune"].values()), figures["finetune"]
    assert figures["torchrun"]["identical"] is True and figures["torchrun"]["backend"] == "gloo"
    assert "bf16_within_1_point_of_fp32" in report["agreement"]


def test_the_markdown_table_lists_every_step(tiny_run):
    out, report = tiny_run
    table = (out / "gpu_check.md").read_text()
    for step in report["steps"]:
        assert f"| {step['name']} | {step['status']} |" in table


def test_a_bad_budget_is_refused_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path), "--budget", "nonsense=3"], capture_output=True, text=True)
    assert done.returncode == 2 and "--budget takes STEP=SECONDS" in done.stderr
