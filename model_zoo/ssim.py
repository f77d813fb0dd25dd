"""SSIM (Wang et al. 2004) as a differentiable metric on tensors.

Gaussian window (sigma 1.5, 11 taps), constants K1=0.01, K2=0.03 for data range 1, statistics over
the valid region and averaged over RGB channels: the same definition as scikit-image's
`structural_similarity(..., gaussian_weights=True, use_sample_covariance=False, data_range=1)`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .base import PairwiseModel
from .card import ModelCard
from .registry import register_model


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float32) -> Tensor:
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    kernel_1d = torch.exp(-(coords**2) / (2 * sigma**2))
    kernel_1d = kernel_1d / kernel_1d.sum()
    return (kernel_1d[:, None] * kernel_1d[None, :]).to(dtype)


def ssim(x: Tensor, y: Tensor, window_size: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """Mean SSIM per image pair, shape (B,), for images in [0, 1] of shape (B, C, H, W)."""
    if x.shape != y.shape:
        raise ValueError(f"SSIM needs images of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if min(x.shape[-2:]) < window_size:
        raise ValueError(f"SSIM needs images of at least {window_size}x{window_size} pixels, got {tuple(x.shape[-2:])}")
    channels = x.shape[1]
    window = gaussian_window(window_size, sigma, x.dtype).to(x.device).expand(channels, 1, window_size, window_size)

    def blur(image: Tensor) -> Tensor:
        return F.conv2d(image, window, groups=channels)

    c1, c2 = k1**2, k2**2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov_xy = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(dim=1)


class SSIM(PairwiseModel):
    """SSIM at the input resolution; similarity in [-1, 1]."""

    def pairwise_sim(self, x: Tensor, y: Tensor) -> Tensor:
        return ssim(x, y)


@register_model(
    "ssim",
    card=ModelCard(
        name="ssim",
        family="classical",
        backbone="SSIM (Gaussian 11x11, sigma 1.5)",
        has_embedding=False,
        license="n/a",
        paper="Wang, Bovik, Sheikh, Simoncelli 2004, 'Image quality assessment: from error visibility to structural similarity'",
    ),
)
def ssim_metric(pretrained: bool = True) -> SSIM:
    return SSIM()
