"""CLIP's zero-shot classifier: one unit vector per class from prompt templates, logits from cosines.

As in CLIP: each class's prompts ("a photo of a {}.", ...) are embedded and normalised, averaged,
and the mean renormalised; an image's logits are `logit_scale * <image embedding, class vector>`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import PerceptualModel
from .text_tower import ClipTextTower

# CLIP's learned temperature saturates at 100; TeCoA trains and the paper evaluates with it.
CLIP_LOGIT_SCALE = 100.0


@torch.no_grad()
def zero_shot_class_vectors(text_tower: ClipTextTower, classnames: Sequence[str], templates: Sequence[str]) -> Tensor:
    """Class vectors (C, D): per class, the mean of its normalised template embeddings, renormalised."""
    if not classnames or not templates:
        raise ValueError(f"zero_shot_class_vectors needs class names and templates, got {len(classnames)} and {len(templates)}")
    bad = [t for t in templates if "{}" not in t]
    if bad:
        raise ValueError(f"template {bad[0]!r} has no '{{}}' for the class name, e.g. 'a photo of a {{}}.'")
    prompts = [template.format(name) for name in classnames for template in templates]
    embeddings = text_tower.encode_text(prompts).view(len(classnames), len(templates), -1)
    return F.normalize(embeddings.mean(dim=1), dim=-1)


class ZeroShotClassifier(nn.Module):
    """Images in [0, 1] -> class logits (B, C) of an embedding metric and fixed class vectors."""

    class_vectors: Tensor

    def __init__(self, model: PerceptualModel, class_vectors: Tensor, logit_scale: float = CLIP_LOGIT_SCALE):
        super().__init__()
        if not model.has_embedding:
            raise ValueError(f"zero-shot classification needs an embedding metric; '{model.card.name}' is pairwise")
        self.model = model
        self.register_buffer("class_vectors", class_vectors.float())
        self.logit_scale = logit_scale

    def forward(self, x: Tensor) -> Tensor:
        """Class logits (B, C): logit_scale times the cosine to each class vector."""
        image = F.normalize(self.model.embed(x).float(), dim=-1)
        if image.shape[-1] != self.class_vectors.shape[-1]:
            raise ValueError(
                f"image embeddings have {image.shape[-1]} dimensions but the class vectors {self.class_vectors.shape[-1]}; "
                "build both from the same model (and both reduced or both full size)"
            )
        return self.logit_scale * image @ self.class_vectors.T
