"""CLIP-family metrics through open_clip: the image tower only, with its preprocessing inside.

Every factory here is a few lines over `build_open_clip`; the card says where the weights live.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import open_clip
from torch import nn

from .base import EmbeddingModel
from .card import ModelCard, WeightsSource
from .preprocess import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, ResizeNormalize
from .registry import register_model
from .weights import WeightsUnavailableError

FARE_PAPER = "Croce, Schlarmann, Singh, Hein 2025, 'Adversarially Robust CLIP Models Can Induce Better (Robust) Perceptual Metrics'"

# Small configurations of the same families, for tests and smoke runs (`reduced=True`).
_REDUCED_VISION_CFG: dict[str, dict[str, Any]] = {
    "convnext": {"timm_model_name": "convnext_atto", "timm_model_pretrained": False, "timm_pool": "", "timm_proj": "linear", "image_size": 64},
    "vit": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
}
_REDUCED_TEXT_CFG = {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 1}


@dataclass(frozen=True)
class OpenClipSpec:
    """An open_clip architecture, the pretrained tag or `hf-hub:` id to load, and its evaluation size."""

    architecture: str
    pretrained: str
    image_size: int = 224
    mean: tuple[float, float, float] = OPENAI_CLIP_MEAN
    std: tuple[float, float, float] = OPENAI_CLIP_STD

    @property
    def family_kind(self) -> str:
        return "convnext" if "convnext" in self.architecture else "vit"


class OpenClipImageEncoder(nn.Module):
    """The image tower of an open_clip model: pixels (normalised) -> projected embedding."""

    def __init__(self, visual: nn.Module):
        super().__init__()
        self.visual = visual

    def forward(self, x):
        return self.visual(x)


def build_open_clip(spec: OpenClipSpec, pretrained: bool, reduced: bool = False) -> EmbeddingModel:
    """Build the image tower of `spec`; load its weights when `pretrained`."""
    if reduced:
        if pretrained:
            raise ValueError("reduced=True builds a small random-weight configuration; use it with pretrained=False")
        clip = open_clip.create_model(
            spec.architecture,
            pretrained=None,
            embed_dim=32,
            vision_cfg=_REDUCED_VISION_CFG[spec.family_kind],
            text_cfg=_REDUCED_TEXT_CFG,
        )
        image_size = _REDUCED_VISION_CFG[spec.family_kind]["image_size"]
    else:
        name, tag = _split_pretrained(spec)
        try:
            clip = open_clip.create_model(name, pretrained=tag if pretrained else None, force_image_size=spec.image_size)
        except Exception as error:  # open_clip raises many types for a failed download
            if not pretrained:
                raise
            raise WeightsUnavailableError(
                f"could not load weights '{spec.pretrained}' for {spec.architecture}: {error}. "
                "Connect once to the Hugging Face hub (the files are cached under ~/.cache/huggingface), "
                "or build with pretrained=False for a random-weight smoke run."
            ) from error
        image_size = spec.image_size
    return EmbeddingModel(
        encoder=OpenClipImageEncoder(clip.visual),
        preprocess=ResizeNormalize(image_size, spec.mean, spec.std, interpolation="bicubic"),
    )


def _split_pretrained(spec: OpenClipSpec) -> tuple[str, str | None]:
    """`hf-hub:` ids name the architecture themselves; tags go with the architecture name."""
    if spec.pretrained.startswith("hf-hub:"):
        return spec.pretrained, ""
    return spec.architecture, spec.pretrained


def _create(spec: OpenClipSpec, pretrained: bool, reduced: bool) -> EmbeddingModel:
    if spec.pretrained.startswith("hf-hub:") and not pretrained and not reduced:
        # The hub config names the architecture; without weights we build it by name offline.
        spec = OpenClipSpec(spec.architecture, "", spec.image_size, spec.mean, spec.std)
        return build_open_clip(spec, pretrained=False)
    return build_open_clip(spec, pretrained, reduced)


CLIP_CONVNEXT = OpenClipSpec("convnext_base_w", "hf-hub:laion/CLIP-convnext_base_w-laion2B-s13B-b82K-augreg")


@register_model(
    "clip-convnext",
    card=ModelCard(
        name="clip-convnext",
        family="clip",
        backbone="ConvNeXt-B (convnext_base_w)",
        weights=WeightsSource(hub_id=CLIP_CONVNEXT.pretrained),
        license="MIT",
        paper="Cherti et al. 2023, 'Reproducible scaling laws for contrastive language-image learning' (LAION-2B)",
        image_size=224,
    ),
)
def clip_convnext(pretrained: bool = True, reduced: bool = False) -> EmbeddingModel:
    return _create(CLIP_CONVNEXT, pretrained, reduced)
