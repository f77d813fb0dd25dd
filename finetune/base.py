"""The image tower a run starts from: a registered open_clip model, or the folder of an earlier run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from model_zoo.clip import OPEN_CLIP_SPECS, OPEN_CLIP_WEIGHT_FILES, build_open_clip_visual, load_open_clip_visual_weights
from model_zoo.download import fetch_first_available
from model_zoo.registry import get_model_card
from model_zoo.trained_folder import is_trained_folder, read_card, verify_folder


@dataclass
class BaseTower:
    """An open_clip image tower to fine-tune, with what the output card must say about where it came from."""

    model: str  # what the user named: a registered name or a folder
    architecture: str  # the registered open_clip model whose architecture (and text tower) the tower has
    reduced: bool
    base_weights: str  # pretrained | random
    visual: nn.Module
    image_size: int
    robust_training: str
    robust_eps: str | None
    published: bool  # the tower holds exactly the published weights of `architecture` (no need to save it)

    @property
    def lora_backbone(self) -> str:
        """Where a NIGHTS adapter goes: the MLP fc layers of ConvNeXt, or qkv of ViT-B/16 (the paper's two layouts)."""
        spec = OPEN_CLIP_SPECS[self.architecture]
        if spec.family_kind == "convnext":
            return "convnext"
        if spec.architecture == "ViT-B-16":
            return "vit-b16"
        raise ValueError(
            f"LoRA fine-tuning supports ConvNeXt (LoRA on the MLP fc layers) and ViT-B/16 (qkv) towers, as the paper's "
            f"released adapters; '{self.architecture}' is {spec.architecture}: use --method mlp"
        )


def _open_clip_names() -> list[str]:
    get_model_card("clip-convnext")  # imports the built-in families
    return sorted(OPEN_CLIP_SPECS)


def check_base(name: str) -> None:
    """Refuse a base that `bench finetune` cannot train, before any data is read or weights are built."""
    if is_trained_folder(name):
        folder_card = read_card(name)
        if folder_card.method in ("lora", "mlp"):
            raise ValueError(
                f"'{name}' is a NIGHTS fine-tune ({folder_card.finetuning}); train from the tower it started from, '{folder_card.base_model}'"
            )
        return
    names = _open_clip_names()
    card = get_model_card(name)  # unknown names fail here, with suggestions
    if name not in OPEN_CLIP_SPECS:
        raise ValueError(
            f"`bench finetune` trains open_clip image towers; '{name}' is a {card.family} model. "
            f"Choose one of {', '.join(names)}, or the folder of an earlier `bench finetune fare|tecoa` run"
        )


def load_base_tower(name: str, pretrained: bool = True, model_kwargs: dict[str, Any] | None = None, seed: int = 0) -> BaseTower:
    """Build the tower of `name` (seeded, so a random-weight tower is the same in every process and re-run)."""
    model_kwargs = dict(model_kwargs or {})
    torch.manual_seed(seed)
    if is_trained_folder(name):
        check_base(name)
        folder = Path(name)
        card = read_card(folder)
        verify_folder(folder, card)
        _open_clip_names()
        spec = OPEN_CLIP_SPECS[card.architecture]
        visual, image_size = build_open_clip_visual(spec, card.reduced)
        load_open_clip_visual_weights(visual, folder / card.files["visual"])
        return BaseTower(
            name,
            card.architecture,
            card.reduced,
            card.base_weights,
            visual,
            image_size,
            card.robust_training,
            card.robust_eps,
            published=False,
        )
    check_base(name)
    model_card = get_model_card(name)
    unknown = sorted(set(model_kwargs) - {"reduced"})
    if unknown:
        raise ValueError(f"--model-kwarg {', '.join(unknown)} is not accepted here (only reduced=true, for smoke runs)")
    reduced = bool(model_kwargs.get("reduced", False))
    if reduced and pretrained:
        raise ValueError("reduced=true builds a small random-weight tower; add --random-weights")
    spec = OPEN_CLIP_SPECS[name]
    visual, image_size = build_open_clip_visual(spec, reduced)
    if pretrained:
        load_open_clip_visual_weights(visual, fetch_first_available(spec.weights, OPEN_CLIP_WEIGHT_FILES, what=name))
    return BaseTower(
        name,
        name,
        reduced,
        "pretrained" if pretrained else "random",
        visual,
        image_size,
        model_card.robust_training,
        model_card.robust_eps,
        published=pretrained,
    )
