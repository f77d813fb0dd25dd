"""The training loop: data order, optimiser and schedule, checkpoints, processes, log and output folder.

Everything random is a function of (seed, step) or is checkpointed, so a run killed and re-run
ends with bit-identical weights on the CPU:
- the data order of epoch e is a permutation seeded by (seed, e); step s takes the s-th slice of it;
- the attack's random start of step s comes from a generator seeded by (seed, s);
- the global RNG (LoRA dropout) is saved with each checkpoint, with the model, optimiser and
  scheduler states and the best validation weights so far.
The checkpoint (`training-state.pt`) is replaced atomically every `checkpoint_every` steps and at
every epoch end; it is removed once the output folder is complete.

Under torchrun each process takes every world_size-th sample of each global batch; the loss is
summed over a process's samples and divided by the global batch size, and gradients are summed
over processes with one all-reduce (DDP's reduction, done by hand because the inner attack runs
many forward/backward passes per step that must not be synchronised). The result equals one
process's up to floating-point reduction order (LoRA dropout masks differ: they come from each
process's RNG).

A process may also split its rows into micro-batches (`micro_batch_size`, "auto": what fits the
device): each pass backpropagates its loss sum over the global batch size and gradients accumulate,
so the step equals one pass over the rows, up to floating-point order (LoRA dropout masks again
differ, drawn per pass). The micro-batch is an execution detail: not in the configuration hash, so a
run may resume with another; the card records the last session's next to the global batch size.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import pickle
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, default_collate
from tqdm import tqdm

from benchmark.runtime.acceleration import Acceleration, resolve_batch_size
from benchmark.runtime.atomic import atomic_write_bytes, atomic_write_text
from benchmark.runtime.checkpoint import configuration_hash
from benchmark.runtime.distributed import ProcessGroup, barrier, current_process_group, rank_device
from benchmark.runtime.environment import environment
from model_zoo.base import EmbeddingModel
from model_zoo.download import sha256_of
from model_zoo.trained_folder import CARD_FILE, FinetuneCard, build_trained_folder, read_card

from .base import check_base, load_base_tower
from .config import FinetuneConfig, default_sources
from .data import check_training_data
from .recipes import Recipe, build_recipe

STATE_FILE = "training-state.pt"
LOG_FILE = "train-log.jsonl"


@dataclass
class TrainingRun:
    """What `train` returns: the output folder, the trained metric in memory, its card and how far training went."""

    folder: Path
    model: EmbeddingModel  # the trained metric in memory (the selected weights)
    card: FinetuneCard
    start_step: int  # > 0 when the run resumed from a checkpoint
    total_steps: int
    seconds_per_step: float | None  # mean wall time of the optimiser steps this process ran
    already_done: bool = False


def _seed_for(*parts: int) -> int:
    value = 0
    for part in parts:
        value = (value * 1_000_003 + int(part)) % (2**63 - 1)
    return value


def epoch_order(seed: int, epoch: int, n: int) -> list[int]:
    """The sample order of an epoch: a permutation that depends only on (seed, epoch)."""
    return torch.randperm(n, generator=torch.Generator().manual_seed(_seed_for(seed, 1, epoch))).tolist()


class StepBatches:
    """The sample positions of this process for each step from `start` to `total` (a DataLoader batch sampler).

    Step s is slice s % steps_per_epoch of the order of epoch s // steps_per_epoch; the process takes
    every world_size-th sample of that global batch.
    """

    def __init__(self, seed: int, n: int, batch_size: int, steps_per_epoch: int, start: int, total: int, group: ProcessGroup):
        self.seed, self.n, self.batch_size, self.steps_per_epoch = seed, n, batch_size, steps_per_epoch
        self.start, self.total, self.group = start, total, group

    def shape(self, step: int) -> tuple[int, list[int]]:
        """The global batch size of `step` and this process's rows in it."""
        position = step % self.steps_per_epoch
        size = min(self.batch_size, self.n - position * self.batch_size)
        return size, list(range(self.group.rank, size, self.group.world_size))

    def __len__(self) -> int:
        return self.total - self.start

    def __iter__(self):
        order_epoch, order = -1, []
        for step in range(self.start, self.total):
            epoch, position = divmod(step, self.steps_per_epoch)
            if epoch != order_epoch:
                order_epoch, order = epoch, epoch_order(self.seed, epoch, self.n)
            _, rows = self.shape(step)
            yield [order[position * self.batch_size + row] for row in rows]


def collate_or_none(items: list) -> Any:
    """`default_collate`, except that a process given no rows of a batch gets None instead of an error."""
    return default_collate(items) if items else None


def learning_rate_factor(config: FinetuneConfig, total_steps: int):
    """LR multiplier at optimiser step s: constant, or linear warm-up then cosine to 0 (open_clip's cosine_lr)."""
    warmup = config.warmup_steps if config.warmup_steps is not None else round(config.warmup_fraction * total_steps)

    def factor(step: int) -> float:
        if config.schedule == "constant":
            return 1.0
        if step < warmup:
            return (step + 1) / warmup
        decay_steps = max(total_steps - warmup, 1)
        return 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / decay_steps))

    return factor, warmup


def _optimizer(config: FinetuneConfig, parameters: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    beta_1, beta_2 = config.betas
    return kind(parameters, lr=config.lr, betas=(float(beta_1), float(beta_2)), weight_decay=config.weight_decay)


def _sum_gradients(parameters: list[torch.nn.Parameter], group: ProcessGroup) -> None:
    """Sum every parameter's gradient over processes (one flat all-reduce)."""
    if group.world_size == 1:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    offset = 0
    for parameter in parameters:
        parameter.grad = flat[offset : offset + parameter.numel()].view_as(parameter).clone()
        offset += parameter.numel()


def _sum_stats(stats: dict[str, float], keys: list[str], group: ProcessGroup) -> dict[str, float]:
    values = torch.tensor([stats.get(k, 0.0) for k in keys], dtype=torch.float64)
    if group.world_size > 1:
        dist.all_reduce(values)
    return dict(zip(keys, values.tolist()))


def _rng_state(device: torch.device) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _gather(value: Any, group: ProcessGroup) -> list[Any]:
    if group.world_size == 1:
        return [value]
    gathered: list[Any] = [None] * group.world_size
    dist.all_gather_object(gathered, value)
    return gathered


class TrainingLog:
    """One JSON object per line: steps and validations. A resumed run drops the lines written after its checkpoint."""

    def __init__(self, path: Path, resume_step: int, enabled: bool):
        self.path, self.enabled = path, enabled
        if not enabled:
            return
        kept = []
        if resume_step > 0 and path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # torn by a kill
                if entry.get("step", 0) <= resume_step:  # `step` counts the optimiser steps done when it was written
                    kept.append(line)
        atomic_write_text(path, "".join(line + "\n" for line in kept))

    def write(self, entry: dict[str, Any]) -> None:
        """Append one JSON line to the log (only where this process writes the log)."""
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(entry) + "\n")


def _autocast_factory(config: FinetuneConfig, device: torch.device):
    if config.precision == "bf16":
        return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext


def micro_batch_size(config: FinetuneConfig, recipe: Recipe, device: torch.device, share: int) -> int:
    """Samples per forward/backward pass of this process: `config.micro_batch_size` as a number, at most `share`
    (the process's rows of a full batch). "auto" asks `resolve_batch_size` how many images fit a pass, in samples."""
    setting = config.micro_batch_size
    if setting is None:
        return share
    if setting == "auto":
        images = resolve_batch_size("auto", recipe.model, recipe.base.image_size, device, Acceleration(precision=config.precision))
        setting = max(1, images // recipe.images_per_sample)
    if not isinstance(setting, int):
        raise ValueError(f"--micro-batch-size must be a whole number >= 1 or 'auto', got '{setting}'")
    return min(setting, share)


def accumulate_gradients(
    recipe: Recipe, batch: dict[str, Any], rows: list[int], global_size: int, micro: int, seed: int, device: torch.device
) -> dict[str, float]:
    """Backpropagate this process's `rows` of a step in passes of `micro` rows; return the summed statistics.

    Each pass divides its loss sum by the global batch size and gradients accumulate, so the step is the whole
    batch's. Each pass gets the step's generator afresh (seeded by `seed`): a recipe that draws for the whole
    batch and keeps `rows` (the attack's random start) gives every row the draw it gets in one pass.
    """
    tensors = {k: v for k, v in batch.items() if torch.is_tensor(v)}
    stats = {"count": 0.0}
    for first in range(0, len(rows), micro):
        part = slice(first, first + micro)
        chunk = {k: v[part].to(device, non_blocking=True) for k, v in tensors.items()}
        loss_sum, chunk_stats = recipe.batch_loss(chunk, rows[part], global_size, torch.Generator().manual_seed(seed))
        (loss_sum / global_size).backward()
        for key, value in chunk_stats.items():
            stats[key] = stats.get(key, 0.0) + value
    return stats


STATE_KEYS = ("config_hash", "step", "trainable", "optimizer", "scheduler", "rng", "best", "history")


class TrainingStateError(ValueError):
    """`training-state.pt` is not one this trainer wrote (damaged, truncated, or a pickle that would run code)."""


def read_training_state(path: Path, mmap: bool = False) -> dict[str, Any]:
    """The checkpoint `train` writes, read as tensors and plain containers only (`weights_only=True`: no code runs).

    Anything else, a truncated file, a foreign pickle, the wrong keys, is one `TrainingStateError` naming the file.
    """

    def refuse(reason: str) -> TrainingStateError:
        return TrainingStateError(f"{path} is not a perceptbench training state: {reason}; delete it to start over")

    try:
        stored = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError, AttributeError, ImportError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise refuse(f"{type(error).__name__}: {first[:200]}") from None
    if not isinstance(stored, dict):
        raise refuse(f"it holds a {type(stored).__name__}, not the checkpoint's dictionary")
    missing = [key for key in STATE_KEYS if key not in stored]
    if missing:
        raise refuse(f"it lacks {', '.join(missing)}")
    if not isinstance(stored["step"], int) or isinstance(stored["step"], bool) or stored["step"] < 0:
        raise refuse(f"its step is {stored['step']!r}, not a whole number >= 0")
    if not isinstance(stored["config_hash"], str) or not isinstance(stored["rng"], list) or not isinstance(stored["history"], list):
        raise refuse("its config_hash, rng or history has the wrong type")
    return stored


def _existing_run(folder: Path, config_hash: str) -> FinetuneCard | None:
    card_path = folder / CARD_FILE
    if card_path.exists():
        card = read_card(folder)
        if card.config_hash != config_hash:
            raise ValueError(f"'{folder}' already holds a model trained with other settings; choose another --output-dir")
        return card
    state_path = folder / STATE_FILE
    if state_path.exists():
        stored = read_training_state(state_path, mmap=True)
        if stored.get("config_hash") != config_hash:
            raise ValueError(
                f"'{state_path}' is the checkpoint of a run with other settings; re-run that command to finish it, "
                "or choose another --output-dir"
            )
    return None


def train(config: FinetuneConfig) -> TrainingRun:
    """Train (or resume, or find finished) the run `config` describes; returns the folder and the model."""
    config.validate()
    group = current_process_group()
    device = rank_device(config.device, group)
    folder = Path(config.output_dir)
    config_hash = configuration_hash(config.identity())
    done = _existing_run(folder, config_hash)
    if done is not None:
        model = build_trained_folder(folder).to(device).eval()
        return TrainingRun(folder, model, done, done.training.get("steps", 0), done.training.get("steps", 0), None, already_done=True)

    check_base(config.model)
    check_training_data(config.method, config.data_root)
    base = load_base_tower(config.model, pretrained=not config.random_weights, model_kwargs=config.model_kwargs, seed=config.seed)
    autocast = _autocast_factory(config, device)
    recipe = build_recipe(config, base, device, autocast)
    n, batch_size = len(recipe.train_set), config.batch_size
    steps_per_epoch = n // batch_size if config.drop_last else math.ceil(n / batch_size)
    if steps_per_epoch == 0:
        raise ValueError(f"--batch-size {batch_size} exceeds the {n} training samples and incomplete batches are dropped; lower it")
    if batch_size < group.world_size:
        raise ValueError(f"--batch-size {batch_size} is smaller than the {group.world_size} processes; raise it")
    total_steps = config.steps or config.epochs * steps_per_epoch
    micro = micro_batch_size(config, recipe, device, math.ceil(batch_size / group.world_size))
    if config.micro_batch_size is not None:
        recipe.eval_batch_size = micro
    parameters = list(recipe.trainable_parameters().values())
    optimizer = _optimizer(config, parameters)
    factor, warmup = learning_rate_factor(config, total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    torch.manual_seed(_seed_for(config.seed, 2, group.rank))  # the training RNG (dropout), per process

    state_path = folder / STATE_FILE
    start_step, best, history = 0, None, []
    if state_path.exists():
        stored = read_training_state(state_path)
        recipe.load_trainable_state(stored["trainable"])
        optimizer.load_state_dict(stored["optimizer"])
        scheduler.load_state_dict(stored["scheduler"])
        start_step, best, history = stored["step"], stored["best"], stored["history"]
        if len(stored["rng"]) == group.world_size:
            _set_rng_state(stored["rng"][group.rank], device)
    folder.mkdir(parents=True, exist_ok=True)
    log = TrainingLog(folder / LOG_FILE, start_step, enabled=group.is_main)
    if start_step == 0 and group.is_main:
        log.write(
            {
                "event": "start",
                "step": 0,
                "config": config.identity(),
                "total_steps": total_steps,
                "steps_per_epoch": steps_per_epoch,
                "world_size": group.world_size,
                "micro_batch_size": micro,
                "warmup_steps": warmup,
            }
        )

    progress = tqdm(
        total=total_steps,
        initial=start_step,
        desc=f"finetune {config.method}",
        unit="step",
        disable=config.quiet or not group.is_main,
        dynamic_ncols=True,
    )
    step_seconds: list[float] = []
    stat_keys = ["loss", "count", "correct"]
    steps = StepBatches(config.seed, n, batch_size, steps_per_epoch, start_step, total_steps, group)
    # A private generator: the loader's seed draw must not consume the global RNG that dropout uses.
    loader = DataLoader(
        recipe.train_set,
        batch_sampler=steps,
        num_workers=config.workers,
        collate_fn=collate_or_none,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(config.seed),
    )
    started = time.perf_counter()
    for step, batch in zip(range(start_step, total_steps), loader):
        epoch, position = divmod(step, steps_per_epoch)
        global_size, rows = steps.shape(step)
        stats = {"count": 0.0}
        if batch is not None:  # a short last batch can leave a process without samples
            stats = accumulate_gradients(recipe, batch, rows, global_size, micro, _seed_for(config.seed, 3, step), device)
        _sum_gradients(parameters, group)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        totals = _sum_stats(stats, stat_keys, group)
        elapsed = time.perf_counter() - started  # data wait + compute (not the validation or checkpoint before it)
        step_seconds.append(elapsed)
        entry = {
            "event": "step",
            "step": step + 1,
            "epoch": epoch,
            "loss": totals["loss"] / totals["count"],
            "lr": optimizer.param_groups[0]["lr"],
            "images_per_s": totals["count"] / elapsed,
            "step_s": elapsed,
        }
        if config.method != "fare":
            entry["accuracy"] = totals["correct"] / totals["count"]
        log.write(entry)
        progress.set_postfix(loss=f"{entry['loss']:.4f}", img_s=f"{entry['images_per_s']:.1f}", epoch=epoch)
        progress.update(1)

        end_of_epoch = position == steps_per_epoch - 1 or step == total_steps - 1
        if end_of_epoch:
            validation = recipe.validate(group)
            if validation is not None:
                history.append({"epoch": epoch, **validation})
                log.write({"event": "validation", "step": step + 1, "epoch": epoch, **validation})
                if best is None or validation["score"] > best["score"]:
                    best = {"epoch": epoch, "score": validation["score"], "state": recipe.trainable_state()}
        if step + 1 < total_steps and ((step + 1) % config.checkpoint_every == 0 or end_of_epoch):
            rng = _gather(_rng_state(device), group)
            if group.is_main:
                buffer = io.BytesIO()
                torch.save(
                    {
                        "config_hash": config_hash,
                        "step": step + 1,
                        "trainable": recipe.trainable_state(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "rng": rng,
                        "best": best,
                        "history": history,
                    },
                    buffer,
                )
                atomic_write_bytes(state_path, buffer.getvalue())
            barrier(group)
        started = time.perf_counter()
    progress.close()

    if recipe.selects_best and best is not None:
        recipe.load_trainable_state(best["state"])
    card = _finish(
        config, config_hash, recipe, base, folder, group, total_steps, steps_per_epoch, warmup, micro, best, history, step_seconds
    )
    recipe.model.eval()
    return TrainingRun(folder, recipe.model, card, start_step, total_steps, sum(step_seconds) / len(step_seconds) if step_seconds else None)


def _with_micro_batch(hyperparameters: dict[str, Any], micro: int) -> dict[str, Any]:
    """The card's hyper-parameters with the micro-batch this (last) session ran next to the global batch size."""
    placed: dict[str, Any] = {}
    for key, value in hyperparameters.items():
        placed[key] = value
        if key == "batch_size":
            placed["micro_batch_size"] = micro
    return placed


def _micro_batch_source(config: FinetuneConfig) -> str:
    if config.micro_batch_size is None:
        return "the process's whole share of the batch in one pass (default)"
    if config.micro_batch_size == "auto":
        return f"auto: what fits {config.device} (an execution detail: gradients accumulate to the whole batch's)"
    return "set by the user (an execution detail: gradients accumulate to the whole batch's)"


def _finish(
    config,
    config_hash,
    recipe: Recipe,
    base,
    folder: Path,
    group: ProcessGroup,
    total_steps,
    steps_per_epoch,
    warmup,
    micro,
    best,
    history,
    step_seconds,
) -> FinetuneCard:
    """Write the weights and the card (last: its presence marks the folder complete), then drop the checkpoint."""
    card = None
    if group.is_main:
        files = recipe.export(folder)
        checksums = {}
        for relative in files.values():
            path = folder / relative
            for file in sorted(path.rglob("*") if path.is_dir() else [path]):
                if file.is_file():
                    checksums[str(file.relative_to(folder))] = sha256_of(file)
        card = FinetuneCard(
            base_model=config.model,
            architecture=base.architecture,
            reduced=base.reduced,
            base_weights=base.base_weights,
            method=config.method,
            robust_training=recipe.robust_training,
            robust_eps=recipe.robust_eps,
            finetuning=recipe.finetuning,
            files=files,
            sha256=checksums,
            data={**recipe.data_info(), "root": str(config.data_root) if config.data_root else os.environ.get("PERCEPTBENCH_DATA")},
            hyperparameters=_with_micro_batch({**config.hyperparameters(), "warmup_steps": warmup}, micro),
            sources={**default_sources(config), "micro_batch_size": _micro_batch_source(config)},
            training={
                "steps": total_steps,
                "steps_per_epoch": steps_per_epoch,
                "world_size": group.world_size,
                "selected_epoch": best["epoch"] if (recipe.selects_best and best) else None,
                "selected_val_score": best["score"] if (recipe.selects_best and best) else None,
                "validation": history,
                "mean_step_s_last_session": sum(step_seconds) / len(step_seconds) if step_seconds else None,
            },
            command=config.command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
            environment={**environment(config.device), "python_executable": sys.executable, "hostname": platform.node()},
            config_hash=config_hash,
            lora_backbone=base.lora_backbone if config.method == "lora" else None,
            mlp_hidden=getattr(recipe, "hidden", None) if config.method == "mlp" else None,
        )
        atomic_write_text(folder / CARD_FILE, json.dumps(card.to_dict(), indent=2, default=list) + "\n")
        (folder / STATE_FILE).unlink(missing_ok=True)
        with (folder / LOG_FILE).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"event": "done", "step": total_steps, "files": files}) + "\n")
    barrier(group)
    return card if card is not None else read_card(folder)
