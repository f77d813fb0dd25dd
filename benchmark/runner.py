"""The evaluation runner: model + dataset + threat model -> one result file.

Computes clean predictions, attacks what is still correct, and writes the result and per-sample
outcomes. The progress bar shows finished samples and the running clean and robust scores.
Finished batches are checkpointed, so re-running a killed command continues where it stopped;
under torchrun, ranks share the batches and rank 0 writes the one result.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from attacks.ensemble import STANDARD, summarise_members
from attacks.threat import ThreatModel
from model_zoo import ModelCard, PerceptualModel, create_model, get_model_card
from model_zoo.card import NO_WEIGHTS, UNKNOWN_WEIGHTS
from model_zoo.eot import ExpectationOverTransformation
from model_zoo.registry import check_model_options

from .acceleration import Acceleration, auto_batch_size
from .checkpoint import BatchCheckpoint, configuration_hash
from .datasets import check_dataset_available, get_dataset_spec, load_dataset
from .distributed import agree_on_minimum, barrier, current_process_group, gather_batches, rank_device
from .environment import environment, package_versions
from .results import EvaluationResult, result_path, write_result
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
    attack: str = "apgd-ce"  # or "standard": the ensemble of attacks/ensemble.py
    n_iter: int = 100
    n_restarts: int = 1
    n_ex: int | None = None
    n_ex_per_split: int | None = None  # first N of every split (paper: 1k per BAPPS split)
    random_subset: int | None = None  # N samples drawn at random (after n_ex_per_split and n_ex): verification re-runs
    subset_seed: int = 0  # the seed of that draw (the attack keeps `seed`)
    square_queries: int = 5000  # the Square member's budget in `--attack standard`
    batch_size: int | str = 32  # or "auto": the largest that fits GPU memory (with headroom)
    device: str = "cpu"
    seed: int = 0
    pretrained: bool = True
    data_root: str | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    dataset_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"labels": "soft"} for BAPPS
    checks: bool = False  # run the sanity checks of benchmark/sanity.py and record them
    precision: str = "fp32"  # fp32 | bf16 | fp16: autocast of the model; the attack's arithmetic stays fp32
    channels_last: bool = False
    compile_model: bool = False

    @property
    def clean_only(self) -> bool:
        """`--attack none` (and sweep points at eps 0 or 0 iterations): robust = clean."""
        return self.attack == NO_ATTACK

    def acceleration(self) -> Acceleration:
        return Acceleration(self.precision, self.channels_last, self.compile_model)

    def threat_model(self) -> ThreatModel:
        return ThreatModel.from_text(self.threat, self.eps)

    def validate(self, check_model: bool = True) -> None:
        """Refuse bad input before any work is done, with the fix in the message."""
        self.threat_model()
        if not self.model.strip():
            raise ValueError("no model given; name one with --model (e.g. --model ssim; `bench models` lists all)")
        if check_model:
            get_model_card(self.model)  # unknown names fail here, with suggestions
            check_model_options(self.model, self.model_kwargs)
        check_dataset_available(self.dataset, self.data_root, **self.dataset_options)
        if not self.clean_only and self.attack not in ATTACKS:
            raise ValueError(f"unknown attack '{self.attack}'; choose one of {', '.join(ATTACKS)} or {NO_ATTACK} (clean only)")
        if self.n_restarts < 1:
            raise ValueError(f"--n-restarts must be >= 1, got {self.n_restarts}")
        if self.batch_size != "auto" and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise ValueError(f"--batch-size must be an integer >= 1 or 'auto', got {self.batch_size}")
        if self.n_ex is not None and self.n_ex < 1:
            raise ValueError(f"--n-ex must be >= 1, got {self.n_ex}")
        if self.n_ex_per_split is not None and self.n_ex_per_split < 1:
            raise ValueError(f"--n-ex-per-split must be >= 1, got {self.n_ex_per_split}")
        if self.random_subset is not None and self.random_subset < 1:
            raise ValueError(f"random_subset must be >= 1, got {self.random_subset}")
        if self.square_queries < 1:
            raise ValueError(f"--square-queries must be >= 1, got {self.square_queries}")
        try:
            torch.device(self.device)
        except (RuntimeError, TypeError):
            raise ValueError(f"unknown device '{self.device}'; use cpu, cuda, cuda:N or mps") from None
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"--device {self.device} asked for, but CUDA is not available here; use --device cpu")
        self.acceleration().validate(self.device)
        if self.clean_only:
            return
        if self.n_iter < 1:
            raise ValueError(f"--n-iter must be >= 1 for an attack, got {self.n_iter}")
        if self.threat_model().eps == 0:
            raise ValueError("eps 0 leaves nothing to attack; give a positive radius such as 4/255 (linf) or 3.0 (l2)")


def prepare_instance(model: PerceptualModel, name: str, device) -> PerceptualModel:
    """A user's model instance made ready like `create_model` makes registry models: a card, eval mode, frozen, on `device`.

    An instance without a card says nothing about its weights: like a card-less factory, its weights
    are recorded as unknown when it has parameters, and as none when it has none.
    """
    if not isinstance(model, PerceptualModel):
        raise TypeError(
            f"expected a PerceptualModel instance, got {type(model).__name__}; wrap your metric in model_zoo.PairwiseModel or EmbeddingModel"
        )
    has_parameters = any(True for _ in model.parameters())
    if not isinstance(getattr(model, "card", None), ModelCard):
        model.card = ModelCard(
            name=name, family="custom", backbone=type(model).__name__, **({"weights": UNKNOWN_WEIGHTS} if has_parameters else {})
        )
    if "weights_kind" not in vars(model):
        model.weights_kind = (
            ("unknown" if has_parameters else "none") if model.card.weights in (UNKNOWN_WEIGHTS, NO_WEIGHTS) else "pretrained"
        )
    model.eval().requires_grad_(False)
    return model.to(device)


def evaluation_protocol(dataset: Any, model: Any, first_position: int, split: str | None = None) -> dict[str, Any]:
    """Install the model's image transform where the dataset follows it, and describe what was run.

    The paper preprocesses NIGHTS, THINGS (and, we take it, detection and retrieval) images with
    each model's own transform before attacking them; BAPPS has a fixed one. Whatever applies, the
    result records it with the resolution the attack acted on.
    """
    protocol = dict(dataset.protocol()) if hasattr(dataset, "protocol") else {}
    protocol["split"] = split  # resolved: the dataset's default when none was named (the leaderboard reads it)
    if getattr(dataset, "follows_model_preprocessing", False):
        dataset.image_transform = model.input_preprocessing.image_transform()
        protocol["image_transform"] = f"the model's: {model.input_preprocessing.describe()}"
    protocol["model_preprocessing"] = model.input_preprocessing.to_dict()
    first_item = dataset[first_position]
    image = next(v for v in first_item.values() if torch.is_tensor(v) and v.ndim == 3)  # any task's image
    protocol["attacked_resolution"] = [int(image.shape[-2]), int(image.shape[-1])]
    return protocol


def aggregate_scores(task: Any, records: list[dict[str, Any]], averaging: str = "samples") -> dict[str, Any]:
    """Headline scores and per-split scores; `averaging="splits"` makes the headline the mean of split means."""
    per_split = {split: task.aggregate([r for r in records if r["split"] == split]) for split in sorted({r["split"] for r in records})}
    scores = task.aggregate(records)
    if averaging == "splits":
        for key in ("clean", "robust"):
            if all(key in split_scores for split_scores in per_split.values()):
                scores[key] = sum(split_scores[key] for split_scores in per_split.values()) / len(per_split)
    scores["per_split"] = per_split
    return scores


def run_evaluation(
    config: EvaluationConfig,
    output_dir: str | Path = "results",
    progress: bool = True,
    model: PerceptualModel | None = None,
) -> tuple[EvaluationResult, Path]:
    """Evaluate one model on one dataset under one threat model and write the result.

    `model` evaluates a `PerceptualModel` instance instead of building `config.model` from the
    registry (`config.model` then only names it). Resumes from the checkpoint of an interrupted
    run of the same configuration. Inside a torch.distributed process group, each rank evaluates
    its share of the batches and rank 0 writes the result (every rank returns it).
    """
    config.validate(check_model=model is None)
    threat = config.threat_model()
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    group = current_process_group()
    device = rank_device(config.device, group)

    spec = get_dataset_spec(config.dataset)
    dataset = load_dataset(config.dataset, config.data_root, config.split, **config.dataset_options)
    task = get_task(spec.task, **getattr(dataset, "task_options", {}))
    positions = select_positions(dataset, config.n_ex, config.n_ex_per_split, config.random_subset, config.subset_seed)

    acceleration = config.acceleration()
    model = acceleration.prepare(
        create_model(config.model, pretrained=config.pretrained, device=device, **config.model_kwargs)
        if model is None
        else prepare_instance(model, config.model, device)
    )
    protocol = evaluation_protocol(dataset, model, positions[0], config.split or spec.default_split)
    if model.is_randomised:
        model = ExpectationOverTransformation(model)
        protocol["expectation_over_transformation"] = model.n_samples
    if config.batch_size == "auto":
        with acceleration.autocast(device):
            fitting = auto_batch_size(model, protocol["attacked_resolution"][-1], device)
        config = replace(config, batch_size=agree_on_minimum(fitting, group))
    batches = [positions[i : i + config.batch_size] for i in range(0, len(positions), config.batch_size)]
    attack = (
        None
        if config.clean_only
        else AttackConfig(
            name=config.attack,
            norm=threat.norm,
            eps=threat.eps,
            eps_text=threat.eps_text,
            n_iter=config.n_iter,
            n_restarts=config.n_restarts,
            seed=config.seed,
            square_queries=config.square_queries,
        )
    )
    if hasattr(task, "prepare"):  # tasks with whole-dataset state: a retrieval pool, a database
        with acceleration.autocast(device):
            task.prepare(model, dataset, attack, device, config.batch_size)
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
        scores={},
        timing={},
        environment={**environment(device), "world_size": group.world_size},
        created_at="",
        protocol=protocol,
    )
    versions = package_versions()
    checkpoint = BatchCheckpoint(
        result_path(result, output_dir),
        # The protocol is part of the key: outcomes scored or preprocessed another way are never resumed from.
        configuration_hash(
            {
                "config": result.config,
                "weights": result.weights,
                "protocol": protocol,
                "versions": {k: versions[k] for k in ("perceptbench", "torch")},
            }
        ),
        rank=group.rank,
    )
    finished = checkpoint.load()
    barrier(group)  # every rank has read the checkpoint before any rank adds to it
    todo = [b for b in range(len(batches)) if group.owns(b) and b not in finished]
    loaded = time.perf_counter()

    records: list[dict[str, Any]] = [r for b in sorted(finished) for r in finished[b]]
    resumed_samples = sum(len(finished[b]) for b in finished)
    evaluated: dict[int, list[dict[str, Any]]] = {}
    bar = tqdm(
        total=len(positions),
        initial=len(records),
        desc=f"{config.model} {threat.label}",
        unit="sample",
        disable=not (progress and group.is_main),
    )
    loader = DataLoader(dataset, batch_sampler=[batches[b] for b in todo])
    for batch_index, batch in zip(todo, loader):
        sample_positions = [int(p) for p in batch["position"]]
        with acceleration.autocast(device):
            outcomes = task.evaluate_batch(model, batch, attack, device, sample_ids=sample_positions)
        batch_records = [{"position": p, **dataset.sample_info(p), **outcome} for p, outcome in zip(sample_positions, outcomes)]
        checkpoint.append(batch_index, batch_records)
        evaluated[batch_index] = batch_records
        records.extend(batch_records)
        bar.update(len(outcomes))
        running = task.aggregate(records)
        bar.set_postfix(clean=f"{running['clean']:.3f}", robust=f"{running['robust']:.3f}")
    bar.close()
    finished.update(gather_batches(evaluated, group))
    finished_time = time.perf_counter()

    records = [r for b in sorted(finished) for r in finished[b]]
    if attack is not None and attack.name == STANDARD and group.is_main:
        from .sanity import standard_checks

        result.ensemble = summarise_members(attack.to_dict(), records)
        result.checks = standard_checks(model, dataset, task, attack, records, result.ensemble, device, batch_size=config.batch_size)
    elif config.checks and attack is not None and group.is_main:
        from .sanity import run_sanity_checks

        result.checks = run_sanity_checks(model, dataset, task, attack, records, device, batch_size=config.batch_size)
    result.scores = aggregate_scores(task, records, getattr(dataset, "score_averaging", "samples"))
    result.timing = {"setup_s": loaded - started, "evaluation_s": finished_time - loaded, "total_s": finished_time - started}
    result.created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    result.resumed_samples = resumed_samples
    path = result_path(result, output_dir)
    if group.is_main:
        path = write_result(result, records, output_dir)
        checkpoint.discard()
    else:
        result.samples_file = path.stem + ".samples.csv"
    barrier(group)
    return result, path
