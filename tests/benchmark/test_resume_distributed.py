"""Kill-and-resume, checkpoints keyed by configuration, and a 2-process gloo run equal to one process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmark.results import read_result, read_samples
from benchmark.runner import EvaluationConfig, run_evaluation
from benchmark.runtime.checkpoint import PARTIAL_SUFFIX, BatchCheckpoint

ROOT = Path(__file__).resolve().parents[2]
# A real convnet at a tiny size; 3 batches of 4 so two ranks get an uneven share.
EVALUATE = [
    "evaluate",
    "--model",
    "clip-convnext",
    "--random-weights",
    "--model-kwarg",
    "reduced=true",
    "--n-ex",
    "12",
    "--batch-size",
    "4",
    "--n-iter",
    "8",
    "--seed",
    "3",
    "--quiet",
]


def _environment(cache: Path) -> dict[str, str]:
    # One thread everywhere: torchrun sets it, and float reductions then match across runs.
    return {**os.environ, "PERCEPTBENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def _bench(args: list[str], cache: Path, launcher: list[str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    command = (launcher or [sys.executable]) + ["-m", "benchmark.cli", *args]
    return subprocess.run(command, cwd=ROOT, env=_environment(cache), capture_output=True, text=True, timeout=300, **kwargs)


def _only_result(folder: Path) -> Path:
    results = [p for p in folder.rglob("*.json")]
    assert len(results) == 1, results
    return results[0]


def _outcomes(path: Path) -> list[dict[str, str]]:
    return read_samples(path)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, isolated_cache):
    out = tmp_path_factory.mktemp("uninterrupted")
    run = _bench(EVALUATE + ["--output-dir", str(out)], isolated_cache)
    assert run.returncode == 0, run.stderr
    return _only_result(out)


def test_run_killed_mid_way_resumes_to_the_uninterrupted_result(tmp_path, isolated_cache, uninterrupted):
    out = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmark.cli", *EVALUATE, "--output-dir", str(out)],
        cwd=ROOT,
        env=_environment(isolated_cache),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        partial = list(out.rglob(f"*{PARTIAL_SUFFIX}"))
        if partial and partial[0].read_text().count("\n") >= 1:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not list(out.rglob("*.samples.csv")) and len(list(out.rglob(f"*{PARTIAL_SUFFIX}"))) == 1

    # Another batch size writes the same result file but must not take the killed run's outcomes.
    changed = _bench(EVALUATE + ["--batch-size", "3", "--output-dir", str(out)], isolated_cache)
    assert changed.returncode == 0, changed.stderr
    assert "resumed:" not in changed.stdout and "different configuration" in changed.stderr
    assert read_result(_only_result(out)).config["batch_size"] == 3

    resumed = _bench(EVALUATE + ["--output-dir", str(out)], isolated_cache)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed: 4 of 12 samples" in resumed.stdout or "resumed: 8 of 12 samples" in resumed.stdout
    result = read_result(_only_result(out))
    assert result.scores == read_result(uninterrupted).scores and result.config["batch_size"] == 4
    assert read_samples(_only_result(out)) == read_samples(uninterrupted)
    assert not list(out.rglob(f"*{PARTIAL_SUFFIX}")), "the checkpoint is removed once the result is written"


def test_two_gloo_processes_write_the_single_process_result(tmp_path, isolated_cache, uninterrupted):
    out = tmp_path / "distributed"
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    run = _bench(EVALUATE + ["--output-dir", str(out)], isolated_cache, launcher=launcher)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("clean") == 1, "only rank 0 reports"
    result = read_result(_only_result(out))
    single = read_result(uninterrupted)
    assert result.environment["world_size"] == 2 and single.environment["world_size"] == 1
    assert result.scores == single.scores and result.config == single.config
    assert read_samples(_only_result(out)) == read_samples(uninterrupted)


def test_distributed_flag_without_torchrun_is_a_clear_error(tmp_path):
    from click.testing import CliRunner

    from benchmark.cli.bench import main

    out = CliRunner().invoke(main, ["evaluate", "--model", "ssim", "--n-ex", "2", "--distributed", "--output-dir", str(tmp_path)])
    assert out.exit_code != 0 and "torchrun --nproc_per_node N" in out.output and "Traceback" not in out.output


def test_checkpoint_ignores_torn_lines_and_other_configurations(tmp_path):
    result_path = tmp_path / "demo" / "run.json"
    mine, other = BatchCheckpoint(result_path, "aaaa"), BatchCheckpoint(result_path, "bbbb", rank=1)
    mine.append(0, [{"position": 0, "robust_score": 0.5}])
    other.append(1, [{"position": 4}])
    with mine.path.open("a") as handle:
        handle.write('{"config_hash": "aaaa", "batch": 1, "rec')  # killed mid-write
    mine.append(2, [{"position": 8}])
    with pytest.warns(UserWarning, match="different configuration"):
        finished = mine.load()
    assert finished == {0: [{"position": 0, "robust_score": 0.5}], 2: [{"position": 8}]}
    mine.discard()
    assert not mine.path.exists() and other.path.exists()


def test_same_seed_same_result_and_the_seed_and_versions_are_recorded(tmp_path):
    config = dict(model="clip-convnext", pretrained=False, model_kwargs={"reduced": True}, n_ex=4, batch_size=2, n_iter=3, seed=11)
    first, first_path = run_evaluation(EvaluationConfig(**config), tmp_path / "a", progress=False)
    second, second_path = run_evaluation(EvaluationConfig(**config), tmp_path / "b", progress=False)
    assert read_samples(first_path) == read_samples(second_path) and first.scores == second.scores
    data = json.loads(first_path.read_text())
    assert data["config"]["seed"] == 11 and data["attack"]["seed"] == 11
    assert {"torch", "perceptbench", "numpy"} <= set(data["environment"]["versions"])
