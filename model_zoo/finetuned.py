"""Robust CLIP fine-tuned on NIGHTS: `+mlp` (residual MLP head) and `+lora` (LoRA adapters).

The paper's released checkpoints (github fra31/perceptual-metrics, hosted on the University of
Tübingen cloud) are an MLP head `mlp-<backbone>-<method>-eps4.pt` with keys under
`perceptual_model.mlp.` (fc1/fc2; in/hidden 640/512 for ConvNeXt-B, 512/512 for ViT-B/16), and
a LoRA folder `lora-<backbone>-<method>` (peft; r=16, alpha=0.5): on the MLP layers (fc1/fc2) of
ConvNeXt-B, on `qkv` of ViT-B/16 converted to the DINO layout. The backbone is the robust CLIP
model of the same name without the suffix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import EmbeddingModel
from .card import ModelCard, WeightsSource
from .citations import FARE_PAPER
from .clip import (
    CLIP_ARCHITECTURES,
    CLIP_WEIGHTS,
    OPEN_CLIP_SPECS,
    OPEN_CLIP_WEIGHT_FILES,
    REDUCED_EMBED_DIM,
    OpenClipImageEncoder,
    OpenClipSpec,
    build_open_clip_visual,
)
from .download import fetch_first_available, fetch_folder, fetch_weights, load_checkpoint, strip_prefix
from .lora import LoraHost, add_untrained_lora, find_adapter_folder, load_lora_adapter
from .preprocess import NIGHTS_FINETUNED_CLIP, ImagePreprocess
from .registry import register_architecture
from .vit_layout import ProjectedViT, dino_layout_vit, load_dino_layout_state_dict, open_clip_visual_to_dino_layout

MLP_HIDDEN = 512
TUEBINGEN_SHARE = "https://nc.mlcloud.uni-tuebingen.de/index.php/s/{token}/download"
NO_SHA256_NOTE = "sha256 not published upstream (card field left None)"


class ResidualMLP(nn.Module):
    """DreamSim's head: x + fc2(relu(fc1(x))), trained on NIGHTS on top of the frozen embedding."""

    def __init__(self, in_features: int, hidden: int = MLP_HIDDEN):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.fc2 = nn.Linear(hidden, in_features)

    def forward(self, x: Tensor) -> Tensor:
        """x + fc2(relu(fc1(x)))."""
        return x + self.fc2(F.relu(self.fc1(x)))


class HeadedEncoder(nn.Module):
    """An encoder followed by a head on its embedding."""

    def __init__(self, encoder: nn.Module, head: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
        """The head applied to the encoder's embedding."""
        return self.head(self.encoder(x))


def load_mlp_head(head: ResidualMLP, path: Path) -> None:
    """Load an MLP head saved by the paper's code (a Lightning checkpoint or a bare state dict)."""
    state_dict = load_checkpoint(path)
    if isinstance(state_dict.get("state_dict"), dict):
        state_dict = state_dict["state_dict"]
    for prefix in ("perceptual_model.mlp.", "mlp.", ""):
        head_keys = strip_prefix(state_dict, prefix)
        if {"fc1.weight", "fc2.weight"} <= head_keys.keys():
            head_keys = {k: v for k, v in head_keys.items() if k.split(".")[0] in ("fc1", "fc2")}
            head.load_state_dict(head_keys)
            return
    raise ValueError(f"'{path.name}' has no MLP head (expected keys 'perceptual_model.mlp.fc1.weight', ...); got {sorted(state_dict)[:5]}")


@dataclass(frozen=True)
class FinetunedSpec:
    """One released NIGHTS fine-tune: the robust CLIP it starts from, its head, and the paper's file."""

    backbone_weights: str  # the CLIP_WEIGHTS name of the backbone, e.g. "r-clip-f-convnext"
    head: str  # "mlp" | "lora"
    share_token: str  # of the University of Tübingen cloud share
    filename: str
    license: str = "MIT"
    paper: str = FARE_PAPER

    @property
    def backbone(self) -> str:
        """The backbone architecture: "convnext" | "vit-b16" (a key of CLIP_ARCHITECTURES)."""
        return CLIP_WEIGHTS[self.backbone_weights].architecture

    @property
    def backbone_spec(self) -> OpenClipSpec:
        """The open_clip tower and hub weights the head sits on."""
        return OPEN_CLIP_SPECS[self.backbone_weights]

    @property
    def weights(self) -> WeightsSource:
        """Where the head (or adapter folder) is downloaded from."""
        return WeightsSource(url=TUEBINGEN_SHARE.format(token=self.share_token), filename=self.filename, note=NO_SHA256_NOTE)

    @property
    def parameters(self) -> int:
        """Backbone parameters plus the MLP head's (LoRA is merged into the backbone)."""
        dim = visual_output_dim(self.backbone)
        head = 2 * dim * MLP_HIDDEN + MLP_HIDDEN + dim if self.head == "mlp" else 0
        return CLIP_ARCHITECTURES[self.backbone].parameters + head

    def card(self, name: str) -> ModelCard:
        """The model card of this fine-tune, registered as `name`."""
        backbone = CLIP_WEIGHTS[self.backbone_weights]
        head_note = (
            "MLP head x + fc2(relu(fc1(x))) on the image embedding"
            if self.head == "mlp"
            else "LoRA r=16, alpha=0.5 merged into the backbone; adapter keys assumed relative to the image tower ('model.' host), as in the paper's utils_lora.py"
        )
        return ModelCard(
            name=name,
            family="robust-clip-nights",
            backbone=CLIP_ARCHITECTURES[self.backbone].backbone,
            robust_training=backbone.robust_training,
            robust_eps=backbone.robust_eps,
            finetuning="NIGHTS-MLP" if self.head == "mlp" else "NIGHTS-LoRA",
            weights=self.weights,
            license=self.license,
            paper=self.paper,
            image_size=224,
            preprocessing=NIGHTS_FINETUNED_CLIP.to_dict(),
            parameters=self.parameters,
            notes=f"backbone weights: {self.backbone_spec.hub_id}; head: {self.weights.url} ({NO_SHA256_NOTE}); {head_note}",
        )


def clip_preprocess(image_size: int) -> ImagePreprocess:
    """The preprocessing of NIGHTS-fine-tuned CLIP models (+mlp, +lora, and `bench finetune nights` folders)."""
    return ImagePreprocess(NIGHTS_FINETUNED_CLIP.at_input_size(image_size))


def _load_backbone(visual: nn.Module, spec: FinetunedSpec, what: str) -> None:
    from .clip import load_open_clip_visual_weights

    path = fetch_first_available(spec.backbone_spec.weights, OPEN_CLIP_WEIGHT_FILES, what=what)
    load_open_clip_visual_weights(visual, path)


def build_mlp_model(spec: FinetunedSpec, pretrained: bool, reduced: bool, what: str) -> EmbeddingModel:
    """The robust backbone with the paper's residual MLP head (random weights unless `pretrained`)."""
    visual, image_size = build_open_clip_visual(spec.backbone_spec, reduced)
    if pretrained:
        _load_backbone(visual, spec, what)
    embed_dim = REDUCED_EMBED_DIM if reduced else visual_output_dim(spec.backbone)
    head_path = fetch_weights(spec.weights, what=what) if pretrained else None
    return attach_mlp_head(visual, image_size, embed_dim, REDUCED_EMBED_DIM if reduced else MLP_HIDDEN, head_path)


def attach_mlp_head(visual: nn.Module, image_size: int, embed_dim: int, hidden: int, head_path: Path | None = None) -> EmbeddingModel:
    """An open_clip image tower with DreamSim's residual MLP head (random, or loaded from `head_path`)."""
    head = ResidualMLP(embed_dim, hidden)
    if head_path is not None:
        load_mlp_head(head, head_path)
    return EmbeddingModel(HeadedEncoder(OpenClipImageEncoder(visual), head), clip_preprocess(image_size))


def visual_output_dim(backbone: str) -> int:
    """Width of the image embedding of a full-size backbone ("convnext" | "vit-b16"): what the MLP head takes."""
    return 640 if backbone == "convnext" else 512


def build_lora_model(spec: FinetunedSpec, pretrained: bool, reduced: bool, what: str, adapter_folder: Path | None = None) -> EmbeddingModel:
    """The backbone with the LoRA adapter merged; `adapter_folder` overrides the download (tests, local files)."""
    visual, image_size = build_open_clip_visual(spec.backbone_spec, reduced)
    if pretrained:
        _load_backbone(visual, spec, what)
    if pretrained and adapter_folder is None:
        adapter_folder = find_adapter_folder(fetch_folder(spec.weights, what=what))
    return attach_lora(visual, image_size, spec.backbone, reduced, adapter_folder)


def attach_lora(visual: nn.Module, image_size: int, backbone: str, reduced: bool, adapter_folder: Path | None = None) -> EmbeddingModel:
    """An open_clip image tower with a LoRA adapter merged in: the one in `adapter_folder`, else an untrained one."""
    target, projected = _lora_target(visual, backbone, reduced)
    host = LoraHost(target)
    if adapter_folder is not None:
        merged = load_lora_adapter(host, adapter_folder)
    else:
        merged = add_untrained_lora(host, lora_target_modules(host, backbone))
    if projected is None:
        return EmbeddingModel(merged, clip_preprocess(image_size))
    projected.model = cast(LoraHost, merged).model  # peft's merge_and_unload returns the host it wrapped
    return EmbeddingModel(projected, clip_preprocess(image_size))


def trainable_lora(
    visual: nn.Module, image_size: int, backbone: str, reduced: bool, rank: int, alpha: float, dropout: float
) -> tuple[EmbeddingModel, nn.Module]:
    """The same model as `attach_lora` with fresh, unmerged adapters to train, and the peft model that holds them.

    `peft_model.save_pretrained(folder)` writes the adapter folder `attach_lora` loads: its keys are
    `base_model.model.model.<layer>.lora_{A,B}.weight`, as in the paper's and DreamSim's releases.
    """
    from peft import LoraConfig, get_peft_model

    target, projected = _lora_target(visual, backbone, reduced)
    host = LoraHost(target)
    # peft annotates lora_alpha as int but takes any scale; the paper's adapters use 0.5.
    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,  # type: ignore[arg-type]
        lora_dropout=dropout,
        bias="none",
        target_modules=lora_target_modules(host, backbone),
    )
    peft_model = get_peft_model(host, config)
    if projected is None:
        return EmbeddingModel(peft_model, clip_preprocess(image_size)), peft_model
    projected.model = peft_model
    projected.proj.requires_grad_(False)  # the adapter folder carries only the adapters; CLIP's projection stays as loaded
    return EmbeddingModel(projected, clip_preprocess(image_size)), peft_model


def _lora_target(visual: nn.Module, backbone: str, reduced: bool) -> tuple[nn.Module, ProjectedViT | None]:
    """What the adapter attaches to, and the projection that follows it (ViT only).

    ConvNeXt stays as open_clip builds it; ViT-B/16 is converted to the DINO layout, as upstream does,
    and its CLIP projection is applied after the adapted ViT.
    """
    if backbone == "convnext":
        return visual, None
    width, depth, heads, image_size, embed_dim = (64, 2, 2, 64, REDUCED_EMBED_DIM) if reduced else (768, 12, 12, 224, 512)
    # The released evaluation code builds this ViT with DINO's defaults (LayerNorm eps 1e-6, GELU).
    vit = dino_layout_vit(16, width, depth, heads, image_size, clip_style=True, ln_eps=1e-6)
    projected = ProjectedViT(vit, embed_dim)
    projection = load_dino_layout_state_dict(vit, open_clip_visual_to_dino_layout(visual.state_dict()), "open_clip ViT-B/16")
    if projection is None:
        raise ValueError("the open_clip ViT-B/16 tower has no projection ('proj'); is it an image tower of CLIP?")
    with torch.no_grad():
        projected.proj.copy_(projection)
    return vit, projected


def lora_target_modules(host: nn.Module, backbone: str) -> list[str] | str:
    """Where the paper's adapters sit: the MLP fc layers of ConvNeXt, `qkv` of the ViT."""
    if backbone == "convnext":
        return [name for name, _ in host.named_modules() if name.endswith(("fc1", "fc2"))]
    return ["qkv"]


# Every NIGHTS fine-tune of the paper: model name -> backbone, head, and the file from the paper's README.
FINETUNED_WEIGHTS: dict[str, FinetunedSpec] = {
    "r-clip-f-convnext+mlp": FinetunedSpec("r-clip-f-convnext", "mlp", "Fb73e3i2PmWfwpN", "mlp-convnext_base_w-fare-eps4.pt"),
    "r-clip-t-convnext+mlp": FinetunedSpec("r-clip-t-convnext", "mlp", "2beeHj3DZNDbswZ", "mlp-convnext_base_w-tecoa-eps4.pt"),
    "r-clip-f-convnext+lora": FinetunedSpec("r-clip-f-convnext", "lora", "LxWHf7x9r3rXHPA", "lora-convnext_base_w-fare.zip"),
    "r-clip-t-convnext+lora": FinetunedSpec("r-clip-t-convnext", "lora", "f3dJ44YJkeY47Bj", "lora-convnext_base_w-tecoa.zip"),
    "r-clip-f-vit-b16+mlp": FinetunedSpec("r-clip-f-vit-b16", "mlp", "yYSM3pd7acJGZRq", "mlp-vit-b-16-fare-eps4.pt"),
    "r-clip-t-vit-b16+mlp": FinetunedSpec("r-clip-t-vit-b16", "mlp", "BLL8c8DbBxX8RsB", "mlp-vit-b-16-tecoa-eps4.pt"),
    "r-clip-f-vit-b16+lora": FinetunedSpec("r-clip-f-vit-b16", "lora", "jNwtQKK3oareL83", "lora-vit-b-16-fare.zip"),
    "r-clip-t-vit-b16+lora": FinetunedSpec("r-clip-t-vit-b16", "lora", "6aG2kPbpqCjodic", "lora-vit-b-16-tecoa.zip"),
}


def finetuned_weight_sets(backbone: str, head: str) -> dict[str, ModelCard]:
    """The cards of every fine-tune with this backbone ("convnext" | "vit-b16") and head ("mlp" | "lora")."""
    return {name: spec.card(name) for name, spec in FINETUNED_WEIGHTS.items() if spec.backbone == backbone and spec.head == head}


@register_architecture(finetuned_weight_sets("convnext", "mlp"))
def clip_convnext_mlp(pretrained: bool = True, reduced: bool = False, weights: str = "r-clip-f-convnext+mlp") -> EmbeddingModel:
    """Robust ConvNeXt-B CLIP with a NIGHTS-trained residual MLP head (FARE or TeCoA backbone)."""
    return build_mlp_model(FINETUNED_WEIGHTS[weights], pretrained, reduced, what=weights)


@register_architecture(finetuned_weight_sets("vit-b16", "mlp"))
def clip_vit_b16_mlp(pretrained: bool = True, reduced: bool = False, weights: str = "r-clip-f-vit-b16+mlp") -> EmbeddingModel:
    """Robust ViT-B/16 CLIP with a NIGHTS-trained residual MLP head (FARE or TeCoA backbone)."""
    return build_mlp_model(FINETUNED_WEIGHTS[weights], pretrained, reduced, what=weights)


@register_architecture(finetuned_weight_sets("convnext", "lora"))
def clip_convnext_lora(pretrained: bool = True, reduced: bool = False, weights: str = "r-clip-f-convnext+lora") -> EmbeddingModel:
    """Robust ConvNeXt-B CLIP with a NIGHTS-trained LoRA adapter merged in (FARE or TeCoA backbone)."""
    return build_lora_model(FINETUNED_WEIGHTS[weights], pretrained, reduced, what=weights)


@register_architecture(finetuned_weight_sets("vit-b16", "lora"))
def clip_vit_b16_lora(pretrained: bool = True, reduced: bool = False, weights: str = "r-clip-f-vit-b16+lora") -> EmbeddingModel:
    """Robust ViT-B/16 CLIP with a NIGHTS-trained LoRA adapter merged in (FARE or TeCoA backbone)."""
    return build_lora_model(FINETUNED_WEIGHTS[weights], pretrained, reduced, what=weights)
