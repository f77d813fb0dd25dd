"""Similarities between query images and a fixed set of images (a retrieval pool or database).

The fixed set is encoded once with `model.features`: unit-norm embeddings for embedding metrics,
the images themselves for pairwise metrics (which then compare each query to every image).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from attacks.defaults import BATCH_SIZE
from model_zoo.base import PerceptualModel


@torch.no_grad()
def encode_images(
    model: PerceptualModel, load: Callable[[int], Tensor], count: int, device: torch.device | str, batch_size: int = BATCH_SIZE
) -> Tensor:
    """`model.features` of images 0..count-1 (read with `load`), in batches, stacked on `device`."""
    chunks = []
    for start in range(0, count, batch_size):
        images = torch.stack([load(i) for i in range(start, min(start + batch_size, count))]).to(device)
        chunks.append(model.features(images))
    return torch.cat(chunks)


def similarity_to_set(model: PerceptualModel, x: Tensor, encoded: Tensor, chunk: int = 64) -> Tensor:
    """(B, N) similarities of each image in `x` to the N encoded images; differentiable in `x`."""
    if model.has_embedding:
        return model.features(x) @ encoded.T
    columns = []
    for start in range(0, encoded.shape[0], chunk):
        block = encoded[start : start + chunk]
        candidates: Sequence[Tensor] = [image.expand(x.shape[0], *image.shape) for image in block]
        columns.append(model.compare(x, candidates))
    return torch.cat(columns, dim=1)
