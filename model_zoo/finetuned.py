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

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import EmbeddingModel
from .card import ModelCard, WeightsSource
from .clip import (
    FARE_PAPER,
    OPEN_CLIP_WEIGHT_FILES,
    REDUCED_EMBED_DIM,
    ROBUST_SPECS,
    OpenClipImageEncoder,
    OpenClipSpec,
    backbone_parameters,
    build_open_clip_visual,
)
from .download import fetch_first_available, fetch_folder, fetch_weights, load_checkpoint, strip_prefix
from .lora import LoraHost, add_untrained_lora, find_adapter_folder, load_lora_adapter
from .preprocess import NIGHTS_FINETUNED_CLIP, ImagePreprocess
from .registry import register_model
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
        return x + self.fc2(F.relu(self.fc1(x)))


class HeadedEncoder(nn.Module):
    """An encoder followed by a head on its embedding."""

    def __init__(self, encoder: nn.Module, head: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, x: Tensor) -> Tensor:
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
    method: str  # "f" | "t"
    backbone: str  # "convnext" | "vit-b16"
    head: str  # "mlp" | "lora"
    share_token: str
    filename: str

    @property
    def backbone_spec(self) -> OpenClipSpec:
        return ROBUST_SPECS[(self.method, self.backbone)]

    @property
    def weights(self) -> WeightsSource:
        return WeightsSource(url=TUEBINGEN_SHARE.format(token=self.share_token), filename=self.filename, note=NO_SHA256_NOTE)


def clip_preprocess(image_size: int) -> ImagePreprocess:
    """The preprocessing of NIGHTS-fine-tuned CLIP models (+mlp, +lora, and `bench finetune nights` folders)."""
    return ImagePreprocess(NIGHTS_FINETUNED_CLIP.at_input_size(image_size))


def _load_backbone(visual: nn.Module, spec: FinetunedSpec, what: str) -> None:
    from .clip import load_open_clip_visual_weights

    path = fetch_first_available(spec.backbone_spec.weights, OPEN_CLIP_WEIGHT_FILES, what=what)
    load_open_clip_visual_weights(visual, path)


def build_mlp_model(spec: FinetunedSpec, pretrained: bool, reduced: bool, what: str) -> EmbeddingModel:
    if reduced and pretrained:
        raise ValueError("reduced=True builds a small random-weight configuration; use it with pretrained=False")
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
    return 640 if backbone == "convnext" else 512


def build_lora_model(spec: FinetunedSpec, pretrained: bool, reduced: bool, what: str, adapter_folder: Path | None = None) -> EmbeddingModel:
    """The backbone with the LoRA adapter merged; `adapter_folder` overrides the download (tests, local files)."""
    if reduced and pretrained:
        raise ValueError("reduced=True builds a small random-weight configuration; use it with pretrained=False")
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
        host = load_lora_adapter(host, adapter_folder)
    else:
        host = add_untrained_lora(host, lora_target_modules(host, backbone))
    if projected is None:
        return EmbeddingModel(host, clip_preprocess(image_size))
    projected.model = host.model
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
    config = LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=dropout, bias="none", target_modules=lora_target_modules(host, backbone))
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
    with torch.no_grad():
        projected.proj.copy_(projection)
    return vit, projected


def lora_target_modules(host: nn.Module, backbone: str) -> list[str] | str:
    if backbone == "convnext":
        return [name for name, _ in host.named_modules() if name.endswith(("fc1", "fc2"))]
    return ["qkv"]


_CHECKPOINTS = {
    # (method, backbone, head): (share token, file name) from the paper's README
    ("f", "convnext", "mlp"): ("Fb73e3i2PmWfwpN", "mlp-convnext_base_w-fare-eps4.pt"),
    ("t", "convnext", "mlp"): ("2beeHj3DZNDbswZ", "mlp-convnext_base_w-tecoa-eps4.pt"),
    ("f", "convnext", "lora"): ("LxWHf7x9r3rXHPA", "lora-convnext_base_w-fare.zip"),
    ("t", "convnext", "lora"): ("f3dJ44YJkeY47Bj", "lora-convnext_base_w-tecoa.zip"),
    ("f", "vit-b16", "mlp"): ("yYSM3pd7acJGZRq", "mlp-vit-b-16-fare-eps4.pt"),
    ("t", "vit-b16", "mlp"): ("BLL8c8DbBxX8RsB", "mlp-vit-b-16-tecoa-eps4.pt"),
    ("f", "vit-b16", "lora"): ("jNwtQKK3oareL83", "lora-vit-b-16-fare.zip"),
    ("t", "vit-b16", "lora"): ("6aG2kPbpqCjodic", "lora-vit-b-16-tecoa.zip"),
}


def _register(spec: FinetunedSpec) -> None:
    name = f"r-clip-{spec.method}-{spec.backbone}+{spec.head}"
    base = backbone_parameters(spec.backbone)
    dim = visual_output_dim(spec.backbone)
    parameters = base + (2 * dim * MLP_HIDDEN + MLP_HIDDEN + dim if spec.head == "mlp" else 0)
    card = ModelCard(
        name=name,
        family="robust-clip-nights",
        backbone="ConvNeXt-B (convnext_base_w)" if spec.backbone == "convnext" else "ViT-B/16",
        robust_training="FARE" if spec.method == "f" else "TeCoA",
        robust_eps="4/255",
        finetuning="NIGHTS-MLP" if spec.head == "mlp" else "NIGHTS-LoRA",
        weights=spec.weights,
        license="MIT",
        paper=FARE_PAPER,
        image_size=224,
        preprocessing=NIGHTS_FINETUNED_CLIP.to_dict(),
        parameters=parameters,
        notes=(
            f"backbone weights: {spec.backbone_spec.hub_id}; head: {spec.weights.url} ({NO_SHA256_NOTE}); "
            + (
                "MLP head x + fc2(relu(fc1(x))) on the image embedding"
                if spec.head == "mlp"
                else "LoRA r=16, alpha=0.5 merged into the backbone; adapter keys assumed relative to the image tower ('model.' host), as in the paper's utils_lora.py"
            )
        ),
    )

    @register_model(name, card=card)
    def factory(pretrained: bool = True, reduced: bool = False) -> EmbeddingModel:
        builder = build_mlp_model if spec.head == "mlp" else build_lora_model
        return builder(spec, pretrained, reduced, what=name)

    factory.__name__ = name.replace("-", "_").replace("+", "_")


for (_method, _backbone, _head), (_token, _filename) in _CHECKPOINTS.items():
    _register(FinetunedSpec(_method, _backbone, _head, _token, _filename))
