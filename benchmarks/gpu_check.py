"""Every GPU figure in one call of at most 8 minutes: attack throughput, evaluation speed, memory, fine-tuning, torchrun.

    python benchmarks/gpu_check.py --out benchmarks/results/2026-12-02-h200          # on a CUDA machine
    python benchmarks/gpu_check.py --tiny --device cpu --out /tmp/gpu-check          # the same steps, tiny, on CPU

Each step runs in its own process under its own time budget (`STEPS`); one that overruns or fails
is recorded as such (status, seconds, last error line) and the next one runs. `gpu_check.json` is
rewritten after every step, so a killed run keeps what it finished; `gpu_check.md` is its table.
Both modes write the same keys (`STEPS` and `STEP_KEYS`). All models have random weights: the
figures are speeds, memory and agreement between code paths, never scores of a metric.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NIGHTS_TEST_TRIPLETS = 1800  # the size of a NIGHTS-test-sized run (issue #26); a smaller run is extrapolated


@dataclass(frozen=True)
class Step:
    """One measurement: its name, its budget on the GPU and on CPU in tiny mode, and what it reports."""

    name: str
    budget_s: float
    tiny_budget_s: float
    description: str


# The steps and their budgets (seconds): 455 s in all on the GPU, inside the 8 minutes. Tiny mode allows 150 s a step (300 for the four fine-tuning runs):
# each step starts its own interpreter (importing torch) and a 2-core CI machine may be shared.
STEPS = (
    Step("environment", 15, 150, "device, driver, torch and CUDA versions"),
    Step("perf_fp32", 60, 150, "bench perf, ConvNeXt-B 224: floor, ours and AutoAttack's APGD in fp32"),
    Step("perf_bf16", 30, 150, "ours in bf16 (robust accuracy against fp32's on the same inputs)"),
    Step("perf_fp16", 30, 150, "ours in fp16"),
    Step("perf_channels_last", 30, 150, "ours with channels_last"),
    Step("perf_compile", 60, 150, "ours with torch.compile (skipped in tiny mode: compiling dominates on CPU)"),
    Step("evaluate_nights", 80, 150, "bench evaluate --attack apgd-ce, 100 iterations, NIGHTS on-disk format, batch auto, end to end"),
    Step("evaluate_standard", 40, 150, "the same with --attack standard on a subset"),
    Step("finetune", 80, 300, "one step of each recipe (nights lora, nights mlp, fare, tecoa), bf16, micro-batch auto"),
    Step("torchrun", 30, 150, "torchrun, 1 process (NCCL on GPU, gloo on CPU): the single-process result"),
)
# Keys every step record has, in both modes.
STEP_KEYS = ("name", "description", "status", "seconds", "budget_s", "error", "figures")


def _run(command: list[str], timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env or _env(), capture_output=True, text=True, timeout=timeout)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "PYTHONUNBUFFERED": "1"}


def _bench(*args: str) -> list[str]:
    return [sys.executable, "-m", "benchmark", *args]


# -- the steps, each run as `gpu_check.py --step NAME` in its own process --------------------------------


def step_environment(options: argparse.Namespace) -> dict[str, Any]:
    import torch

    figures: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda}
    figures["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu"
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version,memory.total", "--format=csv,noheader"], capture_output=True, text=True
        )
        figures["driver"] = smi.stdout.strip() or None
    except OSError:
        figures["driver"] = None
    return figures


def _perf(options: argparse.Namespace, precision: str = "fp32", channels_last: bool = False, compile_model: bool = False, reference=False):
    from benchmark.perf import ThroughputConfig, run_throughput

    tiny = options.tiny
    config = ThroughputConfig(
        model="clip-convnext",
        pretrained=False,
        model_kwargs={"reduced": True} if tiny else {},
        batch_size=2 if tiny else options.perf_batch,
        n_iter=2 if tiny else 20,
        image_size=32 if tiny else 224,
        threat="linf",
        eps=None,
        device=options.device,
        precision=precision,
        channels_last=channels_last,
        compile_model=compile_model,
        repeats=1 if tiny else 2,
        reference=reference,
    )
    report = run_throughput(config)
    return {
        method: {"seconds": m.seconds, "samples_per_s": m.samples_per_s, "robust_accuracy": m.robust_accuracy}
        for method, m in report.measurements.items()
    } | {"batch_size": config.batch_size, "n_iter": config.n_iter, "image_size": config.image_size}


def step_perf_fp32(options):
    return _perf(options, reference=True)


def step_perf_bf16(options):
    return _perf(options, precision="bf16")


def step_perf_fp16(options):
    if not options.device.startswith("cuda"):
        return {"skipped": "fp16 autocast needs a GPU"}
    return _perf(options, precision="fp16")


def step_perf_channels_last(options):
    return _perf(options, channels_last=True)


def step_perf_compile(options):
    if options.tiny:
        return {"skipped": "tiny mode: compiling dominates on CPU"}
    return _perf(options, compile_model=True)


def write_nights(root: Path, n: int, size: int) -> Path:
    """A synthetic NIGHTS in its real layout: data.csv (votes >= 6, split test) and ref/, distort/ PNGs."""
    import numpy as np
    from PIL import Image

    nights = root / "nights"
    rng = np.random.default_rng(0)
    rows = []
    for index in range(n):
        folder = f"{index // 100:03d}"
        paths = [f"ref/{folder}/{index:03d}.png", f"distort/{folder}/{index:03d}_0.png", f"distort/{folder}/{index:03d}_1.png"]
        for relative in paths:
            (nights / relative).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(nights / relative)
        left = int(rng.integers(0, 7))
        rows.append(
            {"id": index, "left_vote": left, "right_vote": 6 - left, "votes": 6, "ref_path": paths[0], "left_path": paths[1],
             "right_path": paths[2], "split": "test", "is_imagenet": bool(index % 2), "prompt": "a photo"}
        )  # fmt: skip
    with (nights / "data.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


def _evaluate(options: argparse.Namespace, attack: str, n: int) -> dict[str, Any]:
    import torch

    import benchmark

    data = write_nights(Path(options.work) / f"data-{attack}", n, 32 if options.tiny else 256)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    result = benchmark.evaluate(
        "clip-convnext",
        dataset="nights",
        threat="linf",
        attack=attack,
        data_root=str(data),
        device=options.device,
        pretrained=False,
        model_kwargs={"reduced": True} if options.tiny else {},
        batch_size="auto" if options.device.startswith("cuda") else 4,
        n_iter=2 if options.tiny else 100,
        square_queries=4 if options.tiny else 5000,
        output_dir=Path(options.work) / f"results-{attack}",
    )
    seconds = time.perf_counter() - start
    per_triplet = seconds / n
    return {
        "triplets": n,
        "seconds": seconds,
        "triplets_per_s": n / seconds,
        "extrapolated_nights_test_s": per_triplet * NIGHTS_TEST_TRIPLETS,
        "batch_size": result.config.get("batch_size"),
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None,
        "clean": result.scores.clean,
        "robust": result.scores.robust,
    }


def step_evaluate_nights(options):
    return _evaluate(options, "apgd-ce", 8 if options.tiny else 600)


def step_evaluate_standard(options):
    return _evaluate(options, "standard", 4 if options.tiny else 64)


def write_imagenet(root: Path, wnids: tuple[str, ...], per_class: int) -> Path:
    """ImageNet's training layout, `train/<wnid>/<wnid>_<n>.JPEG`, with random 48x48 JPEGs."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for wnid in wnids:
        for n in range(per_class):
            path = root / "train" / wnid / f"{wnid}_{n}.JPEG"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)).save(path, format="JPEG")
    return root


def step_finetune(options):
    """One optimiser step of each recipe; images/s from its train log (the micro-batch 'auto' picks on GPU)."""
    work = Path(options.work)
    write_nights(work / "ft-nights", 6, 32)
    # NIGHTS fine-tuning reads the train and val splits.
    rows = list(csv.DictReader((work / "ft-nights" / "nights" / "data.csv").open()))
    for index, row in enumerate(rows):
        row["split"] = "val" if index >= 4 else "train"
    with (work / "ft-nights" / "nights" / "data.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    write_imagenet(work / "ft-imagenet", ("n01440764", "n01443537"), per_class=2)
    common = ["--model", "clip-convnext", "--random-weights", "--steps", "1", "--batch-size", "2", "--device", options.device, "--quiet"]
    common += ["--model-kwarg", "reduced=true"] if options.tiny else ["--precision", "bf16", "--micro-batch-size", "auto"]
    recipes = {
        "nights_lora": ["finetune", "nights", "--method", "lora", "--data-root", str(work / "ft-nights")],
        "nights_mlp": ["finetune", "nights", "--method", "mlp", "--data-root", str(work / "ft-nights")],
        "fare": ["finetune", "fare", "--data-root", str(work / "ft-imagenet")],
        "tecoa": ["finetune", "tecoa", "--data-root", str(work / "ft-imagenet")],
    }
    figures = {}
    for name, args in recipes.items():
        out = work / f"ft-{name}"
        done = _run(_bench(*args, *common, "--output-dir", str(out)), timeout=options.step_timeout)
        if done.returncode != 0:
            figures[name] = {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
            continue
        log = [json.loads(line) for line in (out / "train-log.jsonl").read_text().splitlines()]
        steps = [entry for entry in log if entry.get("event") == "step"]
        figures[name] = {"images_per_s": steps[-1].get("images_per_s") if steps else None}
    return figures


def step_torchrun(options):
    """The same tiny evaluation alone and under torchrun with one process: per-sample outcomes must be equal."""
    work = Path(options.work)
    data = write_nights(work / "data-torchrun", 8, 32)
    args = ["evaluate", "--model", "clip-convnext", "--random-weights", "--dataset", "nights", "--data-root", str(data)]
    args += ["--n-iter", "2", "--batch-size", "4", "--device", options.device, "--quiet"]
    args += ["--model-kwarg", "reduced=true"] if options.tiny else []
    alone = _run(_bench(*args, "--output-dir", str(work / "tr-alone")), timeout=options.step_timeout)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "1", "-m", "benchmark.cli"]
    together = _run([*launcher, *args, "--output-dir", str(work / "tr-torchrun")], timeout=options.step_timeout)
    for done in (alone, together):
        if done.returncode != 0:
            raise RuntimeError((done.stderr.strip().splitlines() or ["?"])[-1])
    samples = [sorted((work / folder).rglob("*.samples.csv")) for folder in ("tr-alone", "tr-torchrun")]
    columns = ("sample_id", "clean_score", "robust_score")
    rows = [[tuple(row[c] for c in columns) for row in csv.DictReader(paths[0].open())] for paths in samples]
    return {"backend": "nccl" if options.device.startswith("cuda") else "gloo", "samples": len(rows[0]), "identical": rows[0] == rows[1]}


# -- the driver ---------------------------------------------------------------------------------------


def _markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# GPU check ({report['mode']}, {report['device']}, {report['created_at']})",
        "",
        "| step | status | seconds | figures |",
        "| --- | --- | --- | --- |",
    ]
    for record in report["steps"]:
        figures = json.dumps(record["figures"], default=str)[:300].replace("|", "/")
        lines.append(f"| {record['name']} | {record['status']} | {record['seconds']:.1f} | {figures or record['error'] or ''} |")
    return "\n".join(lines) + "\n"


def _write(out: Path, report: dict[str, Any]) -> None:
    (out / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "gpu_check.md").write_text(_markdown(report))


def _bf16_agreement(records: list[dict[str, Any]]) -> dict[str, Any]:
    """bf16's robust accuracy against fp32's on the same inputs (within 1 point, or it says so)."""
    figures = {r["name"]: r["figures"] for r in records if r["status"] == "ok"}
    try:
        fp32, bf16 = figures["perf_fp32"]["ours"]["robust_accuracy"], figures["perf_bf16"]["ours"]["robust_accuracy"]
    except (KeyError, TypeError):
        return {"bf16_within_1_point_of_fp32": None}
    return {"bf16_within_1_point_of_fp32": abs(fp32 - bf16) <= 0.01, "fp32_robust": fp32, "bf16_robust": bf16}


def run_all(options: argparse.Namespace) -> dict[str, Any]:
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "work").mkdir(exist_ok=True)
    report: dict[str, Any] = {
        "mode": "tiny" if options.tiny else "gpu",
        "device": options.device,
        "created_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "steps": [],
    }
    for step in STEPS:
        budget = options.budget.get(step.name, step.tiny_budget_s if options.tiny else step.budget_s)
        command = [sys.executable, __file__, "--step", step.name, "--out", str(out), "--device", options.device]
        command += ["--tiny"] if options.tiny else []
        start = time.perf_counter()
        record = {"name": step.name, "description": step.description, "budget_s": budget, "error": None, "figures": {}}
        try:
            done = _run(command, timeout=budget)
            if done.returncode == 0:
                record["status"], record["figures"] = "ok", json.loads((out / "work" / f"{step.name}.json").read_text())
            else:
                record["status"], record["error"] = (
                    "failed",
                    (done.stderr.strip().splitlines() or ["exit code " + str(done.returncode)])[-1],
                )
        except subprocess.TimeoutExpired:
            record["status"], record["error"] = "overrun", f"exceeded its budget of {budget:.0f} s"
        record["seconds"] = time.perf_counter() - start
        report["steps"].append({key: record[key] for key in STEP_KEYS})
        _write(out, report)  # after every step: a killed run keeps what it finished
        print(f"{step.name}: {record['status']} ({record['seconds']:.1f} s){' ' + record['error'] if record['error'] else ''}", flush=True)
    report["agreement"] = _bf16_agreement(report["steps"])
    _write(out, report)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", required=True, help="Folder for gpu_check.json and gpu_check.md (e.g. benchmarks/results/<date>-<device>)."
    )
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu.")
    parser.add_argument(
        "--tiny", action="store_true", help="Reduced towers and tiny counts: the same steps and keys, on CPU in about a minute."
    )
    parser.add_argument("--perf-batch", type=int, default=32, help="Batch of the perf steps on the GPU.")
    parser.add_argument("--budget", action="append", default=[], metavar="STEP=SECONDS", help="Override one step's time budget.")
    parser.add_argument("--step", default=None, help=argparse.SUPPRESS)  # internal: run one step in this process
    options = parser.parse_args(argv)
    budgets = {}
    for item in options.budget:
        name, _, seconds = item.partition("=")
        if name not in {s.name for s in STEPS} or not seconds.replace(".", "", 1).isdigit():
            parser.error(f"--budget takes STEP=SECONDS with STEP one of {', '.join(s.name for s in STEPS)}, got '{item}'")
        budgets[name] = float(seconds)
    options.budget = budgets
    options.work = str(Path(options.out) / "work")
    options.step_timeout = 300
    if options.step:
        figures = globals()[f"step_{options.step}"](options)
        (Path(options.work) / f"{options.step}.json").write_text(json.dumps(figures, default=str))
        return 0
    run_all(options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
