"""CLIP-family metrics through open_clip: the image tower only, with its preprocessing inside.

Every factory here is a few lines over `build_open_clip`; the card says where the weights live.
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
from .download import fetch_first_available, load_checkpoint, strip_prefix
from .preprocess import OPEN_CLIP_CONVNEXT, OPEN_CLIP_VIT, ImagePreprocess, Preprocessing
from .registry import register_model

FARE_PAPER = "Croce, Schlarmann, Singh, Hein 2025, 'Adversarially Robust CLIP Models Can Induce Better (Robust) Perceptual Metrics'"
ROBUST_CLIP_PAPER = "Schlarmann, Singh, Croce, Hein 2024, 'Robust CLIP: Unsupervised Adversarial Fine-Tuning of Vision Embeddings for Robust Large Vision-Language Models'"
LAION_PAPER = "Cherti et al. 2023, 'Reproducible scaling laws for contrastive language-image learning' (LAION-2B)"
OPENAI_PAPER = "Radford et al. 2021, 'Learning Transferable Visual Models From Natural Language Supervision'"

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

# Registered name -> architecture and weights, for code that rebuilds a tower by name (`bench finetune`).
OPEN_CLIP_SPECS: dict[str, OpenClipSpec] = {}


@dataclass(frozen=True)
class OpenClipSpec:
    """An open_clip architecture, the hub repository of its weights, and its evaluation preprocessing."""

    architecture: str
    hub_id: str
    preprocessing: Preprocessing = OPEN_CLIP_VIT

    @property
    def image_size(self) -> int:
        return self.preprocessing.input_size[0]

    @property
    def family_kind(self) -> str:
        return "convnext" if "convnext" in self.architecture else "vit"

    @property
    def weights(self) -> WeightsSource:
        return WeightsSource(hub_id=self.hub_id, filename=OPEN_CLIP_WEIGHT_FILES[0])


class OpenClipImageEncoder(nn.Module):
    """The image tower of an open_clip model: pixels (normalised) -> projected embedding."""

    def __init__(self, visual: nn.Module):
        super().__init__()
        self.visual = visual

    def forward(self, x: Tensor) -> Tensor:
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
    if reduced and pretrained:
        raise ValueError("reduced=True builds a small random-weight configuration; use it with pretrained=False")
    visual, image_size = build_open_clip_visual(spec, reduced)
    if pretrained:
        path = fetch_first_available(spec.weights, OPEN_CLIP_WEIGHT_FILES, what=what or spec.architecture)
        load_open_clip_visual_weights(visual, path)
    return EmbeddingModel(
        encoder=OpenClipImageEncoder(visual),
        preprocess=ImagePreprocess(spec.preprocessing.at_input_size(image_size)),
    )


def _clip_card(
    name: str, spec: OpenClipSpec, backbone: str, parameters: int, robust: str = "none", eps: str | None = None, **extra
) -> ModelCard:
    if robust == "none":
        paper = OPENAI_PAPER if "openai" in spec.hub_id else LAION_PAPER
    else:
        paper = FARE_PAPER if "laion2B" in spec.hub_id else ROBUST_CLIP_PAPER
    return ModelCard(
        name=name,
        family="clip" if robust == "none" else "robust-clip",
        backbone=backbone,
        robust_training=robust,
        robust_eps=eps,
        weights=spec.weights,
        license="MIT",
        paper=paper,
        image_size=spec.image_size,
        preprocessing=spec.preprocessing.to_dict(),
        parameters=parameters,
        **extra,
    )


def _register_clip(
    name: str, spec: OpenClipSpec, backbone: str, parameters: int, robust: str = "none", eps: str | None = None, notes: str = ""
):
    card = _clip_card(name, spec, backbone, parameters, robust, eps, notes=notes)
    OPEN_CLIP_SPECS[name] = spec

    @register_model(name, card=card)
    def factory(pretrained: bool = True, reduced: bool = False) -> EmbeddingModel:
        return build_open_clip(spec, pretrained, reduced, what=name)

    factory.__name__ = name.replace("-", "_")
    factory.__doc__ = f"{backbone}, {robust} training: {spec.hub_id}"
    return factory


# Image-tower parameter counts, measured on the random-weight builds of these architectures.
_VIT_B32, _VIT_B16, _CONVNEXT, _VIT_L14 = 87_849_216, 86_192_640, 88_221_824, 303_966_208

CLIP_VIT_B32 = OpenClipSpec("ViT-B-32", "hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K")
CLIP_VIT_B16 = OpenClipSpec("ViT-B-16", "hf-hub:laion/CLIP-ViT-B-16-laion2B-s34B-b88K")
# ConvNeXt-B was trained at 256 px; the paper evaluates it at 224 after open_clip's Resize(256).
CLIP_CONVNEXT = OpenClipSpec("convnext_base_w", "hf-hub:laion/CLIP-convnext_base_w-laion2B-s13B-b82K-augreg", OPEN_CLIP_CONVNEXT)
CLIP_VIT_L14 = OpenClipSpec("ViT-L-14-quickgelu", "hf-hub:timm/vit_large_patch14_clip_224.openai")

ROBUST_SPECS = {
    ("f", "vit-b32"): OpenClipSpec("ViT-B-32", "hf-hub:chs20/FARE4-ViT-B-32-laion2B-s34B-b79K"),
    ("t", "vit-b32"): OpenClipSpec("ViT-B-32", "hf-hub:chs20/TeCoA4-ViT-B-32-laion2B-s34B-b79K"),
    ("f", "vit-b16"): OpenClipSpec("ViT-B-16", "hf-hub:chs20/FARE4-ViT-B-16-laion2B-s34B-b88K"),
    ("t", "vit-b16"): OpenClipSpec("ViT-B-16", "hf-hub:chs20/TeCoA4-ViT-B-16-laion2B-s34B-b88K"),
    ("f", "convnext"): OpenClipSpec("convnext_base_w", "hf-hub:chs20/FARE4-convnext_base_w-laion2B-s13B-b82K-augreg", OPEN_CLIP_CONVNEXT),
    ("t", "convnext"): OpenClipSpec("convnext_base_w", "hf-hub:chs20/TeCoA4-convnext_base_w-laion2B-s13B-b82K-augreg", OPEN_CLIP_CONVNEXT),
    ("f", "vit-l14"): OpenClipSpec("ViT-L-14-quickgelu", "hf-hub:chs20/fare4-clip"),
    ("t", "vit-l14"): OpenClipSpec("ViT-L-14-quickgelu", "hf-hub:chs20/tecoa4-clip"),
    ("f", "vit-l14-eps2"): OpenClipSpec("ViT-L-14-quickgelu", "hf-hub:chs20/fare2-clip"),
    ("t", "vit-l14-eps2"): OpenClipSpec("ViT-L-14-quickgelu", "hf-hub:chs20/tecoa2-clip"),
}
_BACKBONES = {
    "vit-b32": ("ViT-B/32", _VIT_B32),
    "vit-b16": ("ViT-B/16", _VIT_B16),
    "convnext": ("ConvNeXt-B (convnext_base_w)", _CONVNEXT),
    "vit-l14": ("ViT-L/14", _VIT_L14),
    "vit-l14-eps2": ("ViT-L/14", _VIT_L14),
}
_METHODS = {"f": "FARE", "t": "TeCoA"}


def backbone_parameters(short: str) -> int:
    """Image-tower parameter count of a backbone by its short name ('convnext', 'vit-b16', ...)."""
    return _BACKBONES[short][1]


clip_vit_b32 = _register_clip("clip-vit-b32", CLIP_VIT_B32, "ViT-B/32", _VIT_B32)
clip_vit_b16 = _register_clip("clip-vit-b16", CLIP_VIT_B16, "ViT-B/16", _VIT_B16)
clip_convnext = _register_clip("clip-convnext", CLIP_CONVNEXT, "ConvNeXt-B (convnext_base_w)", _CONVNEXT)
clip_vit_l14 = _register_clip("clip-vit-l14", CLIP_VIT_L14, "ViT-L/14", _VIT_L14, notes="OpenAI CLIP weights, as open_clip's 'openai' tag")

for (_method, _short), _spec in ROBUST_SPECS.items():
    _backbone, _params = _BACKBONES[_short]
    _eps = "2/255" if _short.endswith("eps2") else "4/255"
    _register_clip(
        f"r-clip-{_method}-{_short}",
        _spec,
        _backbone,
        _params,
        robust=_METHODS[_method],
        eps=_eps,
        notes="ImageNet adversarial fine-tuning of the image tower (Linf); the hub repository is the authors' open_clip checkpoint",
    )
