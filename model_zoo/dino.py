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

import timm
from timm.models.vision_transformer import checkpoint_filter_fn
from torch import nn

from .base import EmbeddingModel
from .card import ModelCard, WeightsSource
from .clip import FARE_PAPER
from .download import fetch_weights, load_checkpoint
from .preprocess import IMAGENET_MEAN, IMAGENET_STD, ImagePreprocess, dreamsim_style
from .registry import register_model
from .vit_layout import class_token_before_final_norm

DINO_PAPER = "Caron et al. 2021, 'Emerging Properties in Self-Supervised Vision Transformers'"
DINOV2_PAPER = "Oquab et al. 2024, 'DINOv2: Learning Robust Visual Features without Supervision'"
NOT_PUBLISHED = "weights not published"
DINO_PREPROCESSING = dreamsim_style(IMAGENET_MEAN, IMAGENET_STD)


class LastBlockClassToken(nn.Module):
    """A timm ViT read out as DreamSim reads DINO: the class token before the final LayerNorm."""

    def __init__(self, vit: nn.Module):
        super().__init__()
        self.vit = vit

    def forward(self, x):
        return class_token_before_final_norm(self.vit, x)


@dataclass(frozen=True)
class TimmVitSpec:
    architecture: str  # timm model name without the pretrained tag
    weights: WeightsSource
    patch_size: int
    image_size: int = 224


def build_timm_vit(spec: TimmVitSpec, pretrained: bool, reduced: bool = False, what: str = "") -> EmbeddingModel:
    """A timm ViT read out at its last block's class token, with ImageNet normalisation inside."""
    if reduced and pretrained:
        raise ValueError("reduced=True builds a small random-weight configuration; use it with pretrained=False")
    # DINOv2's layer scale starts at 1e-5, which makes a random-weight build ignore its input.
    random_init = {} if pretrained or "dinov2" not in spec.architecture else {"init_values": 1.0}
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
    if pretrained:
        load_timm_vit_weights(vit, fetch_weights(spec.weights, what=what))
    return EmbeddingModel(LastBlockClassToken(vit), ImagePreprocess(DINO_PREPROCESSING.at_input_size(image_size)))


def load_timm_vit_weights(vit: nn.Module, path: Path) -> None:
    """Load a timm-format ViT checkpoint, resampling the position embedding to this image size."""
    state_dict = checkpoint_filter_fn(load_checkpoint(path), vit)
    state_dict = {k: v for k, v in state_dict.items() if not k.startswith("head.")}
    missing, unexpected = vit.load_state_dict(state_dict, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"'{path.name}' does not fit {type(vit).__name__}: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )


def _register(name: str, spec: TimmVitSpec, backbone: str, paper: str, parameters: int, robust: str = "none", notes: str = "") -> None:
    card = ModelCard(
        name=name,
        family="dino" if robust == "none" else "robust-dino",
        backbone=backbone,
        robust_training=robust,
        robust_eps="4/255" if robust != "none" else None,
        weights=spec.weights,
        license="Apache-2.0",
        paper=paper,
        image_size=spec.image_size,
        preprocessing=DINO_PREPROCESSING.to_dict(),
        parameters=parameters,
        notes=(
            "embedding: the last block's class token before the final LayerNorm, as DreamSim reads DINO (paper App. A-A)"
            + (f"; {notes}" if notes else "")
        ),
    )

    @register_model(name, card=card)
    def factory(pretrained: bool = True, reduced: bool = False) -> EmbeddingModel:
        return build_timm_vit(spec, pretrained, reduced, what=name)

    factory.__name__ = name.replace("-", "_")


# Parameter counts measured on the random-weight builds at 224 px.
_VIT_B16_PARAMS, _VIT_B14_PARAMS = 85_798_656, 85_724_928

DINO_VIT_B16 = TimmVitSpec(
    "vit_base_patch16_224", WeightsSource(hub_id="hf-hub:timm/vit_base_patch16_224.dino", filename="model.safetensors"), 16
)
DINOV2_VIT_B14 = TimmVitSpec(
    "vit_base_patch14_dinov2", WeightsSource(hub_id="hf-hub:timm/vit_base_patch14_dinov2.lvd142m", filename="model.safetensors"), 14
)
R_DINO_VIT_B16 = TimmVitSpec("vit_base_patch16_224", WeightsSource(filename="r-dino-f-vit-b16.safetensors", note=NOT_PUBLISHED), 16)
R_DINOV2_VIT_B14 = TimmVitSpec("vit_base_patch14_dinov2", WeightsSource(filename="r-dinov2-f-vit-b14.safetensors", note=NOT_PUBLISHED), 14)

_register("dino-vit-b16", DINO_VIT_B16, "ViT-B/16", DINO_PAPER, _VIT_B16_PARAMS)
_register(
    "dinov2-vit-b14",
    DINOV2_VIT_B14,
    "ViT-B/14",
    DINOV2_PAPER,
    _VIT_B14_PARAMS,
    notes="trained at 518 px; evaluated at 224 px with the position embedding resampled",
)
_register(
    "r-dino-f-vit-b16",
    R_DINO_VIT_B16,
    "ViT-B/16",
    FARE_PAPER,
    _VIT_B16_PARAMS,
    robust="FARE",
    notes="FARE-trained DINO evaluated in the paper; weights not published, architecture registered for random-weight runs (a timm-format file placed in the cache loads)",
)
_register(
    "r-dinov2-f-vit-b14",
    R_DINOV2_VIT_B14,
    "ViT-B/14",
    FARE_PAPER,
    _VIT_B14_PARAMS,
    robust="FARE",
    notes="FARE-trained DINOv2 evaluated in the paper; weights not published, architecture registered for random-weight runs (a timm-format file placed in the cache loads)",
)
