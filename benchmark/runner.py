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
from typing import Any, cast

import torch
from torch.utils.data import DataLoader
from torch.utils.data import Dataset as TorchDataset
from tqdm.auto import tqdm

from attacks.defaults import (
    BATCH_SIZE,
    DEFAULT_ATTACK,
    DEFAULT_CERTIFY_N_EX,
    DEFAULT_DATASET,
    DEFAULT_THREAT,
    N_ITER,
    N_RESTARTS,
    SQUARE_QUERIES,
    STANDARD,
    BatchSize,
    SmoothingConfig,
)
from attacks.ensemble import EnsembleRecord, summarise_members
from attacks.registry import list_attacks
from attacks.threat import ThreatModel
from model_zoo import ModelCard, PerceptualModel, create_model, get_model_card
from model_zoo.card import NO_WEIGHTS, UNKNOWN_WEIGHTS
from model_zoo.eot import ExpectationOverTransformation
from model_zoo.registry import check_model_options

from .certification import CertifyConfig, certify_batch, check_certifiable, summarise
from .datasets import Dataset, check_dataset_available, get_dataset_spec, load_dataset
from .results import (
    SAMPLES_SUFFIX,
    CheckResult,
    EvaluationResult,
    MetricProperties,
    SampleOutcome,
    Scores,
    result_file_path,
    result_file_stem,
    write_result,
)
from .runtime.acceleration import Acceleration, check_device, resolve_batch_size
from .runtime.checkpoint import BatchCheckpoint, configuration_hash
from .runtime.distributed import ProcessGroup, agree_on_minimum, barrier, current_process_group, gather_batches, rank_device
from .runtime.environment import environment, package_versions
from .sampling import select_positions
from .score_intervals import attach_intervals
from .tasks import AttackConfig, Task, get_task

NO_ATTACK = "none"  # `--attack none`: clean scores only


@dataclass
class EvaluationConfig:
    """What to evaluate and how: model, dataset, threat, attack budget, sample selection, device and speed-ups.

    Recorded in every result file (`config`); `batch_size` "auto" is recorded as the number it resolved to.
    The one home of an evaluation's defaults: `benchmark.evaluate` reads them from here, and every value more than
    one layer needs (iterations, Square's queries, batch size, attack, threat) comes from attacks/defaults.py, which
    the click options read without loading torch.
    """

    model: str
    dataset: str = DEFAULT_DATASET
    split: str | None = None
    threat: str = DEFAULT_THREAT
    eps: str | None = None  # default per threat: 4/255 (linf), 3.0 (l2)
    attack: str = DEFAULT_ATTACK  # or "standard": the ensemble of attacks/ensemble.py
    n_iter: int = N_ITER
    n_restarts: int = N_RESTARTS
    n_ex: int | None = None
    n_ex_per_split: int | None = None  # first N of every split (paper: 1k per BAPPS split)
    random_subset: int | None = None  # N samples drawn at random (after n_ex_per_split and n_ex): verification re-runs
    subset_seed: int = 0  # the seed of that draw (the attack keeps `seed`)
    only_splits: list[str] | None = None  # keep only samples of these per-sample splits (Table X: the unsafe queries)
    square_queries: int = SQUARE_QUERIES  # the Square member's budget in `--attack standard`
    batch_size: BatchSize = BATCH_SIZE  # or "auto": the largest that fits GPU memory (with headroom)
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
    shard: str | None = None  # "i/n": this job evaluates batches i-1, i-1+n, ...; `--merge-shards` writes the one result
    # `--certify lipschitz|smoothing` on the first `certify_n_ex` samples (benchmark/certification.py); the smoothing
    # parameters' defaults are Cohen et al. (2019)'s, held once in attacks/defaults.py's SmoothingConfig.
    certify: str | None = None
    certify_sigma: float = SmoothingConfig.sigma
    certify_n: int = SmoothingConfig.n
    certify_n0: int = SmoothingConfig.n0
    certify_alpha: float = SmoothingConfig.alpha
    certify_n_ex: int = DEFAULT_CERTIFY_N_EX
    save_adversarial: int = 0  # keep the N worst-case adversarial references as PNGs beside the result (benchmark/gallery.py)

    @property
    def clean_only(self) -> bool:
        """`--attack none` (and sweep points at eps 0 or 0 iterations): robust = clean."""
        return self.attack == NO_ATTACK

    def acceleration(self) -> Acceleration:
        """The speed-ups this configuration asks for."""
        return Acceleration(self.precision, self.channels_last, self.compile_model)

    def shard_part(self) -> tuple[int, int] | None:
        """(index from 0, count) of `shard` "i/n", or None for an unsharded run."""
        return None if self.shard is None else parse_shard(self.shard)

    def certify_config(self) -> CertifyConfig | None:
        """What `--certify` asks for; None when it was not given."""
        if self.certify is None:
            return None
        smoothing = SmoothingConfig(
            sigma=self.certify_sigma, n0=self.certify_n0, n=self.certify_n, alpha=self.certify_alpha, seed=self.seed
        )
        return CertifyConfig(self.certify, smoothing, self.certify_n_ex)

    def threat_model(self) -> ThreatModel:
        """The threat model, parsed from `threat` and `eps` (the norm's default radius when `eps` is None)."""
        return ThreatModel.from_text(self.threat, self.eps)

    def validate(self, check_model: bool = True, check_data: bool = True) -> None:
        """Refuse bad input before any work is done, with the fix in the message.

        `check_data=False` (a `--dry-run` plan) checks everything but whether the dataset's files are there.
        """
        self.threat_model()
        if not self.model.strip():
            raise ValueError("no model given; name one with --model (e.g. --model ssim; `bench models` lists all)")
        if check_model:
            get_model_card(self.model)  # unknown names fail here, with suggestions
            check_model_options(self.model, self.model_kwargs)
        if check_data:
            check_dataset_available(self.dataset, self.data_root, **self.dataset_options)
        else:
            get_dataset_spec(self.dataset)  # an unknown name fails here, with suggestions
        if not self.clean_only and self.attack not in list_attacks():
            raise ValueError(f"unknown attack '{self.attack}'; choose one of {', '.join(list_attacks())} or {NO_ATTACK} (clean only)")
        if not self.clean_only and self.attack.endswith("-reference"):
            from attacks.reference import check_reference_available

            check_reference_available()
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
        check_device(self.device)
        self.acceleration().validate(self.device)
        if self.shard is not None:
            self.shard_part()
            if self.batch_size == "auto":
                raise ValueError("--shard needs a fixed --batch-size (every shard must cut the same batches), not 'auto'")
        if self.clean_only and self.checks:
            raise ValueError(
                "--checks tests an attack, but --attack none runs none; drop --checks or name an attack (e.g. --attack standard)"
            )
        self.certify_config()  # an unknown method or impossible smoothing parameters fail here
        if self.certify is not None and get_dataset_spec(self.dataset).task != "2afc":
            raise ValueError(f"--certify certifies 2AFC decisions; {self.dataset} is not a 2AFC dataset: drop --certify")
        if self.save_adversarial < 0:
            raise ValueError(f"--save-adversarial must be >= 0, got {self.save_adversarial}")
        if self.save_adversarial and (self.clean_only or get_dataset_spec(self.dataset).task != "2afc"):
            raise ValueError("--save-adversarial keeps the adversarial references of a 2AFC attack: give --attack and a 2AFC dataset")
        if self.clean_only:
            return
        if self.n_iter < 1:
            raise ValueError(f"--n-iter must be >= 1 for an attack, got {self.n_iter}")
        if self.threat_model().eps == 0:
            raise ValueError("eps 0 leaves nothing to attack; give a positive radius such as 4/255 (linf) or 3.0 (l2)")

    def attack_config(self) -> AttackConfig | None:
        """The attack this configuration runs; None for `--attack none`."""
        if self.clean_only:
            return None
        threat = self.threat_model()
        return AttackConfig(
            name=self.attack,
            norm=threat.norm,
            eps=threat.eps,
            eps_text=threat.eps_text,
            n_iter=self.n_iter,
            n_restarts=self.n_restarts,
            seed=self.seed,
            square_queries=self.square_queries,
        )


def parse_shard(text: str) -> tuple[int, int]:
    """`--shard i/n` (1 <= i <= n) as (i - 1, n); shard i takes batches i-1, i-1+n, i-1+2n, ... of the unsharded run."""
    index, sep, count = str(text).partition("/")
    try:
        part, parts = int(index), int(count)
    except ValueError:
        part, parts = 0, 0
    if not sep or parts < 1 or not 1 <= part <= parts:
        raise ValueError(f"--shard expects i/n with 1 <= i <= n (e.g. --shard 1/4), got '{text}'")
    return part - 1, parts


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
        card = ModelCard(name=name, family="custom", backbone=type(model).__name__)
        model.card = replace(card, weights=UNKNOWN_WEIGHTS) if has_parameters else card
    if "weights_kind" not in vars(model):
        model.weights_kind = (
            ("unknown" if has_parameters else "none") if model.card.weights in (UNKNOWN_WEIGHTS, NO_WEIGHTS) else "pretrained"
        )
    model.eval().requires_grad_(False)
    return model.to(device)


def evaluation_protocol(
    dataset: Dataset, model: PerceptualModel, first_position: int, split: str | None = None, choices: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Install the model's image transform where the dataset follows it, and describe what was run.

    The paper preprocesses NIGHTS, THINGS (and, we take it, detection and retrieval) images with
    each model's own transform before attacking them; BAPPS has a fixed one. Whatever applies, the
    result records it with the resolution the attack acted on, whether the model resized a native-size
    input (`model_input`), and the choices we made where the paper is silent (`choices`, the dataset spec's).
    """
    protocol = dict(dataset.protocol())
    protocol["split"] = split  # resolved: the dataset's default when none was named (the leaderboard reads it)
    if dataset.follows_model_preprocessing:
        dataset.image_transform = model.input_preprocessing.image_transform()
        protocol["image_transform"] = f"the model's: {model.input_preprocessing.describe()}"
    protocol["model_preprocessing"] = model.input_preprocessing.to_dict()
    if dataset.native_resolution:
        # LPIPS-family metrics then skip their resize to 224 (LPIPS's own protocol on BAPPS); others keep their preprocessing.
        switch = getattr(model, "use_native_resolution", None)
        native = callable(switch)
        if callable(switch):
            switch()
        protocol["model_input"] = "native resolution, no resize inside the model" if native else "the model's own preprocessing"
    from .protocol_choices import PROTOCOL_CHOICES

    if choices:  # where the paper is silent: what we chose, and why
        protocol["choices"] = {name: PROTOCOL_CHOICES[name] for name in choices}
    first_item = dataset[first_position]
    image = next(v for v in first_item.values() if torch.is_tensor(v) and v.ndim == 3)  # any task's image
    protocol["attacked_resolution"] = [int(image.shape[-2]), int(image.shape[-1])]
    return protocol


def aggregate_scores(task: Task, outcomes: list[SampleOutcome], averaging: str = "samples") -> Scores:
    """Headline scores and per-split scores, each with its interval (benchmark/score_intervals.py);
    `averaging="splits"` makes the headline the mean of split means."""
    per_split = {
        split: task.aggregate([o for o in outcomes if str(o.split) == split]) for split in sorted({str(o.split) for o in outcomes})
    }
    scores = task.aggregate(outcomes)
    if averaging == "splits":
        cleans = [s.clean for s in per_split.values() if s.clean is not None]
        robusts = [s.robust for s in per_split.values() if s.robust is not None]
        if len(cleans) == len(per_split):
            scores.clean = sum(cleans) / len(cleans)
        if len(robusts) == len(per_split):
            scores.robust = sum(robusts) / len(robusts)
    scores.per_split = per_split
    return attach_intervals(scores, outcomes, averaging)


@dataclass(frozen=True)
class EvaluationRun:
    """Everything an evaluation needs before its first batch, decided once by `setup_evaluation`.

    `batch_size` (also recorded in `config`) is a number: "auto" was resolved (and agreed across ranks) before any batch was cut.
    """

    config: EvaluationConfig
    batch_size: int
    model: PerceptualModel
    metric: MetricProperties
    dataset: Dataset
    task: Task
    task_name: str
    threat: ThreatModel
    attack: AttackConfig | None
    positions: list[int]
    protocol: dict[str, Any]
    device: torch.device
    group: ProcessGroup
    acceleration: Acceleration
    stem: str  # the result file's name, without .json
    checkpoint: BatchCheckpoint
    started: float  # time.perf_counter() when setup began
    certify: CertifyConfig | None = None
    certified_positions: frozenset[int] = frozenset()  # the first `certify_n_ex` positions of the run

    @property
    def batches(self) -> list[list[int]]:
        """The dataset positions of every batch, in order; a batch's index is its checkpoint key."""
        return [self.positions[i : i + self.batch_size] for i in range(0, len(self.positions), self.batch_size)]


@dataclass(frozen=True)
class BatchLoopOutcome:
    """What the batch loop produced: every sample's outcome (in batch order), how many came from a checkpoint, when it ran."""

    outcomes: list[SampleOutcome]
    resumed_samples: int
    loaded: float  # time.perf_counter() when the checkpoint was read
    finished: float  # time.perf_counter() after the last batch
    certify_s: float = 0.0  # of the evaluation, the seconds spent certifying (this invocation's batches)


def setup_evaluation(config: EvaluationConfig, output_dir: str | Path, model: PerceptualModel | None = None) -> EvaluationRun:
    """Build the model, dataset, task and attack, resolve the batch size and open the checkpoint; no sample is evaluated yet."""
    started = time.perf_counter()
    threat = config.threat_model()
    torch.manual_seed(config.seed)
    group = current_process_group()
    device = rank_device(config.device, group)

    spec = get_dataset_spec(config.dataset)
    dataset = load_dataset(config.dataset, config.data_root, config.split, **config.dataset_options)
    task = get_task(spec.task, **dataset.task_options)
    positions = select_positions(
        dataset, config.n_ex, config.n_ex_per_split, config.random_subset, config.subset_seed, only_splits=config.only_splits
    )

    acceleration = config.acceleration()
    model = acceleration.prepare(
        create_model(config.model, pretrained=config.pretrained, device=device, **config.model_kwargs)
        if model is None
        else prepare_instance(model, config.model, device)
    )
    metric = MetricProperties.from_dict(model.metric_properties())
    protocol = evaluation_protocol(dataset, model, positions[0], config.split or spec.default_split, spec.choices)
    if model.is_randomised:
        model = ExpectationOverTransformation(model)
        protocol["expectation_over_transformation"] = model.n_samples
    certify = config.certify_config()
    if certify is not None:
        check_certifiable(certify, model, spec.task)
    batch_size = resolve_batch_size(config.batch_size, model, protocol["attacked_resolution"][-1], device, acceleration)
    if config.batch_size == "auto":
        batch_size = agree_on_minimum(batch_size, group)
    config = replace(config, batch_size=batch_size)
    attack = config.attack_config()
    with acceleration.autocast(device):
        task.prepare(model, dataset, attack, device, batch_size)

    stem = result_file_stem(config.model, config.dataset, config.split, threat, attack, asdict(config), model.weights_kind)
    versions = package_versions()
    # The protocol is part of the key: outcomes scored or preprocessed another way are never resumed from.
    key = {
        # Every shard writes into the unsharded run's checkpoint; the gallery is made after the batches and changes no outcome.
        "config": asdict(replace(config, shard=None, save_adversarial=0)),
        "weights": model.weights_kind,
        "protocol": protocol,
        "versions": {k: versions[k] for k in ("perceptbench", "torch")},
    }
    shard = config.shard_part()
    checkpoint = BatchCheckpoint(
        result_file_path(output_dir, config.dataset, stem),
        configuration_hash(key),
        rank=group.rank,
        part="" if shard is None else f"shard{shard[0] + 1}of{shard[1]}.",
    )
    return EvaluationRun(
        config=config,
        batch_size=batch_size,
        model=model,
        metric=metric,
        dataset=dataset,
        task=task,
        task_name=spec.task,
        threat=threat,
        attack=attack,
        positions=positions,
        protocol=protocol,
        device=device,
        group=group,
        acceleration=acceleration,
        stem=stem,
        checkpoint=checkpoint,
        started=started,
        certify=certify,
        certified_positions=frozenset(positions[: certify.n_ex]) if certify is not None else frozenset(),
    )


def shard_batches(run: EvaluationRun) -> list[int]:
    """The batch indices this job evaluates: all of them, or its shard's (every n-th, from i-1)."""
    shard = run.config.shard_part()
    indices = list(range(len(run.batches)))
    return indices if shard is None else indices[shard[0] :: shard[1]]


def evaluate_batches(run: EvaluationRun, progress: bool = True, merge_only: bool = False) -> BatchLoopOutcome:
    """Evaluate this rank's unfinished batches, checkpointing each; gather every rank's outcomes.

    `merge_only` evaluates nothing: every batch must already be in the checkpoint (written by `--shard` jobs).
    """
    finished = {b: [SampleOutcome.from_dict(row) for row in rows] for b, rows in run.checkpoint.load().items()}
    barrier(run.group)  # every rank has read the checkpoint before any rank adds to it
    batches = run.batches
    todo = [b for k, b in enumerate(shard_batches(run)) if run.group.owns(k) and b not in finished]
    if merge_only and todo:
        raise ValueError(
            f"--merge-shards: {len(todo)} of {len(batches)} batches are in no shard checkpoint under {run.checkpoint.directory} "
            f"(first missing batch {todo[0]}); finish every `--shard i/n` job of this configuration first"
        )
    loaded = time.perf_counter()

    so_far: list[SampleOutcome] = [o for b in sorted(finished) for o in finished[b]]
    resumed_samples = len(so_far)
    evaluated: dict[int, list[dict[str, Any]]] = {}
    bar = tqdm(
        total=len(run.positions),
        initial=len(so_far),
        desc=f"{run.config.model} {run.threat.label}",
        unit="sample",
        disable=not (progress and run.group.is_main),
    )
    # Any map-style dataset batches; torch's Dataset class is not required of a `Dataset`.
    loader: DataLoader[dict] = DataLoader(cast("TorchDataset[dict]", run.dataset), batch_sampler=[batches[b] for b in todo])
    certify_s = 0.0
    for batch_index, batch in zip(todo, loader):
        sample_positions = [int(p) for p in batch["position"]]
        with run.acceleration.autocast(run.device):
            outcomes = run.task.evaluate_batch(run.model, batch, run.attack, run.device, sample_ids=sample_positions)
        if run.certify is not None:
            certify_started = time.perf_counter()
            columns = certify_batch(run.certify, run.model, batch, run.device, sample_positions, run.certified_positions)
            outcomes = [replace(o, extra={**o.extra, **columns.get(p, {})}) for p, o in zip(sample_positions, outcomes)]
            certify_s += time.perf_counter() - certify_started
        located = [outcome.located(p, run.dataset.sample_info(p)) for p, outcome in zip(sample_positions, outcomes)]
        rows = [outcome.to_dict() for outcome in located]
        run.checkpoint.append(batch_index, rows)
        evaluated[batch_index] = rows
        so_far.extend(located)
        bar.update(len(located))
        running = run.task.aggregate(so_far)
        bar.set_postfix(clean=f"{running.clean:.3f}", robust=f"{running.robust:.3f}")
    bar.close()
    gathered = gather_batches(evaluated, run.group)
    finished.update({b: [SampleOutcome.from_dict(row) for row in rows] for b, rows in gathered.items()})
    outcomes = [o for b in sorted(finished) for o in finished[b]]
    return BatchLoopOutcome(outcomes, resumed_samples, loaded, time.perf_counter(), certify_s)


def sanity_checks(run: EvaluationRun, outcomes: list[SampleOutcome]) -> tuple[dict[str, CheckResult], EnsembleRecord | None]:
    """(checks, ensemble record): the standard ensemble's own checks, `--checks`' re-attacks, or none; rank 0 only."""
    attack = run.attack
    if attack is None or not run.group.is_main:
        return {}, None
    if attack.name == STANDARD:
        from .sanity import standard_checks

        n_classes = len(getattr(run.task, "classnames", ())) or None  # classification: AutoAttack's members (APGD-T)
        ensemble = summarise_members(attack, [o.to_dict() for o in outcomes], n_classes=n_classes)
        checks = standard_checks(run.model, run.dataset, run.task, attack, outcomes, ensemble, run.device, batch_size=run.batch_size)
        return checks, ensemble
    if run.config.checks:
        from .sanity import run_sanity_checks

        return run_sanity_checks(run.model, run.dataset, run.task, attack, outcomes, run.device, batch_size=run.batch_size), None
    return {}, None


def finalise_evaluation(run: EvaluationRun, loop: BatchLoopOutcome, run_checks: bool = True) -> EvaluationResult:
    """Score the outcomes, run the sanity checks and build the one result of the run."""
    checks, ensemble = sanity_checks(run, loop.outcomes) if run_checks else ({}, None)
    scores = aggregate_scores(run.task, loop.outcomes, run.dataset.score_averaging)
    certified = None
    if run.certify is not None:
        height, width = run.protocol["attacked_resolution"]
        certified = summarise(run.certify, run.model, loop.outcomes, run.threat, 3 * height * width, loop.certify_s)
        if certified is not None and run_checks:
            from .sanity import certificate_checks

            checks.update(certificate_checks(run.certify.method, certified, loop.outcomes, run.attack is not None))
    model_card = run.model.card.to_dict()
    return EvaluationResult(
        model=run.config.model,
        model_card=model_card,
        weights=run.model.weights_kind,
        dataset=run.config.dataset,
        split=run.config.split,
        task=run.task_name,
        threat=run.threat,
        attack=run.attack,
        config=asdict(run.config),
        scores=scores,
        timing={
            "setup_s": loop.loaded - run.started,
            "evaluation_s": loop.finished - loop.loaded,
            "total_s": loop.finished - run.started,
        },
        environment={**environment(run.device), "world_size": run.group.world_size},
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        samples_file=run.stem + SAMPLES_SUFFIX if loop.outcomes else None,
        checks=checks,
        protocol={**run.protocol, "scoring": run.task.scoring} if run.task.scoring else run.protocol,
        resumed_samples=loop.resumed_samples,
        ensemble=ensemble,
        metric=run.metric,
        certified=certified,
    )


def run_evaluation(
    config: EvaluationConfig,
    output_dir: str | Path = "results",
    progress: bool = True,
    model: PerceptualModel | None = None,
    validated: bool = False,
    merge_shards: bool = False,
) -> tuple[EvaluationResult, Path]:
    """Evaluate one model on one dataset under one threat model and write the result.

    `model` evaluates a `PerceptualModel` instance instead of building `config.model` from the
    registry (`config.model` then only names it). `validated=True` says the caller already ran
    `config.validate()` (commands check every configuration before the first run starts). Resumes
    from the checkpoint of an interrupted run of the same configuration. Inside a torch.distributed
    process group, each rank evaluates its share of the batches and rank 0 writes the result
    (every rank returns it).

    With `config.shard` ("i/n") only that shard's batches are evaluated into the checkpoint and no result
    file is written: the shard's result is its checkpoint file (returned, with the shard's scores).
    `merge_shards=True` (an unsharded config) evaluates nothing and writes, from the shards' checkpoints,
    the result file an unsharded run writes.
    """
    if not validated:
        config.validate(check_model=model is None)
    run = setup_evaluation(config, output_dir, model)
    loop = evaluate_batches(run, progress, merge_only=merge_shards)
    if config.shard is not None:  # the shard's own scores (no sanity checks: the merge runs them on the whole set)
        positions = {p for b in shard_batches(run) for p in run.batches[b]}
        shard_loop = replace(loop, outcomes=[o for o in loop.outcomes if o.position in positions])
        barrier(run.group)
        return finalise_evaluation(run, shard_loop, run_checks=False), run.checkpoint.path
    result = finalise_evaluation(run, loop)
    path = result_file_path(output_dir, result.dataset, run.stem)
    if run.group.is_main and config.save_adversarial and run.attack is not None:
        from .gallery import save_gallery

        result = replace(result, adversarial_examples=save_gallery(run, loop.outcomes, config.save_adversarial, path).name)
    if run.group.is_main:
        write_result(result, loop.outcomes, output_dir)
        run.checkpoint.discard()
    barrier(run.group)
    return result, path
