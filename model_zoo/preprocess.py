"""Resize and normalise inside the model, differentiably, so attacks act on [0, 1] pixels."""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ResizeNormalize(nn.Module):
    """Resize the shorter side to `image_size`, centre-crop a square, then normalise.

    Matches the resize + centre crop + normalise of open_clip and timm evaluation transforms,
    written on tensors so gradients flow to the input pixels.
    """

    def __init__(
        self,
        image_size: int,
        mean: Sequence[float],
        std: Sequence[float],
        interpolation: str = "bicubic",
    ):
        super().__init__()
        self.image_size = image_size
        self.interpolation = interpolation
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(x.shape)}")
        height, width = x.shape[-2:]
        if (height, width) != (self.image_size, self.image_size):
            scale = self.image_size / min(height, width)
            new_size = (max(self.image_size, round(height * scale)), max(self.image_size, round(width * scale)))
            x = F.interpolate(x, size=new_size, mode=self.interpolation, align_corners=False, antialias=scale < 1)
            top = (new_size[0] - self.image_size) // 2
            left = (new_size[1] - self.image_size) // 2
            x = x[..., top : top + self.image_size, left : left + self.image_size]
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def extra_repr(self) -> str:
        return f"image_size={self.image_size}, interpolation={self.interpolation}"
