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
from .citations import SSIM_PAPER
from .registry import register_model


def gaussian_kernel_1d(size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float32) -> Tensor:
    """A normalised 1-D Gaussian window (SSIM's is 11 taps, sigma 1.5), applied separably."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    kernel = torch.exp(-(coords**2) / (2 * sigma**2))
    return (kernel / kernel.sum()).to(dtype)


def ssim(x: Tensor, y: Tensor, window_size: int = 11, sigma: float = 1.5, k1: float = 0.01, k2: float = 0.03) -> Tensor:
    """Mean SSIM per image pair, shape (B,), for images in [0, 1] of shape (B, C, H, W)."""
    if x.shape != y.shape:
        raise ValueError(f"SSIM needs images of the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if min(x.shape[-2:]) < window_size:
        raise ValueError(f"SSIM needs images of at least {window_size}x{window_size} pixels, got {tuple(x.shape[-2:])}")
    # The five local statistics in one separable (rows, then columns) grouped convolution.
    stacked = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    groups = stacked.shape[1]
    kernel = gaussian_kernel_1d(window_size, sigma, x.dtype).to(x.device)
    blurred = F.conv2d(stacked, kernel.view(1, 1, 1, -1).expand(groups, 1, 1, window_size), groups=groups)
    blurred = F.conv2d(blurred, kernel.view(1, 1, -1, 1).expand(groups, 1, window_size, 1), groups=groups)
    mu_x, mu_y, mean_xx, mean_yy, mean_xy = blurred.chunk(5, dim=1)

    c1, c2 = k1**2, k2**2
    var_x = mean_xx - mu_x**2
    var_y = mean_yy - mu_y**2
    cov_xy = mean_xy - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return ssim_map.flatten(1).mean(dim=1)


class SSIM(PairwiseModel):
    """SSIM at the input resolution; similarity in [-1, 1]."""

    sim_range = (-1.0, 1.0)

    def pairwise_sim(self, x: Tensor, y: Tensor) -> Tensor:
        """Mean SSIM (B,) of image pairs in [0, 1]."""
        return ssim(x, y)


@register_model(
    "ssim",
    card=ModelCard(
        name="ssim",
        family="classical",
        backbone="SSIM (Gaussian 11x11, sigma 1.5)",
        license="n/a",
        paper=SSIM_PAPER,
    ),
)
def ssim_metric(pretrained: bool = True) -> SSIM:
    """SSIM; `pretrained` is accepted for the registry's interface (there is nothing to load)."""
    return SSIM()
