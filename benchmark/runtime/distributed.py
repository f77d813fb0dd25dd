"""Sharding an evaluation across processes started by torchrun (NCCL on GPUs, gloo on CPU).

Ranks take whole batches in turn (batch b goes to rank b % world_size), so every batch is the same
as in a single-process run and the gathered outcomes give exactly the single-process result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class ProcessGroup:
    """This process's place among the torchrun ranks; the defaults describe a single-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0, the one that writes result files and prints."""
        return self.rank == 0

    def owns(self, batch_index: int) -> bool:
        """Whether this rank evaluates batch `batch_index` (batches are dealt round-robin)."""
        return batch_index % self.world_size == self.rank


def launched_by_torchrun() -> bool:
    """Whether torchrun started several processes (WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_distributed(device: str) -> ProcessGroup:
    """Join the process group torchrun describes in the environment; a clear error without torchrun."""
    missing = [name for name in TORCHRUN_VARIABLES if name not in os.environ]
    if missing:
        raise ValueError(
            f"--distributed needs the variables torchrun sets ({', '.join(missing)} missing); "
            "launch with: torchrun --nproc_per_node N -m benchmark.cli evaluate ..."
        )
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group(backend=backend)
    return current_process_group()


def current_process_group() -> ProcessGroup:
    """The running process group, or a single process when none was started."""
    if not (dist.is_available() and dist.is_initialized()):
        return ProcessGroup()
    return ProcessGroup(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank())))


def rank_device(device: str, group: ProcessGroup) -> torch.device:
    """Each rank uses its own GPU (`cuda` -> `cuda:LOCAL_RANK`); CPU ranks share the CPU."""
    resolved = torch.device(device)
    if resolved.type == "cuda" and resolved.index is None and group.world_size > 1:
        return torch.device("cuda", group.local_rank)
    return resolved


def gather_batches(batches: dict[int, Any], group: ProcessGroup) -> dict[int, Any]:
    """Union of every rank's finished batches (by batch index), on every rank."""
    if group.world_size == 1:
        return dict(batches)
    gathered: list[dict[int, Any] | None] = [None] * group.world_size
    dist.all_gather_object(gathered, batches)
    merged: dict[int, Any] = {}
    for part in gathered:
        merged.update(part or {})
    return merged


def barrier(group: ProcessGroup) -> None:
    """Wait for every rank (a no-op in a single process)."""
    if group.world_size > 1:
        dist.barrier()


def agree_on_minimum(value: int, group: ProcessGroup) -> int:
    """The smallest of the ranks' values (e.g. batch sizes), so every rank cuts the same batches."""
    if group.world_size == 1:
        return value
    values: list[int | None] = [None] * group.world_size
    dist.all_gather_object(values, value)
    return min(int(v) for v in values if v is not None)
