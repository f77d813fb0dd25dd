"""Every GPU figure in one call of at most 8 minutes: attack throughput, evaluation speed, memory, fine-tuning, torchrun.

    python benchmarks/gpu_check.py --out benchmarks/results/2026-12-02-h200          # on a CUDA machine
    python benchmarks/gpu_check.py --tiny --device cpu --out /tmp/gpu-check          # the same steps, tiny, on CPU

Each step runs under its own time budget (`STEPS`): an alarm (SIGALRM) inside the process that runs it
stops it at its budget, and it is recorded as overrun (or failed, with its last error line) while the
next one runs. On the GPU every step has a process of its own (a fresh CUDA context, so its peak memory
is its own, and a crash or a hang costs that step only: the driver kills it 15 s after its budget); in
tiny mode every step runs in this one process, which imports torch once (a 2-core CI machine pays that
import once, not once a step). `gpu_check.json` is rewritten after every step, so a killed run keeps what
it finished; `gpu_check.md` is its table. Both modes write the same keys: `REPORT_KEYS`, `STEP_KEYS` and
each step's `FIGURE_KEYS`, which `figures_of` enforces. All models have random weights: the figures are
speeds, memory and agreement between code paths, never scores of a metric.

NIGHTS-sized evaluation: on the GPU it runs all 1,800 triplets. Expected on one H200 with random weights:
the clean pass is 5,400 ConvNeXt-B forwards (30.7 GFLOP each: 166 TFLOP, seconds), and the attack drops each
sample once it is broken, which random weights are within a few iterations, so reading and resizing the 5,400
256-px PNGs in the main process (about 2 ms each, some 11 s) dominates: well inside its 105 s. The worst case,
every triplet attacked for all 100 iterations (a pretrained robust model), is 1,800 x 300 forward-equivalents
x 30.7 GFLOP = 16.6 PFLOP, about 5.5 minutes at an assumed 50 TFLOP/s in fp32, which would not fit; then the
step stops at its budget and extrapolates from the batches finished, and its figures say so (`extrapolated`).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NIGHTS_TEST_TRIPLETS = 1800  # the size of NIGHTS test (issue #26): the GPU run evaluates this many
HARD_KILL_GRACE_S = 15  # GPU mode: a step's process is killed this long after its budget, if its alarm did not stop it


@dataclass(frozen=True)
class Step:
    """One measurement: its name, its budget on the GPU and on CPU in tiny mode, and what it reports."""

    name: str
    budget_s: float
    tiny_budget_s: float
    description: str


# The steps and their budgets (seconds): 455 s in all on the GPU, inside the 8 minutes (each includes its process's
# start). Tiny mode: 120 s a step (240 for the four fine-tuning runs), generous for a loaded shared 2-core machine.
STEPS = (
    Step("environment", 15, 120, "device, driver, torch and CUDA versions"),
    Step("perf_fp32", 50, 120, "bench perf, ConvNeXt-B 224: floor, ours and AutoAttack's APGD in fp32"),
    Step("perf_bf16", 30, 120, "ours in bf16 (robust accuracy against fp32's on the same inputs)"),
    Step("perf_fp16", 30, 120, "ours in fp16"),
    Step("perf_channels_last", 30, 120, "ours with channels_last"),
    Step("perf_compile", 45, 120, "ours with torch.compile (skipped in tiny mode: compiling dominates on CPU)"),
    Step("evaluate_nights", 105, 120, "bench evaluate --attack apgd-ce, 100 iterations, NIGHTS on-disk format, batch auto, end to end"),
    Step("evaluate_standard", 40, 120, "the same with --attack standard on a subset"),
    Step("finetune", 80, 240, "one step of each recipe (nights lora, nights mlp, fare, tecoa), bf16, micro-batch auto"),
    Step("torchrun", 30, 120, "torchrun, 1 process (NCCL on GPU, gloo on CPU): the single-process result"),
)
# The one description of the JSON file: its keys, each step record's, and each step's figures (both modes).
REPORT_KEYS = ("mode", "device", "created_at", "startup_s", "steps", "agreement")
STEP_KEYS = ("name", "description", "status", "seconds", "budget_s", "error", "figures")
PERF_FIGURES = ("floor", "ours", "ours-early-stop", "reference", "batch_size", "n_iter", "image_size", "skipped")
MEASUREMENT_KEYS = ("seconds", "samples_per_s", "robust_accuracy")
EVALUATION_FIGURES = (
    "triplets",
    "triplets_evaluated",
    "extrapolated",
    "seconds",
    "triplets_per_s",
    "nights_test_s",
    "batch_size",
    "peak_memory_gib",
    "clean",
    "robust",
)
RECIPES = ("nights_lora", "nights_mlp", "fare", "tecoa")
RECIPE_KEYS = ("images_per_s", "micro_batch_size", "error")
FIGURE_KEYS: dict[str, tuple[str, ...]] = {
    "environment": ("python", "torch", "cuda", "device", "driver"),
    "perf_fp32": PERF_FIGURES,
    "perf_bf16": PERF_FIGURES,
    "perf_fp16": PERF_FIGURES,
    "perf_channels_last": PERF_FIGURES,
    "perf_compile": PERF_FIGURES,
    "evaluate_nights": EVALUATION_FIGURES,
    "evaluate_standard": EVALUATION_FIGURES,
    "finetune": RECIPES,
    "torchrun": ("launcher", "backend", "samples", "identical"),
}
AGREEMENT_KEYS = ("bf16_within_1_point_of_fp32", "fp32_robust", "bf16_robust")


class StepOverrun(BaseException):
    """A step's budget ran out (raised by its alarm; a BaseException, so no `except Exception` on the way swallows it)."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise `StepOverrun` in this (main) thread once `seconds` have passed: the in-process budget of a step."""

    def stop(signum: int, frame: Any) -> None:
        raise StepOverrun(f"exceeded its budget of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 1e-6))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def figures_of(step: str, **values: Any) -> dict[str, Any]:
    """A step's figures with exactly its `FIGURE_KEYS` (absent ones None); an undeclared key is a bug in the step."""
    unknown = sorted(set(values) - set(FIGURE_KEYS[step]))
    if unknown:
        raise KeyError(f"step {step} reports undeclared figure(s) {', '.join(unknown)}; add them to FIGURE_KEYS")
    return {key: values.get(key) for key in FIGURE_KEYS[step]}


def _run(command: list[str], timeout: float, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env or _env(), capture_output=True, text=True, timeout=timeout)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), "PYTHONUNBUFFERED": "1"}


def _bench_in_process(*args: str) -> None:
    """`bench ARGS` in this process (the same click command, no new interpreter); a failure raises."""
    from benchmark.cli.bench import main

    main.main(args=list(args), prog_name="bench", standalone_mode=False)


# -- the steps: each returns its figures (`figures_of`) --------------------------------------------------


def step_environment(options: argparse.Namespace) -> dict[str, Any]:
    import torch

    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else platform.processor() or "cpu"
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version,memory.total", "--format=csv,noheader"], capture_output=True, text=True
        )
        driver = smi.stdout.strip() or None
    except OSError:
        driver = None
    return figures_of(
        "environment", python=platform.python_version(), torch=torch.__version__, cuda=torch.version.cuda, device=device, driver=driver
    )


def _perf(options: argparse.Namespace, step: str, precision: str = "fp32", channels_last=False, compile_model=False, reference=False):
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
    measured = {
        method: {"seconds": m.seconds, "samples_per_s": m.samples_per_s, "robust_accuracy": m.robust_accuracy}
        for method, m in report.measurements.items()
    }
    return figures_of(step, **measured, batch_size=config.batch_size, n_iter=config.n_iter, image_size=config.image_size)


def step_perf_fp32(options):
    return _perf(options, "perf_fp32", reference=True)


def step_perf_bf16(options):
    return _perf(options, "perf_bf16", precision="bf16")


def step_perf_fp16(options):
    if not options.device.startswith("cuda"):
        return figures_of("perf_fp16", skipped="fp16 autocast needs a GPU")
    return _perf(options, "perf_fp16", precision="fp16")


def step_perf_channels_last(options):
    return _perf(options, "perf_channels_last", channels_last=True)


def step_perf_compile(options):
    if options.tiny:
        return figures_of("perf_compile", skipped="tiny mode: compiling dominates on CPU")
    return _perf(options, "perf_compile", compile_model=True)


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


def _finished_triplets(output_dir: Path) -> int:
    """Samples in the run's batch checkpoints (the batches it finished before its budget ran out)."""
    count = 0
    for path in output_dir.rglob("*.partial.jsonl"):
        for line in path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                count += len(json.loads(line).get("records", []))
    return count


def _evaluate(options: argparse.Namespace, step: str, attack: str, n: int) -> dict[str, Any]:
    """`bench evaluate` end to end on `n` triplets; stopped by its budget, it extrapolates from the finished batches."""
    import torch

    import benchmark

    data = write_nights(Path(options.work) / f"data-{attack}", n, 32 if options.tiny else 256)
    output_dir = Path(options.work) / f"results-{attack}"
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    try:
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
            **({"n_iter": 2, "square_queries": 4} if options.tiny else {}),  # else EvaluationConfig's: the paper's budget
            output_dir=output_dir,
        )
        done, batch_size, clean, robust = n, result.config.get("batch_size"), result.scores.clean, result.scores.robust
    except StepOverrun:
        done, batch_size, clean, robust = _finished_triplets(output_dir), None, None, None
        if not done:
            raise
    seconds = time.perf_counter() - start
    return figures_of(
        step,
        triplets=n,
        triplets_evaluated=done,
        extrapolated=not (done == n == NIGHTS_TEST_TRIPLETS),
        seconds=seconds,
        triplets_per_s=done / seconds,
        nights_test_s=seconds / done * NIGHTS_TEST_TRIPLETS,
        batch_size=batch_size,
        peak_memory_gib=torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None,
        clean=clean,
        robust=robust,
    )


def step_evaluate_nights(options):
    return _evaluate(options, "evaluate_nights", "apgd-ce", 4 if options.tiny else NIGHTS_TEST_TRIPLETS)


def step_evaluate_standard(options):
    return _evaluate(options, "evaluate_standard", "standard", 4 if options.tiny else 64)


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
    """One optimiser step of each recipe, in this process; images/s and the micro-batch from its train log."""
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
    inner = ["--pgd-steps", "2"] if options.tiny else []  # tiny: 2 inner PGD steps instead of the recipe's 10
    recipes = {
        "nights_lora": ["finetune", "nights", "--method", "lora", "--data-root", str(work / "ft-nights")],
        "nights_mlp": ["finetune", "nights", "--method", "mlp", "--data-root", str(work / "ft-nights")],
        "fare": ["finetune", "fare", "--data-root", str(work / "ft-imagenet"), *inner],
        "tecoa": ["finetune", "tecoa", "--data-root", str(work / "ft-imagenet"), *inner],
    }
    figures = {}
    for name, args in recipes.items():
        out = work / f"ft-{name}"
        try:
            _bench_in_process(*args, *common, "--output-dir", str(out))
        except Exception as error:  # one recipe's failure is its figure; the others still run
            figures[name] = dict.fromkeys(RECIPE_KEYS) | {"error": f"{type(error).__name__}: {error}".splitlines()[0]}
            continue
        log = [json.loads(line) for line in (out / "train-log.jsonl").read_text().splitlines()]
        steps = [entry for entry in log if entry.get("event") == "step"]
        starts = [entry for entry in log if entry.get("event") == "start"]
        figures[name] = {
            "images_per_s": steps[-1].get("images_per_s") if steps else None,
            "micro_batch_size": starts[0].get("micro_batch_size") if starts else None,
            "error": None,
        }
    return figures_of("finetune", **figures)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _torchrun_in_process(args: list[str]) -> None:
    """Tiny mode: `bench evaluate --distributed` here, in the environment torchrun gives its one process (gloo)."""
    import torch.distributed as dist

    variables = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        _bench_in_process(*args, "--distributed")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def step_torchrun(options):
    """The same tiny evaluation alone and in a process group of one (NCCL under torchrun on GPU): outcomes must be equal."""
    work = Path(options.work)
    data = write_nights(work / "data-torchrun", 4, 32)
    args = ["evaluate", "--model", "clip-convnext", "--random-weights", "--dataset", "nights", "--data-root", str(data)]
    args += ["--n-iter", "2", "--batch-size", "2", "--device", options.device, "--quiet"]
    args += ["--model-kwarg", "reduced=true"] if options.tiny else []
    _bench_in_process(*args, "--output-dir", str(work / "tr-alone"))
    together = [*args, "--output-dir", str(work / "tr-torchrun")]
    if options.tiny:
        launcher = "in-process group of one (tiny mode: the variables torchrun sets, gloo)"
        _torchrun_in_process(together)
    else:
        launcher = "torchrun --nproc_per_node 1"
        command = [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "1",
            "-m",
            "benchmark.cli",
            *together,
            "--distributed",
        ]
        done = _run(command, timeout=options.step_timeout)
        if done.returncode != 0:
            raise RuntimeError((done.stderr.strip().splitlines() or ["?"])[-1])
    samples = [sorted((work / folder).rglob("*.samples.csv")) for folder in ("tr-alone", "tr-torchrun")]
    columns = ("sample_id", "clean_score", "robust_score")
    rows = [[tuple(row[c] for c in columns) for row in csv.DictReader(paths[0].open())] for paths in samples]
    backend = "nccl" if options.device.startswith("cuda") else "gloo"
    return figures_of("torchrun", launcher=launcher, backend=backend, samples=len(rows[0]), identical=rows[0] == rows[1])


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
        return dict.fromkeys(AGREEMENT_KEYS)
    return {"bf16_within_1_point_of_fp32": abs(fp32 - bf16) <= 0.01, "fp32_robust": fp32, "bf16_robust": bf16}


def run_step(step: Step, options: argparse.Namespace, budget: float) -> dict[str, Any]:
    """Run one step in this process under its alarm; its record (`STEP_KEYS`), whatever happened."""
    record: dict[str, Any] = {"name": step.name, "description": step.description, "status": "ok", "budget_s": budget}
    record.update(error=None, figures={})
    start = time.perf_counter()
    try:
        with time_limit(budget):
            record["figures"] = globals()[f"step_{step.name}"](options)
    except StepOverrun as overrun:
        record["status"], record["error"] = "overrun", str(overrun)
    except Exception as error:  # a failing step is recorded; the next one still runs
        record["status"], record["error"] = "failed", (f"{type(error).__name__}: {error}".splitlines() or ["?"])[0]
    record["seconds"] = time.perf_counter() - start
    return {key: record[key] for key in STEP_KEYS}


def _step_in_own_process(step: Step, options: argparse.Namespace, budget: float) -> dict[str, Any]:
    """GPU mode: `run_step` in a fresh process (its own CUDA context and peak memory); killed if its alarm does not stop it."""
    out = Path(options.out)
    command = [sys.executable, __file__, "--step", step.name, "--out", str(out), "--device", options.device]
    command += ["--budget", f"{step.name}={budget}", "--perf-batch", str(options.perf_batch)]
    start = time.perf_counter()
    record = {"name": step.name, "description": step.description, "budget_s": budget, "error": None, "figures": {}}
    try:
        done = _run(command, timeout=budget + HARD_KILL_GRACE_S)
        if done.returncode == 0:
            record = json.loads((out / "work" / f"{step.name}.json").read_text())
        else:
            record["status"] = "failed"
            record["error"] = (done.stderr.strip().splitlines() or ["exit code " + str(done.returncode)])[-1]
    except subprocess.TimeoutExpired:
        record["status"], record["error"] = "overrun", f"exceeded its budget of {budget:g} s (killed)"
    record["seconds"] = time.perf_counter() - start  # including the process's start
    return {key: record[key] for key in STEP_KEYS}


def _warm_up() -> float:
    """Tiny mode: import what the steps use once, before any budget starts (an alarm must never cut an import in half)."""
    start = time.perf_counter()
    import torch  # noqa: F401

    import benchmark.cli  # noqa: F401
    import benchmark.perf  # noqa: F401
    import benchmark.cli.finetune  # noqa: F401

    return time.perf_counter() - start


def run_all(options: argparse.Namespace) -> dict[str, Any]:
    out = Path(options.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "work").mkdir(exist_ok=True)
    report: dict[str, Any] = {
        "mode": "tiny" if options.tiny else "gpu",
        "device": options.device,
        "created_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "startup_s": _warm_up() if options.tiny else None,  # GPU mode: each step's seconds include its own start
        "steps": [],
        "agreement": dict.fromkeys(AGREEMENT_KEYS),
    }
    for step in STEPS:
        budget = options.budget.get(step.name, step.tiny_budget_s if options.tiny else step.budget_s)
        record = run_step(step, options, budget) if options.tiny else _step_in_own_process(step, options, budget)
        report["steps"].append(record)
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
    parser.add_argument("--tiny", action="store_true", help="Reduced towers and tiny counts: the same steps and keys, in one process.")
    parser.add_argument("--perf-batch", type=int, default=32, help="Batch of the perf steps on the GPU.")
    parser.add_argument("--budget", action="append", default=[], metavar="STEP=SECONDS", help="Override one step's time budget.")
    parser.add_argument("--step", default=None, help=argparse.SUPPRESS)  # internal (GPU mode): run one step in this process
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
        step = next(s for s in STEPS if s.name == options.step)
        record = run_step(step, options, options.budget.get(step.name, step.budget_s))
        (Path(options.work) / f"{step.name}.json").write_text(json.dumps(record, default=str))
        return 0
    run_all(options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
