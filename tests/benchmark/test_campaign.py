"""Campaigns through submitit (local processes; Slurm through a fake sbatch) and `--shard` merges equal to one run."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from benchmark.results import read_result, read_samples
from benchmark.runner import EvaluationConfig, parse_shard, run_evaluation
from benchmark.runtime.checkpoint import PARTIAL_SUFFIX

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("submitit")

# Two models x two threats, 8 demo triplets in batches of 1, so a job can be caught between batches.
RUN_FIELDS = {"n_ex": 8, "batch_size": 1, "n_iter": 10, "seed": 0}
RUNS = [{"model": model, "threat": threat, **RUN_FIELDS} for model in ("ssim", "pixel-l2") for threat in ("linf", "l2")]


def _environment(cache: Path, path_prefix: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "PERCEPTBENCH_CACHE": str(cache), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    if path_prefix is not None:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env['PATH']}"
    return env


def _bench(args: list[str], cache: Path, path_prefix: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "benchmark", *args]
    return subprocess.run(command, cwd=ROOT, env=_environment(cache, path_prefix), capture_output=True, text=True, timeout=300)


def _rows(status_output: str) -> dict[str, list[str]]:
    """The status table's rows by run key (columns split on two or more spaces)."""
    import re

    rows = {}
    for line in status_output.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) >= 4 and re.fullmatch(r"[0-9a-f]{12}", cells[0]):
            rows[cells[0]] = cells
    return rows


def _campaign_runs(directory: Path) -> list[dict]:
    return json.loads((directory / "campaign.json").read_text())["runs"]


def test_local_campaign_kill_resume_status_and_results_equal_to_runs_by_hand(tmp_path, isolated_cache):
    campaign_file = tmp_path / "campaign.json"
    campaign_file.write_text(json.dumps({"runs": RUNS}))
    directory = tmp_path / "campaign"
    command = [sys.executable, "-m", "benchmark", "campaign", "run", str(campaign_file), str(directory), "--executor", "local"]
    process = subprocess.Popen(command, cwd=ROOT, env=_environment(isolated_cache), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The first run is the victim: once it has checkpointed a batch, freeze it, look at the status, then kill it.
    deadline = time.monotonic() + 240
    victim_pid = None
    while time.monotonic() < deadline and process.poll() is None and victim_pid is None:
        if (directory / "campaign.json").is_file():
            first = _campaign_runs(directory)[0]
            partial = list(Path(first["result_file"]).parent.glob(f"{Path(first['result_file']).stem}.*{PARTIAL_SUFFIX}"))
            started = directory / "state" / f"{first['key']}.started"
            if partial and partial[0].read_text().count("\n") >= 1 and started.is_file():
                victim_pid = json.loads(started.read_text())["pid"]
                os.kill(victim_pid, signal.SIGSTOP)
        time.sleep(0.01)
    assert victim_pid is not None, "the first job finished before it could be caught"
    keys = [run["key"] for run in _campaign_runs(directory)]
    frozen = _bench(["campaign", "status", str(directory)], isolated_cache)
    rows = _rows(frozen.stdout)
    assert frozen.returncode == 0, frozen.stderr
    assert [rows[key][2] for key in keys] == ["running", "pending", "pending", "pending"], frozen.stdout
    assert rows[keys[0]][3].isdigit() and rows[keys[0]][5].endswith("_0_log.err")
    os.kill(victim_pid, signal.SIGKILL)
    process.wait(timeout=240)

    after_kill = _rows(_bench(["campaign", "status", str(directory)], isolated_cache).stdout)
    assert [after_kill[key][2] for key in keys] == ["failed", "done", "done", "done"]
    assert after_kill[keys[0]][-1] == f"process {victim_pid} ended without a result (killed?)"

    rerun = _bench(["campaign", "run", str(campaign_file), str(directory), "--executor", "local"], isolated_cache)
    assert rerun.returncode == 0, rerun.stderr
    assert "submitted 1 job(s)" in rerun.stdout and "4 done" in rerun.stdout
    resumed = read_result(_campaign_runs(directory)[0]["result_file"])
    assert 0 < resumed.resumed_samples < 8, "the resubmitted job resumed from the killed job's checkpoint"
    again = _bench(["campaign", "run", str(campaign_file), str(directory), "--executor", "local"], isolated_cache)
    assert "submitted 0 job(s)" in again.stdout, "a finished campaign is not run again"

    by_hand = tmp_path / "by-hand"
    flags = ["--n-ex", "8", "--batch-size", "1", "--n-iter", "10", "--seed", "0", "--quiet", "--output-dir", str(by_hand)]
    hand = _bench(["evaluate", "--model", "ssim,pixel-l2", "--threat", "linf,l2", *flags], isolated_cache)
    assert hand.returncode == 0, hand.stderr
    for run in _campaign_runs(directory):
        ours = Path(run["result_file"])
        theirs = by_hand / ours.relative_to(directory / "results")
        assert read_result(ours).scores == read_result(theirs).scores
        assert read_result(ours).config == read_result(theirs).config
        assert read_samples(ours) == read_samples(theirs)
    assert sorted(p.name for p in (directory / "results").rglob("*.json")) == sorted(p.name for p in by_hand.rglob("*.json"))


FAKE_SBATCH = """#!/bin/sh
echo "$@" >> "{log}"
cp "$1" "{script}"
echo "Submitted batch job 4242"
"""
FAKE_SACCT = """#!/bin/sh
echo "JobID|State|NodeList"
echo "4242_0|RUNNING|node1"
echo "4242_1|PENDING|None assigned"
"""


def test_slurm_submission_script_carries_our_options(tmp_path, isolated_cache):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log, script = tmp_path / "sbatch-args.txt", tmp_path / "sbatch-script.sh"
    fakes = {"sbatch": FAKE_SBATCH.format(log=log, script=script), "sacct": FAKE_SACCT, "srun": "#!/bin/sh\nexit 1\n"}
    for name, text in fakes.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    campaign_file = tmp_path / "campaign.yaml"
    campaign_file.write_text(
        "slurm: {partition: gpu, time_limit_min: 30}\n"
        "runs:\n  - {model: ssim, threat: linf, n_ex: 4}\n  - {model: pixel-l2, threat: l2, n_ex: 4}\n"
    )
    directory = tmp_path / "campaign"
    args = ["campaign", "run", str(campaign_file), str(directory), "--account", "lab", "--gpus-per-job", "2"]
    submitted = _bench([*args, "--array-parallelism", "1", "--cpus-per-job", "16"], isolated_cache, bin_dir)
    assert submitted.returncode == 0, submitted.stderr
    lines = {line for line in script.read_text().splitlines() if line.startswith("#SBATCH")}
    expected = {"--partition=gpu", "--account=lab", "--gpus-per-node=2", "--time=30", "--array=0-1%1", "--cpus-per-task=16"}
    assert {f"#SBATCH {flag}" for flag in expected} <= lines, sorted(lines)
    assert any(line.startswith("#SBATCH --signal=USR2@") for line in lines), "the time-limit signal submitit requeues on"
    assert log.read_text().split()[-1].endswith(".sh")

    # Each job is the run's `bench evaluate` on cuda, under torchrun for its two GPUs, and requeues on a time limit.
    with (directory / "jobs" / "4242_0" / "4242_0_submitted.pkl").open("rb") as handle:
        job = pickle.load(handle).function
    command = job.command()
    assert command[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert command[command.index("evaluate") :][:3] == ["evaluate", "--model", "ssim"] and "cuda" in command
    assert hasattr(job, "checkpoint")

    status = _bench(["campaign", "status", str(directory)], isolated_cache, bin_dir)
    states = [cells[2:4] for cells in _rows(status.stdout).values()]
    assert states == [["running", "4242_0"], ["pending", "4242_1"]], status.stdout


def test_campaign_file_refuses_an_unknown_field_in_one_line(tmp_path, isolated_cache):
    campaign_file = tmp_path / "campaign.yaml"
    campaign_file.write_text("runs:\n  - {model: ssim, n_iters: 3}\n")
    result = _bench(["campaign", "run", str(campaign_file), str(tmp_path / "c"), "--executor", "local"], isolated_cache)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "unknown field 'runs[0].n_iters'" in result.stderr and len(result.stderr.strip().splitlines()) == 1


# -- shards --------------------------------------------------------------------------------------------


def _shard_and_merge(config: EvaluationConfig, out: Path, parts: int) -> Path:
    shard_positions = []
    for index in range(1, parts + 1):
        shard_result, checkpoint = run_evaluation(replace(config, shard=f"{index}/{parts}"), out, progress=False)
        assert checkpoint.name.endswith(f".shard{index}of{parts}.rank0{PARTIAL_SUFFIX}")
        lines = [json.loads(line) for line in checkpoint.read_text().splitlines()]
        shard_positions.append([record["position"] for line in lines for record in line["records"]])
        assert shard_result.scores.n == len(shard_positions[-1]) > 0
    assert not list(out.rglob("*.json")), "a shard writes no result file"
    every = [p for positions in shard_positions for p in positions]
    assert len(every) == len(set(every)), "shards are disjoint"
    result, path = run_evaluation(config, out, progress=False, merge_shards=True)
    assert sorted(every) == sorted(int(row["position"]) for row in read_samples(path)), "and cover the run"
    assert result.scores.n == len(every)
    assert not list(out.rglob(f"*{PARTIAL_SUFFIX}")), "the merge removes the shards' checkpoints"
    return path


def _assert_same_result(merged: Path, single: Path) -> None:
    ours, theirs = read_result(merged), read_result(single)
    assert merged.name == single.name
    assert ours.scores == theirs.scores and ours.config == theirs.config and ours.protocol == theirs.protocol
    assert ours.scores.intervals, "the merge writes intervals (benchmark/score_intervals.py), equal to the unsharded run's"
    assert read_samples(merged) == read_samples(single)


def test_twoafc_shards_merge_to_the_unsharded_result(tmp_path):
    config = EvaluationConfig(model="ssim", n_ex=7, batch_size=2, n_iter=5)
    _, single = run_evaluation(config, tmp_path / "single", progress=False)
    merged = _shard_and_merge(config, tmp_path / "sharded", parts=3)
    _assert_same_result(merged, single)


def test_retrieval_shards_merge_to_the_unsharded_map(tmp_path):
    from paper_data import write_revisited

    colours = {"a": (40, 40, 40), "b": (60, 60, 60), "c": (200, 200, 200), "d": (220, 220, 220), "q1": (50, 50, 50)}
    colours |= {"q2": (210, 210, 210), "q3": (45, 45, 45)}
    gnd = [
        {"easy": [0], "hard": [1], "junk": [], "bbx": [0, 0, 40, 40]},
        {"easy": [2], "hard": [3], "junk": [0], "bbx": [0, 0, 40, 40]},
        {"easy": [], "hard": [1, 2], "junk": [], "bbx": [0, 0, 40, 40]},
    ]
    write_revisited(tmp_path, "roxford5k", ["a", "b", "c", "d"], ["q1", "q2", "q3"], gnd, colours)
    config = EvaluationConfig(model="pixel-l2", dataset="roxford5k", data_root=str(tmp_path), batch_size=1, n_iter=5, eps="16/255")
    _, single = run_evaluation(config, tmp_path / "single", progress=False)
    scores = read_result(single).scores
    assert set(scores.protocols) == {"medium", "hard"}, "retrieval reports its Medium and Hard mAP"
    merged = _shard_and_merge(config, tmp_path / "sharded", parts=2)
    _assert_same_result(merged, single)


def test_merge_refuses_a_missing_shard_and_shard_text_is_checked(tmp_path):
    config = EvaluationConfig(model="ssim", n_ex=4, batch_size=1, n_iter=2)
    run_evaluation(replace(config, shard="1/2"), tmp_path, progress=False)
    with pytest.raises(ValueError, match="2 of 4 batches are in no shard checkpoint"):
        run_evaluation(config, tmp_path, progress=False, merge_shards=True)
    assert parse_shard("2/3") == (1, 3)
    for bad in ("0/2", "3/2", "1", "a/b"):
        with pytest.raises(ValueError, match="--shard expects i/n"):
            parse_shard(bad)
    with pytest.raises(ValueError, match="fixed --batch-size"):
        replace(config, shard="1/2", batch_size="auto").validate()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine where CUDA is absent")
def test_a_failed_job_shows_its_last_error_line(tmp_path, isolated_cache):
    # The login-node check skips the device (a login node has no GPU); the job's own `bench evaluate` refuses it.
    campaign_file = tmp_path / "campaign.json"
    campaign_file.write_text(json.dumps([{"model": "ssim", "n_ex": 2, "device": "cuda:7"}]))
    directory = tmp_path / "campaign"
    run = _bench(["campaign", "run", str(campaign_file), str(directory), "--executor", "local"], isolated_cache)
    assert run.returncode == 0, run.stderr
    [row] = _rows(run.stdout).values()
    assert row[2] == "failed" and "use --device cpu" in row[-1], run.stdout


@pytest.mark.parametrize("name, kwargs", [("ssim", {}), ("clip-convnext", {"reduced": True})])
def test_the_campaign_expects_the_result_file_the_runner_writes(tmp_path, name, kwargs):
    from benchmark.cli.campaign_jobs import expected_result_path

    config = EvaluationConfig(model=name, pretrained=False, model_kwargs=kwargs, n_ex=1, attack="none")
    _, path = run_evaluation(config, tmp_path, progress=False)
    assert expected_result_path(config, tmp_path) == path


def test_a_job_signalled_for_its_time_limit_is_requeued_and_resumes(tmp_path, isolated_cache):
    """submitit's time-limit signal (USR2): the job checkpoints, is requeued and its next attempt resumes."""
    campaign_file = tmp_path / "campaign.json"
    campaign_file.write_text(json.dumps([RUNS[0]]))
    directory = tmp_path / "campaign"
    command = [sys.executable, "-m", "benchmark", "campaign", "run", str(campaign_file), str(directory), "--executor", "local"]
    process = subprocess.Popen(command, cwd=ROOT, env=_environment(isolated_cache), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    first_pid = None
    while time.monotonic() < deadline and process.poll() is None and first_pid is None:
        if (directory / "campaign.json").is_file():
            [run] = _campaign_runs(directory)
            result = Path(run["result_file"])
            partial = list(result.parent.glob(f"{result.stem}.*{PARTIAL_SUFFIX}"))
            started = directory / "state" / f"{run['key']}.started"
            if partial and partial[0].read_text().count("\n") >= 1 and started.is_file():
                first_pid = json.loads(started.read_text())["pid"]
                os.kill(first_pid, signal.SIGUSR2)
        time.sleep(0.01)
    assert first_pid is not None, "the job finished before it could be signalled"
    process.wait(timeout=240)
    assert process.returncode == 0
    second = json.loads((directory / "state" / f"{run['key']}.started").read_text())["pid"]
    assert second != first_pid, "a second attempt ran"
    assert 0 < read_result(run["result_file"]).resumed_samples < 8
