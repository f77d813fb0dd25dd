"""CLIP-family metrics through open_clip: the image tower only, with its preprocessing inside.

Four architectures (one decorated factory each over `build_open_clip`) and their weight sets as data
in `CLIP_WEIGHTS`: CLIP, FARE and TeCoA weights of the same tower are three rows of one table.
Weights come through `model_zoo.download` from the Hugging Face hub repositories that open_clip
itself uses; a checkpoint may hold the whole CLIP model (`visual.*` keys) or the image tower only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import open_clip
from open_clip.model import _build_vision_tower
from torch import Tensor, nn

from .base import EmbeddingModel
from .card import ModelCard, WeightsSource
from .citations import FARE_PAPER, LAION_PAPER, OPENAI_PAPER, ROBUST_CLIP_PAPER
from .download import fetch_first_available, load_checkpoint, strip_prefix
from .preprocess import OPEN_CLIP_CONVNEXT, OPEN_CLIP_VIT, ImagePreprocess, Preprocessing
from .registry import register_architecture

# Hub repositories publish one of these (open_clip tries them in this order too).
OPEN_CLIP_WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")

# Small configurations of the same families, for tests and smoke runs (`reduced=True`).
_REDUCED_VISION_CFG: dict[str, dict[str, Any]] = {
    "convnext": {
        "timm_model_name": "convnext_atto",
        "timm_model_pretrained": False,
        "timm_pool": "",
        "timm_proj": "linear",
        "image_size": 64,
    },
    "vit": {"image_size": 64, "layers": 2, "width": 64, "head_width": 32, "patch_size": 16},
}
REDUCED_EMBED_DIM = 32


@dataclass(frozen=True)
class OpenClipSpec:
    """An open_clip architecture, the hub repository of its weights, and its evaluation preprocessing."""

    architecture: str
    hub_id: str
    preprocessing: Preprocessing = OPEN_CLIP_VIT

    @property
    def image_size(self) -> int:
        """The side of the square the tower sees (after resize and crop)."""
        return self.preprocessing.input_size[0]

    @property
    def family_kind(self) -> str:
        """convnext | vit: which reduced configuration stands in for the tower."""
        return "convnext" if "convnext" in self.architecture else "vit"

    @property
    def weights(self) -> WeightsSource:
        """Where the downloader finds the checkpoint."""
        return WeightsSource(hub_id=self.hub_id, filename=OPEN_CLIP_WEIGHT_FILES[0])


class OpenClipImageEncoder(nn.Module):
    """The image tower of an open_clip model: pixels (normalised) -> projected embedding."""

    def __init__(self, visual: nn.Module):
        super().__init__()
        self.visual = visual

    def forward(self, x: Tensor) -> Tensor:
        """Projected image embedding of normalised pixels."""
        return self.visual(x)


def build_open_clip_visual(spec: OpenClipSpec, reduced: bool = False) -> tuple[nn.Module, int]:
    """The image tower of `spec` with random weights, and the image size it runs at."""
    config = open_clip.get_model_config(spec.architecture)
    if config is None:
        raise ValueError(f"open_clip has no architecture '{spec.architecture}'; see open_clip.list_models()")
    if reduced:
        vision_cfg = dict(_REDUCED_VISION_CFG[spec.family_kind])
        embed_dim = REDUCED_EMBED_DIM
    else:
        vision_cfg = dict(config["vision_cfg"], image_size=spec.image_size)
        embed_dim = config["embed_dim"]
    visual = _build_vision_tower(embed_dim, vision_cfg, quick_gelu=config.get("quick_gelu", False))
    return visual, vision_cfg["image_size"]


def open_clip_state_dict(path: Path) -> dict:
    """The tensors of an open_clip checkpoint, unwrapped from a training `state_dict` and DDP's `module.`."""
    state_dict = load_checkpoint(path)
    if "state_dict" in state_dict and isinstance(state_dict["state_dict"], dict):
        state_dict = state_dict["state_dict"]
    if any(key.startswith("module.") for key in state_dict):
        state_dict = strip_prefix(state_dict, "module.")
    return state_dict


def load_open_clip_visual_weights(visual: nn.Module, path: Path) -> None:
    """Load an open_clip checkpoint (whole model with `visual.*` keys, or the tower alone) into `visual`."""
    state_dict = open_clip_state_dict(path)
    tower = strip_prefix(state_dict, "visual.") or state_dict
    missing, unexpected = visual.load_state_dict(tower, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"'{path.name}' is not an open_clip checkpoint of this architecture: "
            f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )


def build_open_clip(spec: OpenClipSpec, pretrained: bool, reduced: bool = False, what: str = "") -> EmbeddingModel:
    """Build the image tower of `spec`, loading its weights through the downloader when `pretrained`."""
    # The weights first: offline, a missing file fails in a moment instead of after building the tower.
    path = fetch_first_available(spec.weights, OPEN_CLIP_WEIGHT_FILES, what=what or spec.architecture) if pretrained else None
    visual, image_size = build_open_clip_visual(spec, reduced)
    if path is not None:
        load_open_clip_visual_weights(visual, path)
    return EmbeddingModel(
        encoder=OpenClipImageEncoder(visual),
        preprocess=ImagePreprocess(spec.preprocessing.at_input_size(image_size)),
    )


@dataclass(frozen=True)
class ClipArchitecture:
    """An open_clip image tower as the zoo names it: open_clip's architecture, the card's backbone, its size."""

    open_clip_name: str  # open_clip.list_models() name
    backbone: str  # as cards and tables print it
    parameters: int  # image tower, measured on the random-weight build
    preprocessing: Preprocessing = OPEN_CLIP_VIT


CLIP_ARCHITECTURES: dict[str, ClipArchitecture] = {
    "vit-b32": ClipArchitecture("ViT-B-32", "ViT-B/32", 87_849_216),
    "vit-b16": ClipArchitecture("ViT-B-16", "ViT-B/16", 86_192_640),
    # ConvNeXt-B was trained at 256 px; the paper evaluates it at 224 after open_clip's Resize(256).
    "convnext": ClipArchitecture("convnext_base_w", "ConvNeXt-B (convnext_base_w)", 88_221_824, OPEN_CLIP_CONVNEXT),
    "vit-l14": ClipArchitecture("ViT-L-14-quickgelu", "ViT-L/14", 303_966_208),
}


@dataclass(frozen=True)
class ClipWeights:
    """One published weight set of a CLIP architecture: the hub repository, its citation, its robust training."""

    architecture: str  # key of CLIP_ARCHITECTURES
    hub_id: str
    paper: str
    robust_training: str = "none"  # none | FARE | TeCoA
    robust_eps: str | None = None
    notes: str = ""
    license: str = "MIT"

    @property
    def spec(self) -> OpenClipSpec:
        """What loading needs: open_clip's architecture, the hub repository, the preprocessing."""
        architecture = CLIP_ARCHITECTURES[self.architecture]
        return OpenClipSpec(architecture.open_clip_name, self.hub_id, architecture.preprocessing)

    def card(self, name: str) -> ModelCard:
        """The model card of this weight set, registered as `name`."""
        architecture = CLIP_ARCHITECTURES[self.architecture]
        return ModelCard(
            name=name,
            family="clip" if self.robust_training == "none" else "robust-clip",
            backbone=architecture.backbone,
            robust_training=self.robust_training,
            robust_eps=self.robust_eps,
            weights=self.spec.weights,
            license=self.license,
            paper=self.paper,
            image_size=self.spec.image_size,
            preprocessing=architecture.preprocessing.to_dict(),
            parameters=architecture.parameters,
            notes=self.notes,
        )


_ROBUST_NOTE = "ImageNet adversarial fine-tuning of the image tower (Linf); the hub repository is the authors' open_clip checkpoint"

# Every CLIP-family weight set: model name -> weights. Four architectures, three kinds of weights
# (CLIP, FARE, TeCoA): FARE and TeCoA fine-tuned the image tower only (Linf, eps 4/255 unless said).
CLIP_WEIGHTS: dict[str, ClipWeights] = {
    "clip-vit-b32": ClipWeights("vit-b32", "hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", LAION_PAPER),
    "clip-vit-b16": ClipWeights("vit-b16", "hf-hub:laion/CLIP-ViT-B-16-laion2B-s34B-b88K", LAION_PAPER),
    "clip-convnext": ClipWeights("convnext", "hf-hub:laion/CLIP-convnext_base_w-laion2B-s13B-b82K-augreg", LAION_PAPER),
    "clip-vit-l14": ClipWeights(
        "vit-l14", "hf-hub:timm/vit_large_patch14_clip_224.openai", OPENAI_PAPER, notes="OpenAI CLIP weights, as open_clip's 'openai' tag"
    ),
    "r-clip-f-vit-b32": ClipWeights("vit-b32", "hf-hub:chs20/FARE4-ViT-B-32-laion2B-s34B-b79K", FARE_PAPER, "FARE", "4/255", _ROBUST_NOTE),
    "r-clip-t-vit-b32": ClipWeights(
        "vit-b32", "hf-hub:chs20/TeCoA4-ViT-B-32-laion2B-s34B-b79K", FARE_PAPER, "TeCoA", "4/255", _ROBUST_NOTE
    ),
    "r-clip-f-vit-b16": ClipWeights("vit-b16", "hf-hub:chs20/FARE4-ViT-B-16-laion2B-s34B-b88K", FARE_PAPER, "FARE", "4/255", _ROBUST_NOTE),
    "r-clip-t-vit-b16": ClipWeights(
        "vit-b16", "hf-hub:chs20/TeCoA4-ViT-B-16-laion2B-s34B-b88K", FARE_PAPER, "TeCoA", "4/255", _ROBUST_NOTE
    ),
    "r-clip-f-convnext": ClipWeights(
        "convnext", "hf-hub:chs20/FARE4-convnext_base_w-laion2B-s13B-b82K-augreg", FARE_PAPER, "FARE", "4/255", _ROBUST_NOTE
    ),
    "r-clip-t-convnext": ClipWeights(
        "convnext", "hf-hub:chs20/TeCoA4-convnext_base_w-laion2B-s13B-b82K-augreg", FARE_PAPER, "TeCoA", "4/255", _ROBUST_NOTE
    ),
    "r-clip-f-vit-l14": ClipWeights("vit-l14", "hf-hub:chs20/fare4-clip", ROBUST_CLIP_PAPER, "FARE", "4/255", _ROBUST_NOTE),
    "r-clip-t-vit-l14": ClipWeights("vit-l14", "hf-hub:chs20/tecoa4-clip", ROBUST_CLIP_PAPER, "TeCoA", "4/255", _ROBUST_NOTE),
    "r-clip-f-vit-l14-eps2": ClipWeights("vit-l14", "hf-hub:chs20/fare2-clip", ROBUST_CLIP_PAPER, "FARE", "2/255", _ROBUST_NOTE),
    "r-clip-t-vit-l14-eps2": ClipWeights("vit-l14", "hf-hub:chs20/tecoa2-clip", ROBUST_CLIP_PAPER, "TeCoA", "2/255", _ROBUST_NOTE),
}

# Registered name -> architecture and weights, for code that rebuilds a tower by name (`bench finetune`).
OPEN_CLIP_SPECS: dict[str, OpenClipSpec] = {name: weights.spec for name, weights in CLIP_WEIGHTS.items()}
CLIP_VIT_B32 = OPEN_CLIP_SPECS["clip-vit-b32"]
CLIP_VIT_B16 = OPEN_CLIP_SPECS["clip-vit-b16"]
CLIP_CONVNEXT = OPEN_CLIP_SPECS["clip-convnext"]
CLIP_VIT_L14 = OPEN_CLIP_SPECS["clip-vit-l14"]


def clip_weight_sets(architecture: str) -> dict[str, ModelCard]:
    """The cards of every CLIP weight set of `architecture` (a key of CLIP_ARCHITECTURES), by model name."""
    return {name: weights.card(name) for name, weights in CLIP_WEIGHTS.items() if weights.architecture == architecture}


@register_architecture(clip_weight_sets("vit-b32"))
def clip_vit_b32(pretrained: bool = True, reduced: bool = False, weights: str = "clip-vit-b32") -> EmbeddingModel:
    """ViT-B/32 image tower with CLIP (LAION-2B), FARE or TeCoA weights."""
    return build_open_clip(OPEN_CLIP_SPECS[weights], pretrained, reduced, what=weights)


@register_architecture(clip_weight_sets("vit-b16"))
def clip_vit_b16(pretrained: bool = True, reduced: bool = False, weights: str = "clip-vit-b16") -> EmbeddingModel:
    """ViT-B/16 image tower with CLIP (LAION-2B), FARE or TeCoA weights."""
    return build_open_clip(OPEN_CLIP_SPECS[weights], pretrained, reduced, what=weights)


@register_architecture(clip_weight_sets("convnext"))
def clip_convnext(pretrained: bool = True, reduced: bool = False, weights: str = "clip-convnext") -> EmbeddingModel:
    """ConvNeXt-B (convnext_base_w) image tower with CLIP (LAION-2B), FARE or TeCoA weights."""
    return build_open_clip(OPEN_CLIP_SPECS[weights], pretrained, reduced, what=weights)


@register_architecture(clip_weight_sets("vit-l14"))
def clip_vit_l14(pretrained: bool = True, reduced: bool = False, weights: str = "clip-vit-l14") -> EmbeddingModel:
    """ViT-L/14 image tower with OpenAI CLIP, FARE or TeCoA weights (eps 4/255 or 2/255)."""
    return build_open_clip(OPEN_CLIP_SPECS[weights], pretrained, reduced, what=weights)
