"""The evaluation runner: model + dataset + threat model -> one result file.

Computes clean predictions, attacks what is still correct, and writes the result and per-sample
outcomes. The progress bar shows finished samples and the running clean and robust scores.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Subset
from tqdm.auto import tqdm

from attacks.threat import ThreatModel
from model_zoo import create_model, get_model_card

from .datasets import get_dataset_spec, load_dataset
from .environment import environment
from .results import EvaluationResult, write_result
from .sampling import select_positions
from .tasks import ATTACKS, AttackConfig, get_task


NO_ATTACK = "none"  # `--attack none`: clean scores only


@dataclass
class EvaluationConfig:
    model: str
    dataset: str = "demo"
    split: str | None = None
    threat: str = "linf"
    eps: str | None = None  # default per threat: 4/255 (linf), 3.0 (l2)
    attack: str = "apgd-ce"
    n_iter: int = 100
    n_restarts: int = 1
    n_ex: int | None = None
    n_ex_per_split: int | None = None  # first N of every split (paper: 1k per BAPPS split)
    batch_size: int = 32
    device: str = "cpu"
    seed: int = 0
    pretrained: bool = True
    data_root: str | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"labels": "binary"} for BAPPS
    checks: bool = False  # run the sanity checks of benchmark/sanity.py and record them

    @property
    def clean_only(self) -> bool:
        """`--attack none` (and sweep points at eps 0 or 0 iterations): robust = clean."""
        return self.attack == NO_ATTACK

    def threat_model(self) -> ThreatModel:
        return ThreatModel.from_text(self.threat, self.eps)

    def validate(self) -> None:
        """Refuse bad input before any work is done, with the fix in the message."""
        self.threat_model()
        get_model_card(self.model)  # unknown names fail here, with suggestions
        get_dataset_spec(self.dataset)
        if not self.clean_only and self.attack not in ATTACKS:
            raise ValueError(f"unknown attack '{self.attack}'; choose one of {', '.join(ATTACKS)} or {NO_ATTACK} (clean only)")
        if self.n_restarts < 1:
            raise ValueError(f"--n-restarts must be >= 1, got {self.n_restarts}")
        if self.batch_size < 1:
            raise ValueError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.n_ex is not None and self.n_ex < 1:
            raise ValueError(f"--n-ex must be >= 1, got {self.n_ex}")
        if self.n_ex_per_split is not None and self.n_ex_per_split < 1:
            raise ValueError(f"--n-ex-per-split must be >= 1, got {self.n_ex_per_split}")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"--device {self.device} asked for, but CUDA is not available here; use --device cpu")
        if self.clean_only:
            return
        if self.n_iter < 1:
            raise ValueError(f"--n-iter must be >= 1 for an attack, got {self.n_iter}")
        if self.threat_model().eps == 0:
            raise ValueError("eps 0 leaves nothing to attack; give a positive radius such as 4/255 (linf) or 3.0 (l2)")


def run_evaluation(config: EvaluationConfig, output_dir: str | Path = "results", progress: bool = True) -> tuple[EvaluationResult, Path]:
    """Evaluate one model on one dataset under one threat model and write the result."""
    config.validate()
    threat = config.threat_model()
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    device = torch.device(config.device)

    spec = get_dataset_spec(config.dataset)
    dataset = load_dataset(config.dataset, config.data_root, config.split, **config.dataset_options)
    task = get_task(spec.task)
    positions = select_positions(dataset, config.n_ex, config.n_ex_per_split)
    loader = DataLoader(Subset(dataset, positions), batch_size=config.batch_size, shuffle=False)

    model = create_model(config.model, pretrained=config.pretrained, device=device, **config.model_kwargs)
    attack = None if config.clean_only else AttackConfig(
        name=config.attack, norm=threat.norm, eps=threat.eps, eps_text=threat.eps_text,
        n_iter=config.n_iter, n_restarts=config.n_restarts, seed=config.seed,
    )
    if hasattr(task, "prepare"):  # tasks with whole-dataset state: a retrieval pool, a database
        task.prepare(model, dataset, attack, device, config.batch_size)
    loaded = time.perf_counter()

    records: list[dict[str, Any]] = []
    bar = tqdm(total=len(positions), desc=f"{config.model} {threat.label}", unit="sample", disable=not progress)
    for batch in loader:
        sample_positions = [int(p) for p in batch["position"]]
        outcomes = task.evaluate_batch(model, batch, attack, device, sample_ids=sample_positions)
        for position, outcome in zip(sample_positions, outcomes):
            records.append({"position": position, **dataset.sample_info(position), **outcome})
        bar.update(len(outcomes))
        running = task.aggregate(records)
        bar.set_postfix(clean=f"{running['clean']:.3f}", robust=f"{running['robust']:.3f}")
    bar.close()
    finished = time.perf_counter()
    checks = {}
    if config.checks and attack is not None:
        from .sanity import run_sanity_checks

        checks = run_sanity_checks(model, dataset, task, attack, records, device, batch_size=config.batch_size)

    scores = task.aggregate(records)
    scores["per_split"] = {
        split: task.aggregate([r for r in records if r["split"] == split]) for split in sorted({r["split"] for r in records})
    }
    result = EvaluationResult(
        model=config.model,
        model_card=model.card.to_dict(),
        weights=model.weights_kind,
        dataset=config.dataset,
        split=config.split,
        task=spec.task,
        threat={"norm": threat.norm, "eps": threat.eps, "eps_text": threat.eps_text},
        attack=attack.to_dict() if attack is not None else None,
        config=asdict(config),
        scores=scores,
        timing={"setup_s": loaded - started, "evaluation_s": finished - loaded, "total_s": finished - started},
        environment=environment(device),
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        checks=checks,
    )
    path = write_result(result, records, output_dir)
    return result, path
