"""Sound speed-ups of an evaluation: mixed precision, channels_last and torch.compile.

Autocast covers the model only in effect: APGD's images, gradients, steps, projections and best-point
tracking stay in fp32 because the attacked images are fp32 tensors and the losses are cast to fp32.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import ContextManager

import torch
from torch import nn

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass(frozen=True)
class Acceleration:
    precision: str = "fp32"
    channels_last: bool = False
    compile_model: bool = False

    def validate(self, device: str) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown precision '{self.precision}'; choose one of {', '.join(PRECISIONS)}")
        if self.precision == "fp16" and not device.startswith("cuda"):
            raise ValueError("--precision fp16 needs a GPU (--device cuda); on CPU use --precision bf16 or fp32")

    def prepare(self, model: nn.Module) -> nn.Module:
        """channels_last weights for convolutions; a compiled encoder where there is one."""
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if self.compile_model:
            target = "encoder" if isinstance(getattr(model, "encoder", None), nn.Module) else None
            if target is None:
                raise ValueError(f"--compile needs a model with an encoder; {type(model).__name__} has none")
            model.encoder = torch.compile(model.encoder, dynamic=True)
        return model

    def autocast(self, device: torch.device | str) -> ContextManager:
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(device).type, dtype=dtype)
