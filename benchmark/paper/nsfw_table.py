"""Paper Table IV: LAION's NSFW detector against nearest-neighbour detection, clean and under attack.

Safe (S) and unsafe (U) queries of a `detect` dataset (default `detect/nsfw`: S = neutral, U = porn),
two classes, no buffer. Every query is attacked with the grey-box attack of Eq. 5: APGD (200
iterations, Linf 8/255) pulls its embedding towards the attack-target images of the other class;
the attacker never sees LAION's classifier head or the retrieval pool. Then:
- LAION-det calls a query unsafe when its head says P(NSFW) > 0.5 (attack on its ViT-L/14 embedding);
- a retrieval model calls it unsafe when its nearest pool neighbour is unsafe (`DetectionTask`);
- the combination calls it unsafe when either does, each attacked on its own: the paper's rule
  ('or' of the two decisions), a lower bound on the robustness of the combined detector.
Scores are accuracies per query class: safe queries kept safe, unsafe queries caught. LAION-det also
gets the white-box attack of App. B-E (APGD-CE on its head's decision, same budget), which the
paper reports at 0% for both classes.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

from attacks.config import AttackConfig
from attacks.defaults import BATCH_SIZE, BatchSize
from attacks.losses import ClassifierObjective, TargetedEmbeddingObjective
from attacks.threat import ThreatModel
from model_zoo import create_model

from ..datasets import load_dataset
from ..datasets.detection import DetectionDataset, DetectionSetup
from ..runtime.acceleration import resolve_batch_size
from ..runtime.atomic import atomic_write_text
from ..runtime.environment import environment
from ..tasks.base import BatchAttack
from ..tasks.detection import DetectionTask

LAION_DETECTOR = "laion-nsfw-detector"
COMBINED_SEPARATOR = "-or-"  # "laion-nsfw-detector-or-r-clip-f-convnext": the paper's combination row


@dataclass
class NSFWTableConfig:
    """Table IV's rows, query classes and attack (paper defaults), and how to run them."""

    detector: str = LAION_DETECTOR
    retrieval_models: list[str] = field(default_factory=lambda: ["clip-convnext", "r-clip-f-convnext"])
    combine_with: str | None = "r-clip-f-convnext"  # the retrieval model OR-ed with the detector; None = no row
    split: str = "nsfw"
    safe_class: str = "neutral"
    unsafe_class: str = "porn"
    threat: str = "linf"
    eps: str = "8/255"
    n_iter: int = 200
    n_ex: int | None = None  # first N queries of each class (paper: 1000)
    batch_size: BatchSize = BATCH_SIZE  # or "auto": resolved per model
    device: str = "cpu"
    seed: int = 0
    pretrained: bool = True
    data_root: str | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[str]:
        """The table's row names: the detector, the retrieval models, then the OR combination if any."""
        rows = [self.detector, *self.retrieval_models]
        if self.combine_with:
            rows.append(self.detector + COMBINED_SEPARATOR + self.combine_with)
        return rows


def two_class_view(dataset: DetectionDataset, safe: str, unsafe: str) -> DetectionDataset:
    """The same folder with only the safe and unsafe classes (no buffer), each attacked towards the other."""
    missing = [c for c in (safe, unsafe) if c not in dataset.pool]
    if missing:
        raise ValueError(
            f"{dataset.root} has no pool class {', '.join(missing)}; classes are {', '.join(dataset.pool)} "
            "(set --safe-class/--unsafe-class)"
        )
    view = copy.copy(dataset)
    view.pool = {c: dataset.pool[c] for c in (safe, unsafe)}
    view.setup = DetectionSetup(classes=[safe, unsafe], buffer=None, targets={safe: unsafe, unsafe: safe})
    view.queries = [(path, label) for path, label in dataset.queries if label in (safe, unsafe)]
    return view


def query_positions(dataset: DetectionDataset, n_per_class: int | None) -> list[int]:
    """Positions of the first `n_per_class` queries of each class (all when None), in dataset order."""
    taken: dict[str, int] = {}
    positions = []
    for position, (_, label) in enumerate(dataset.queries):
        if n_per_class is None or taken.get(label, 0) < n_per_class:
            taken[label] = taken.get(label, 0) + 1
            positions.append(position)
    return positions


def _batches(dataset, positions, batch_size):
    return DataLoader(Subset(dataset, positions), batch_size=batch_size)


def detector_logits(detector, x: torch.Tensor) -> torch.Tensor:
    """Two-class logits [safe, unsafe] = [0, head logit] of the whole detector (for the white-box attack)."""
    logit = detector.head.logit(torch.nn.functional.normalize(detector.embed(x).float(), dim=-1))
    return torch.stack([torch.zeros_like(logit), logit], dim=1)


def evaluate_detector(detector, dataset: DetectionDataset, positions, attack: AttackConfig, device, batch_size, bar) -> dict[str, dict]:
    """LAION-det per query: unsafe when P(NSFW) > 0.5, clean, after Eq. 5 on its embedding (grey box), and
    after APGD-CE on the whole detector (white box, paper App. B-E)."""
    targets = {c: torch.stack([dataset.load(p) for p in dataset.target_images(c)]).to(device) for c in dataset.classes}
    unsafe_name = dataset.setup.classes[1]
    records = {}
    for batch in _batches(dataset, positions, batch_size):
        images, labels = batch["image"].to(device), batch["label"].to(device)
        sample_ids = [int(p) for p in batch["position"]]
        with torch.no_grad():
            clean = detector.is_unsafe(images)
        robust = clean.clone()
        whitebox = clean.clone()
        attacked = (clean.long() == labels).nonzero().flatten()  # white box: what is already wrong stays wrong
        if attacked.numel():
            whitebox_objective = ClassifierObjective(lambda x: detector_logits(detector, x), labels[attacked], loss="ce")
            x_adv = BatchAttack(attack, len(labels), device, n_classes=2).run(whitebox_objective, images, attacked, sample_ids)
            with torch.no_grad():
                whitebox[attacked] = detector.is_unsafe(x_adv)
        grey_box = BatchAttack(attack, len(labels), device, success_based=False)
        for label, name in enumerate(dataset.classes):
            index = (labels == label).nonzero().flatten()
            if index.numel() == 0:
                continue
            x_adv = grey_box.run(TargetedEmbeddingObjective(detector, targets[dataset.setup.targets[name]]), images, index, sample_ids)
            with torch.no_grad():
                robust[index] = detector.is_unsafe(x_adv)
        for i, position in enumerate(sample_ids):
            info = dataset.sample_info(position)
            records[info["sample_id"]] = {
                "query_class": dataset.classes[int(labels[i])],
                "clean_unsafe": bool(clean[i]),
                "robust_unsafe": bool(robust[i]),
                "whitebox_unsafe": bool(whitebox[i]),
                "unsafe_class": unsafe_name,
            }
        bar.update(len(sample_ids))
    return records


def evaluate_retrieval(model, dataset: DetectionDataset, positions, attack: AttackConfig, device, batch_size, bar) -> dict[str, dict]:
    """Nearest-neighbour detection in the two-class pool, clean and after Eq. 5 (`DetectionTask`)."""
    task = DetectionTask()
    task.prepare(model, dataset, attack, device, batch_size)
    unsafe_name = dataset.setup.classes[1]
    records = {}
    for batch in _batches(dataset, positions, batch_size):
        sample_ids = [int(p) for p in batch["position"]]
        for position, outcome in zip(sample_ids, task.evaluate_batch(model, batch, attack, device, sample_ids)):
            records[dataset.sample_info(position)["sample_id"]] = {
                "query_class": outcome.extra["query_class"],
                "clean_unsafe": outcome.clean_prediction == unsafe_name,
                "robust_unsafe": outcome.robust_prediction == unsafe_name,
                "unsafe_class": unsafe_name,
            }
        bar.update(len(sample_ids))
    return records


def combine_or(first: dict[str, dict], second: dict[str, dict]) -> dict[str, dict]:
    """Unsafe when either detector says so (each attacked on its own), per query."""
    if set(first) != set(second):
        raise ValueError("the two detectors were evaluated on different queries; run them on the same split and --n-ex")
    return {
        key: {
            **{k: v for k, v in record.items() if k != "whitebox_unsafe"},  # the white box hit one detector only
            "clean_unsafe": record["clean_unsafe"] or second[key]["clean_unsafe"],
            "robust_unsafe": record["robust_unsafe"] or second[key]["robust_unsafe"],
        }
        for key, record in first.items()
    }


def detection_scores(records: dict[str, dict], safe: str, unsafe: str) -> dict[str, float | int]:
    """Accuracy per query class, clean and robust: safe queries called safe, unsafe ones called unsafe."""
    scores: dict[str, float | int] = {}
    for name, wants_unsafe in ((safe, False), (unsafe, True)):
        rows = [r for r in records.values() if r["query_class"] == name]
        scores[f"n_{name}"] = len(rows)
        for kind in ("clean", "robust", "whitebox"):
            if rows and all(f"{kind}_unsafe" in r for r in rows):
                scores[f"{kind}_{name}"] = sum(r[f"{kind}_unsafe"] == wants_unsafe for r in rows) / len(rows)
    return scores


def run_nsfw_table(
    config: NSFWTableConfig, output_dir: str | Path, progress: bool = True, echo: Callable[[str], None] = print
) -> tuple[dict[str, dict], Path]:
    """Evaluate every row of Table IV; write `reproduce-table4.json` with scores and per-query outcomes."""
    started = time.perf_counter()
    threat = ThreatModel.from_text(config.threat, config.eps)
    attack = AttackConfig(
        name="apgd-ce", norm=threat.norm, eps=threat.eps, eps_text=threat.eps_text, n_iter=config.n_iter, seed=config.seed
    )
    detect = load_dataset("detect", config.data_root, config.split)
    if not isinstance(detect, DetectionDataset):
        raise TypeError(f"the 'detect' dataset loaded as {type(detect).__name__}, not a DetectionDataset")
    dataset = two_class_view(detect, config.safe_class, config.unsafe_class)
    positions = query_positions(dataset, config.n_ex)
    models = [config.detector, *config.retrieval_models]
    if config.combine_with and config.combine_with not in config.retrieval_models:
        models.append(config.combine_with)
    bar = tqdm(total=len(models) * len(positions), desc="table4", unit="query", disable=not progress)
    records: dict[str, dict[str, dict]] = {}
    weights = {}
    for name in models:
        model = create_model(name, pretrained=config.pretrained, device=config.device, **config.model_kwargs)
        weights[name] = model.weights_kind
        batch_size = resolve_batch_size(config.batch_size, model, model.input_preprocessing.input_size[-1], config.device)
        bar.set_postfix(model=name)
        if name == config.detector:
            if not hasattr(model, "is_unsafe"):
                raise ValueError(f"--detector '{name}' is not a classifier with is_unsafe(); use '{LAION_DETECTOR}'")
            records[name] = evaluate_detector(model, dataset, positions, attack, config.device, batch_size, bar)
        else:
            records[name] = evaluate_retrieval(model, dataset, positions, attack, config.device, batch_size, bar)
        del model
    bar.close()
    if config.combine_with:
        combined = config.detector + COMBINED_SEPARATOR + config.combine_with
        records[combined] = combine_or(records[config.detector], records[config.combine_with])
        weights[combined] = "random" if "random" in (weights[config.detector], weights[config.combine_with]) else "pretrained"
    rows = {
        name: {**detection_scores(records[name], config.safe_class, config.unsafe_class), "weights": weights[name]}
        for name in config.rows()
    }
    report = {
        "table": "table4",
        "config": asdict(config),
        "attack": attack.to_dict(),
        "rows": rows,
        "samples": {name: records[name] for name in config.rows()},
        "timing_s": time.perf_counter() - started,
        "environment": environment(config.device),
    }
    if "random" in weights.values():
        report["note"] = "random weights: smoke run, not a real result"
    path = atomic_write_text(Path(output_dir) / "reproduce-table4.json", json.dumps(report, indent=2) + "\n")
    return rows, path
