"""LAION's CLIP-based NSFW detector (github LAION-AI/CLIP-based-NSFW-Detector, MIT): paper Table IV.

A small classifier on the L2-normalised image embedding of OpenAI CLIP ViT-L/14. LAION trained it
with AutoKeras and later published a PyTorch conversion of the same head,
`models/clip_ViT-L-14_openai_binary_nsfw_head.pth`: a state dict with `norm.mean` and
`norm.variance` (768; the Keras Normalization layer), `linear_1` 768->64, `linear_2` 64->512,
`linear_3` 512->256, `linear_4` 256->1; ReLU between, a sigmoid at the end giving P(NSFW).
The original Keras release is `clip_autokeras_binary_nsfw.zip` (a TensorFlow SavedModel) at the
repository root.

As a zoo model it is the CLIP ViT-L/14 metric (cosine of embeddings) with the head attached:
`nsfw_probability(x)` is the detector, `embed` is what the paper's grey-box attack (Eq. 5) sees.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import EmbeddingModel
from .card import ModelCard, WeightsSource
from .citations import LAION_NSFW_PAPER, LAION_NSFW_REPOSITORY
from .clip import CLIP_VIT_L14, REDUCED_EMBED_DIM, build_open_clip
from .download import fetch_weights, load_checkpoint
from .registry import register_model

LAION_NSFW_HEAD = WeightsSource(
    url="https://raw.githubusercontent.com/LAION-AI/CLIP-based-NSFW-Detector/main/models/clip_ViT-L-14_openai_binary_nsfw_head.pth",
    filename="clip_ViT-L-14_openai_binary_nsfw_head.pth",
    note="LAION's PyTorch conversion of its AutoKeras head; sha256 not published upstream. The original Keras "
    "release clip_autokeras_binary_nsfw.zip (1,094,585 bytes) has sha256 "
    "905520bb0336accc73ee282c605d926aef90cf14248889d44b9cee50eef71f8a (read from the repository at commit d6bb8fe)",
)
HEAD_WIDTHS = (64, 512, 256)
NSFW_THRESHOLD = 0.5  # P(NSFW) above which an image is called unsafe


class LaionNSFWHead(nn.Module):
    """Standardise each coordinate of the unit embedding, then an MLP to one logit; P(NSFW) = sigmoid."""

    mean: Tensor
    variance: Tensor

    def __init__(self, in_features: int = 768, widths: tuple[int, ...] = HEAD_WIDTHS):
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_features))
        self.register_buffer("variance", torch.ones(in_features))
        sizes = (in_features, *widths, 1)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def logit(self, unit_embedding: Tensor) -> Tensor:
        """The NSFW logit (B,) of unit-norm CLIP embeddings."""
        x = (unit_embedding - self.mean) / (self.variance.sqrt() + 1e-10)
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)[:, 0]

    def forward(self, unit_embedding: Tensor) -> Tensor:
        """P(NSFW) (B,) of unit-norm CLIP embeddings."""
        return torch.sigmoid(self.logit(unit_embedding))


def load_laion_head(head: LaionNSFWHead, path: Path) -> None:
    """Read LAION's `..._binary_nsfw_head.pth` (keys norm.*, linear_1..4) into `head`."""
    state_dict = load_checkpoint(path)
    mapped = {"mean": state_dict.get("norm.mean"), "variance": state_dict.get("norm.variance")}
    for i in range(len(head.layers)):
        for part in ("weight", "bias"):
            mapped[f"layers.{i}.{part}"] = state_dict.get(f"linear_{i + 1}.{part}")
    missing = sorted(k for k, v in mapped.items() if v is None)
    if missing or len(state_dict) != len(mapped):
        raise ValueError(
            f"'{path.name}' is not LAION's NSFW head for ViT-L/14 (expected keys norm.mean, norm.variance, linear_1..4.weight/bias); "
            f"got {sorted(state_dict)[:8]}"
        )
    head.load_state_dict(mapped)


class LaionNSFWDetector(EmbeddingModel):
    """CLIP ViT-L/14 as a metric, plus LAION's head: `nsfw_probability(x)` in [0, 1], `is_unsafe(x)`."""

    def __init__(self, clip: EmbeddingModel, head: LaionNSFWHead):
        super().__init__(encoder=clip.encoder, preprocess=clip.preprocess)
        self.head = head

    def nsfw_probability(self, x: Tensor) -> Tensor:
        """P(NSFW) (B,) of images in [0, 1]: the detector the paper attacks."""
        return self.head(F.normalize(self.embed(x).float(), dim=-1))

    def is_unsafe(self, x: Tensor) -> Tensor:
        """Whether P(NSFW) exceeds the detector's threshold (0.5)."""
        return self.nsfw_probability(x) > NSFW_THRESHOLD


_CARD = ModelCard(
    name="laion-nsfw-detector",
    family="nsfw-detector",
    backbone="ViT-L/14 (OpenAI CLIP) + LAION NSFW MLP head",
    weights=LAION_NSFW_HEAD,
    license="MIT",
    paper=LAION_NSFW_PAPER,
    image_size=224,
    parameters=303_966_208 + 768 * 64 + 64 + 64 * 512 + 512 + 512 * 256 + 256 + 256 + 1,
    notes="sim is the CLIP ViT-L/14 cosine; the detector is nsfw_probability(x) > 0.5. Image tower weights: " + CLIP_VIT_L14.hub_id,
    extra={"backbone_weights": CLIP_VIT_L14.hub_id, "head_repository": LAION_NSFW_REPOSITORY},
)


@register_model("laion-nsfw-detector", card=_CARD)
def laion_nsfw_detector(pretrained: bool = True, reduced: bool = False) -> LaionNSFWDetector:
    """LAION's NSFW detector: OpenAI CLIP ViT-L/14 image tower and the published PyTorch head."""
    clip = build_open_clip(CLIP_VIT_L14, pretrained, reduced, what="laion-nsfw-detector (image tower)")
    head = LaionNSFWHead(REDUCED_EMBED_DIM if reduced else 768, (16, 32, 16) if reduced else HEAD_WIDTHS)
    if pretrained:
        load_laion_head(head, fetch_weights(LAION_NSFW_HEAD, what="the LAION NSFW head"))
    return LaionNSFWDetector(clip, head)
