"""DINO and DINOv2 ViTs through timm: the class token of the last block is the embedding.

The paper (App. A-A): "Similar to [DreamSim], we use the final class token embedding as the output
feature for all transformer-based models". DreamSim's DINO feature is the class token as the last
block outputs it, before the final LayerNorm (its `_extract_cls` hooks block 11), so zero-shot DINO
here takes the same token as `dreamsim-dino-vit-b16` does; images are stretched to 224x224 as in
DreamSim's evaluation.

Weights are timm's hub copies of the official releases (`timm/<model>.<tag>`, `model.safetensors`).
DINOv2 was trained at 518 px; at 224 px its position embedding is resampled on load (timm's filter).
The robust DINO variants of the paper (FARE on DINO) have no published weights: their cards say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import timm
from timm.models.vision_transformer import VisionTransformer, checkpoint_filter_fn
from torch import nn

from .base import EmbeddingModel
from .card import ModelCard, WeightsSource
from .citations import DINO_PAPER, DINOV2_PAPER, FARE_PAPER
from .download import fetch_weights, load_checkpoint
from .preprocess import IMAGENET_MEAN, IMAGENET_STD, ImagePreprocess, dreamsim_style
from .registry import register_architecture
from .vit_layout import class_token_before_final_norm

NOT_PUBLISHED = "weights not published"
DINO_PREPROCESSING = dreamsim_style(IMAGENET_MEAN, IMAGENET_STD)


class LastBlockClassToken(nn.Module):
    """A timm ViT read out as DreamSim reads DINO: the class token before the final LayerNorm."""

    def __init__(self, vit: VisionTransformer):
        super().__init__()
        self.vit = vit

    def forward(self, x):
        """The class token of the last block, before the final LayerNorm."""
        return class_token_before_final_norm(self.vit, x)


@dataclass(frozen=True)
class TimmVitSpec:
    """A timm ViT architecture as the zoo runs it: timm's name, patch size, the card's backbone, its size."""

    architecture: str  # timm model name without the pretrained tag
    patch_size: int
    backbone: str
    parameters: int  # measured on the random-weight build at 224 px
    image_size: int = 224


def build_timm_vit(
    spec: TimmVitSpec, pretrained: bool, reduced: bool = False, weights: WeightsSource | None = None, what: str = ""
) -> EmbeddingModel:
    """A timm ViT read out at its last block's class token, with ImageNet normalisation inside."""
    # DINOv2's layer scale starts at 1e-5, which makes a random-weight build ignore its input.
    random_init: dict[str, Any] = {} if pretrained or "dinov2" not in spec.architecture else {"init_values": 1.0}
    if pretrained and weights is None:
        raise ValueError(f"pretrained {spec.architecture} needs `weights` (a WeightsSource) to load")
    path = fetch_weights(weights, what=what) if pretrained and weights is not None else None  # before building: offline fails fast
    if reduced:
        image_size = spec.patch_size * 4
        vit = timm.create_model(
            spec.architecture,
            pretrained=False,
            num_classes=0,
            global_pool="token",
            img_size=image_size,
            embed_dim=64,
            depth=2,
            num_heads=2,
            **random_init,
        )
    else:
        image_size = spec.image_size
        vit = timm.create_model(spec.architecture, pretrained=False, num_classes=0, global_pool="token", img_size=image_size, **random_init)
    if path is not None:
        load_timm_vit_weights(vit, path)
    # timm.create_model is typed nn.Module; every TimmVitSpec architecture is a timm VisionTransformer.
    return EmbeddingModel(LastBlockClassToken(cast(VisionTransformer, vit)), ImagePreprocess(DINO_PREPROCESSING.at_input_size(image_size)))


def load_timm_vit_weights(vit: nn.Module, path: Path) -> None:
    """Load a timm-format ViT checkpoint, resampling the position embedding to this image size."""
    state_dict = checkpoint_filter_fn(load_checkpoint(path), cast(VisionTransformer, vit))
    state_dict = {k: v for k, v in state_dict.items() if not k.startswith("head.")}
    missing, unexpected = vit.load_state_dict(state_dict, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"'{path.name}' does not fit {type(vit).__name__}: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )


DINO_ARCHITECTURES: dict[str, TimmVitSpec] = {
    "vit-b16": TimmVitSpec("vit_base_patch16_224", 16, "ViT-B/16", 85_798_656),
    "vit-b14": TimmVitSpec("vit_base_patch14_dinov2", 14, "ViT-B/14", 85_724_928),
}
DINO_VIT_B16 = DINO_ARCHITECTURES["vit-b16"]
DINOV2_VIT_B14 = DINO_ARCHITECTURES["vit-b14"]


@dataclass(frozen=True)
class DinoWeights:
    """One weight set of a DINO-family ViT: where the file is, its citation, its robust training."""

    architecture: str  # key of DINO_ARCHITECTURES
    weights: WeightsSource
    paper: str
    robust_training: str = "none"  # none | FARE
    notes: str = ""
    license: str = "Apache-2.0"

    def card(self, name: str) -> ModelCard:
        """The model card of this weight set, registered as `name`."""
        spec = DINO_ARCHITECTURES[self.architecture]
        robust = self.robust_training != "none"
        return ModelCard(
            name=name,
            family="robust-dino" if robust else "dino",
            backbone=spec.backbone,
            robust_training=self.robust_training,
            robust_eps="4/255" if robust else None,
            weights=self.weights,
            license=self.license,
            paper=self.paper,
            image_size=spec.image_size,
            preprocessing=DINO_PREPROCESSING.to_dict(),
            parameters=spec.parameters,
            notes=(
                "embedding: the last block's class token before the final LayerNorm, as DreamSim reads DINO (paper App. A-A)"
                + (f"; {self.notes}" if self.notes else "")
            ),
        )


_UNPUBLISHED_NOTE = "weights not published, architecture registered for random-weight runs (a timm-format file placed in the cache loads)"

# Every DINO-family weight set: model name -> weights (timm's hub copies of the official releases).
DINO_WEIGHTS: dict[str, DinoWeights] = {
    "dino-vit-b16": DinoWeights(
        "vit-b16", WeightsSource(hub_id="hf-hub:timm/vit_base_patch16_224.dino", filename="model.safetensors"), DINO_PAPER
    ),
    "dinov2-vit-b14": DinoWeights(
        "vit-b14",
        WeightsSource(hub_id="hf-hub:timm/vit_base_patch14_dinov2.lvd142m", filename="model.safetensors"),
        DINOV2_PAPER,
        notes="trained at 518 px; evaluated at 224 px with the position embedding resampled",
    ),
    "r-dino-f-vit-b16": DinoWeights(
        "vit-b16",
        WeightsSource(filename="r-dino-f-vit-b16.safetensors", note=NOT_PUBLISHED),
        FARE_PAPER,
        "FARE",
        notes="FARE-trained DINO evaluated in the paper; " + _UNPUBLISHED_NOTE,
    ),
    "r-dinov2-f-vit-b14": DinoWeights(
        "vit-b14",
        WeightsSource(filename="r-dinov2-f-vit-b14.safetensors", note=NOT_PUBLISHED),
        FARE_PAPER,
        "FARE",
        notes="FARE-trained DINOv2 evaluated in the paper; " + _UNPUBLISHED_NOTE,
    ),
}


def dino_weight_sets(architecture: str) -> dict[str, ModelCard]:
    """The cards of every weight set of `architecture` (a key of DINO_ARCHITECTURES), by model name."""
    return {name: weights.card(name) for name, weights in DINO_WEIGHTS.items() if weights.architecture == architecture}


@register_architecture(dino_weight_sets("vit-b16"))
def dino_vit_b16(pretrained: bool = True, reduced: bool = False, weights: str = "dino-vit-b16") -> EmbeddingModel:
    """DINO ViT-B/16 (official or FARE-trained weights), read out at the last block's class token."""
    return build_timm_vit(DINO_VIT_B16, pretrained, reduced, DINO_WEIGHTS[weights].weights, what=weights)


@register_architecture(dino_weight_sets("vit-b14"))
def dinov2_vit_b14(pretrained: bool = True, reduced: bool = False, weights: str = "dinov2-vit-b14") -> EmbeddingModel:
    """DINOv2 ViT-B/14 (official or FARE-trained weights), read out at the last block's class token."""
    return build_timm_vit(DINOV2_VIT_B14, pretrained, reduced, DINO_WEIGHTS[weights].weights, what=weights)
