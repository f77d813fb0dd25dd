"""Sound speed-ups of an evaluation: mixed precision, channels_last, torch.compile, a batch that fits.

Autocast covers the model only in effect: APGD's images, gradients, steps, projections and best-point
tracking stay in fp32 because the attacked images are fp32 tensors and the losses are cast to fp32.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from contextlib import AbstractContextManager as ContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import torch
from torch import nn

from attacks.defaults import BatchSize

if TYPE_CHECKING:
    from model_zoo.base import PerceptualModel

ModuleT = TypeVar("ModuleT", bound=nn.Module)
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
CPU_AUTO_BATCH_SIZE = 16


def check_device(device: str) -> None:
    """Refuse, in one line, a device this machine cannot give (every command that runs a model calls it first)."""
    try:
        torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device '{device}'; use cpu, cuda, cuda:N or mps") from None
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"--device {device} asked for, but CUDA is not available here; use --device cpu")


@dataclass(frozen=True)
class Acceleration:
    """How a run is sped up without changing its results: autocast precision, memory format, compilation."""

    precision: str = "fp32"
    channels_last: bool = False
    compile_model: bool = False

    def validate(self, device: str) -> None:
        """Refuse a combination the device cannot run, with the fix in the message."""
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision '{self.precision}'; choose one of {', '.join(PRECISIONS)}")
        if self.precision == "fp16" and not device.startswith("cuda"):
            raise ValueError("--precision fp16 needs a GPU (--device cuda); on CPU use --precision bf16 or fp32")

    def prepare(self, model: ModuleT) -> ModuleT:
        """channels_last weights for convolutions; a compiled encoder where there is one."""
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if self.compile_model:
            encoder = getattr(model, "encoder", None)
            if not isinstance(encoder, nn.Module):
                raise ValueError(f"--compile needs a model with an encoder; {type(model).__name__} has none")
            model.encoder = torch.compile(encoder, dynamic=True)  # type: ignore[assignment]  # a compiled module stands in for it
        return model

    def autocast(self, device: torch.device | str) -> ContextManager:
        """The autocast context of the model's forward passes (a no-op at fp32)."""
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(device).type, dtype=dtype)


def largest_fitting_batch(fits: Callable[[int], bool], start: int = 8, limit: int = 4096) -> int:
    """The largest power-of-two batch (from `start`, up to `limit`) for which `fits(batch)` holds.

    `fits` runs one forward+backward pass and returns False on out-of-memory. Raises when not even
    one sample fits.
    """
    batch, best = start, 0
    while batch <= limit and fits(batch):
        best, batch = batch, batch * 2
    if best == 0:
        batch = start // 2
        while batch >= 1 and not fits(batch):
            batch //= 2
        best = max(batch, 0)
    if best == 0:
        raise ValueError("not even a batch of 1 fits in GPU memory; use a smaller model or --image-size")
    return best


def auto_batch_size(model: PerceptualModel, image_size: int, device: torch.device | str, headroom: float = 0.5) -> int:
    """A batch size that fits GPU memory: the largest that survives an attack step, times `headroom`.

    The attack keeps several image-sized tensors per sample besides the activations, hence the
    headroom. On CPU there is no memory wall to find; the answer is a modest fixed batch.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return CPU_AUTO_BATCH_SIZE

    def fits(batch: int) -> bool:
        try:
            x = torch.rand(batch, 3, image_size, image_size, device=device, requires_grad=True)
            torch.autograd.grad(model.features(x).float().sum(), x)
            return True
        except torch.cuda.OutOfMemoryError:
            return False
        finally:
            torch.cuda.empty_cache()

    return max(1, int(largest_fitting_batch(fits) * headroom))


def resolve_batch_size(
    batch_size: BatchSize, model: PerceptualModel, image_size: int, device: torch.device | str, acceleration: Acceleration | None = None
) -> int:
    """`--batch-size` as a number, before any batch is cut: itself, or for 'auto' the largest that fits (autocast as the run will be).

    Every command that takes `--batch-size` (evaluate, sweep, submit, verify, perf, invert, finetune) resolves it here.
    """
    if batch_size != "auto":
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"--batch-size must be a whole number >= 1 or 'auto', got '{batch_size}'")
        return batch_size
    with (acceleration or Acceleration()).autocast(device):
        return auto_batch_size(model, image_size, device)
