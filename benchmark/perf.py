"""Attack throughput, measured against its floor and against the reference implementation.

In one run, on the same model, inputs and batch: (a) the floor, n_iter forward+backward passes of
the encoder alone; (b) our APGD-CE on the 2AFC task (all n_iter iterations for every sample, and
again with early stop as evaluations run it); (c) the reference APGD-CE of AutoAttack
(`pyautoattack`) on the same 2AFC classifier. Every method attacks every sample (labels are the
clean predictions), so all do the same work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import default_collate

from attacks import AttackConfig, TwoAFCObjective, apgd, twoafc_predictions
from attacks.defaults import BatchSize
from attacks.reference import run_reference_attack
from attacks.threat import DEFAULT_EPS, ThreatModel
from model_zoo import create_model
from model_zoo.base import PerceptualModel

from .datasets import load_dataset
from .runtime.acceleration import Acceleration, check_device, resolve_batch_size

# (goal, device type it is measured on, the time ratio that decides it and its bound: None where this report cannot decide it)
GOALS: tuple[tuple[str, str, str | None, float | None], ...] = (
    ("CPU, fp32: ours / reference <= 1.0 (time)", "cpu", "ours/reference", 1.0),
    ("CPU, fp32: ours / floor <= 1.15 (time)", "cpu", "ours/floor", 1.15),
    ("GPU (H100), ConvNeXt-B 224: ours bf16 >= 2x reference fp32 throughput", "cuda", None, None),
    ("GPU (H100): NIGHTS test set under APGD-100 in < 10 minutes", "cuda", None, None),
    ("GPU: bf16 robust accuracy within 1 point of fp32", "cuda", None, None),
)


@dataclass
class ThroughputConfig:
    """What `bench perf` measures: model, batch, attack budget and speed-ups; random weights by default."""

    model: str = "clip-convnext"
    pretrained: bool = False
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    batch_size: BatchSize = 4  # or "auto", resolved once the model is built
    n_iter: int = 10
    image_size: int = 224  # demo triplets are resized to this before the attack
    threat: str = "linf"
    eps: str | None = None
    device: str = "cpu"
    precision: str = "fp32"
    channels_last: bool = False
    compile_model: bool = False
    seed: int = 0
    reference: bool = True
    repeats: int = 3


@dataclass
class Measurement:
    """The fastest of a method's repeats, with the robust accuracy its attack left (None for the floor)."""

    method: str
    seconds: float
    samples: int
    robust_accuracy: float | None = None

    @property
    def samples_per_s(self) -> float:
        """Throughput: attacked samples per second."""
        return self.samples / self.seconds


@dataclass
class ThroughputReport:
    """Every method's measurement in one run, on the device named."""

    config: ThroughputConfig
    device: str
    measurements: dict[str, Measurement]

    def ratio(self, numerator: str, denominator: str) -> float | None:
        """Time ratio (lower is better for the numerator)."""
        if numerator not in self.measurements or denominator not in self.measurements:
            return None
        return self.measurements[numerator].seconds / self.measurements[denominator].seconds


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(device: torch.device, work: Callable[[], Any]) -> tuple[float, Any]:
    _synchronize(device)
    start = time.perf_counter()
    output = work()
    _synchronize(device)
    return time.perf_counter() - start, output


def benchmark_inputs(config: ThroughputConfig, device: torch.device) -> dict[str, Tensor]:
    """The first `batch_size` demo triplets, resized to `image_size` (bicubic, clamped to [0, 1])."""
    dataset = load_dataset("demo")
    batch = default_collate([dataset[i] for i in range(int(config.batch_size))])  # resolved by run_throughput
    resized = {}
    for key in ("reference", "candidate_0", "candidate_1"):
        images = batch[key].to(device)
        if images.shape[-1] != config.image_size:
            images = F.interpolate(images, size=(config.image_size,) * 2, mode="bicubic", align_corners=False).clamp(0, 1)
        resized[key] = images.contiguous()
    return resized


def floor_passes(model: PerceptualModel, x: Tensor, n_iter: int) -> None:
    """n_iter forward+backward passes of the encoder to the input: the least any gradient attack costs."""
    for _ in range(n_iter):
        points = x.detach().requires_grad_(True)
        embedding = model.embed(points) if model.has_embedding else model.pairwise_sim(points, x)
        torch.autograd.grad(embedding.float().sum(), points)


def run_throughput(config: ThroughputConfig) -> ThroughputReport:
    """Measure floor, ours and the reference on the same model, inputs and batch."""
    check_device(config.device)
    device = torch.device(config.device)
    acceleration = Acceleration(config.precision, config.channels_last, config.compile_model)
    acceleration.validate(config.device)
    threat = ThreatModel.from_text(config.threat, config.eps)
    torch.manual_seed(config.seed)
    model = acceleration.prepare(create_model(config.model, pretrained=config.pretrained, device=device, **config.model_kwargs))
    model.eval()
    config = replace(config, batch_size=resolve_batch_size(config.batch_size, model, config.image_size, device, acceleration))
    inputs = benchmark_inputs(config, device)
    reference_images = inputs["reference"]
    n = reference_images.shape[0]

    with torch.no_grad(), acceleration.autocast(device):
        clean_objective = TwoAFCObjective(
            model, inputs["candidate_0"], inputs["candidate_1"], torch.zeros(n, dtype=torch.long, device=device)
        )
        labels = twoafc_predictions(clean_objective.logits(reference_images).float())

    def floor() -> None:
        floor_passes(model, reference_images, config.n_iter)

    def ours(early_stop: bool) -> Callable[[], float]:
        def attack() -> float:
            objective = TwoAFCObjective(model, inputs["candidate_0"], inputs["candidate_1"], labels)
            result = apgd(
                objective, reference_images, norm=threat.norm, eps=threat.eps, n_iter=config.n_iter, seed=config.seed, early_stop=early_stop
            )
            return 1.0 - result.success.float().mean().item()

        return attack

    def reference() -> float:
        objective = TwoAFCObjective(model, inputs["candidate_0"], inputs["candidate_1"], labels)
        attack = AttackConfig("apgd-ce-reference", threat.norm, threat.eps, threat.eps_text, n_iter=config.n_iter, seed=config.seed)
        return 1.0 - run_reference_attack(attack, objective, reference_images).success.float().mean().item()

    methods: dict[str, tuple[str, Callable[[], Any]]] = {
        "floor": ("floor (encoder fwd+bwd)", floor),
        "ours": ("ours (APGD-CE, all iterations)", ours(early_stop=False)),
        "ours-early-stop": ("ours, early stop", ours(early_stop=True)),
    }
    if config.reference:
        methods["reference"] = ("reference (AutoAttack APGD-CE)", reference)
    measurements: dict[str, Measurement] = {}
    with acceleration.autocast(device):
        floor_passes(model, reference_images, 1)  # warm-up: allocations, kernel selection, compilation
        # Round-robin repeats, keeping each method's fastest: a shared machine's load hits all alike.
        for _ in range(config.repeats):
            for key, (label, work) in methods.items():
                seconds, robust = _timed(device, work)
                if key not in measurements or seconds < measurements[key].seconds:
                    measurements[key] = Measurement(label, seconds, n, robust)
    return ThroughputReport(config, _device_name(device), measurements)


def _device_name(device: torch.device) -> str:
    from .runtime.environment import device_description

    return device_description(device)


def format_report(report: ThroughputReport) -> str:
    """The table, the ratios and the issue's goals with whether this run met them."""
    from tabulate import tabulate

    config = report.config
    floor = report.measurements["floor"].seconds
    rows = [
        [
            m.method,
            f"{m.seconds:.2f}",
            f"{m.samples_per_s:.3f}",
            f"{m.seconds / floor:.3f}",
            "-" if m.robust_accuracy is None else f"{100 * m.robust_accuracy:.1f}",
        ]
        for m in report.measurements.values()
    ]
    lines = [
        f"attack throughput: {config.model} ({'pretrained' if config.pretrained else 'random weights'}"
        f"{', ' + str(config.model_kwargs) if config.model_kwargs else ''}), {config.image_size}x{config.image_size}, "
        f"batch {config.batch_size}, {config.n_iter} iterations, {config.threat} eps {config.eps or DEFAULT_EPS[config.threat]}, "
        f"precision {config.precision}{', channels_last' if config.channels_last else ''}{', compiled' if config.compile_model else ''}",
        f"device: {report.device}",
        "",
        tabulate(rows, headers=["method", "seconds", "samples/s", "time / floor", "robust acc %"], tablefmt="simple"),
        "",
    ]
    ratios = {"ours/floor": report.ratio("ours", "floor"), "ours/reference": report.ratio("ours", "reference")}
    lines.append("  ".join(f"{name} = {value:.3f}" for name, value in ratios.items() if value is not None) + "  (time ratios)")
    lines.append(
        f"(every APGD does n_iter + 1 = {config.n_iter + 1} gradient evaluations and encodes the two candidates once, "
        f"so even a free attack costs about {(config.n_iter + 1) / config.n_iter + 2 / (3 * config.n_iter):.2f}x the floor of "
        f"{config.n_iter} passes)"
    )
    lines.append("goals:")
    on_gpu = torch.device(config.device).type == "cuda"
    for text, kind, ratio_name, bound in GOALS:
        value = ratios.get(ratio_name) if ratio_name is not None else None
        if kind == "cpu" and not on_gpu and config.precision == "fp32" and value is not None and bound is not None:
            status = "met" if value <= bound else "NOT met"
        elif kind == "cuda" and not on_gpu:
            status = "unmeasured (no GPU in this run)"
        else:
            status = "not checked by this configuration"
        lines.append(f"  - {text}: {status}")
    return "\n".join(lines)
