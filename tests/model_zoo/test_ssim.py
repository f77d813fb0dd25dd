import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from model_zoo.ssim import ssim


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ssim_matches_scikit_image(seed):
    rng = np.random.default_rng(seed)
    a = rng.random((40, 48, 3))
    b = np.clip(a + rng.normal(0, 0.1 * (seed + 1), a.shape), 0, 1)
    expected = structural_similarity(a, b, channel_axis=2, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
    ours = ssim(torch.from_numpy(a).permute(2, 0, 1)[None], torch.from_numpy(b).permute(2, 0, 1)[None])
    assert ours.item() == pytest.approx(expected, abs=1e-6)


def test_ssim_is_one_for_identical_images_and_rejects_tiny_ones():
    x = torch.rand(2, 3, 16, 16)
    assert torch.allclose(ssim(x, x), torch.ones(2))
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8))
