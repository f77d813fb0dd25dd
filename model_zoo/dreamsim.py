"""DreamSim (Fu et al. 2023): ViT backbones fine-tuned on NIGHTS with LoRA, embeddings concatenated.

Built here rather than through the `dreamsim` package, whose constructor fetches backbones from
torch.hub and the internet even without pretrained weights. The architecture and files follow its
v0.2 release: a zip per model type (`dreamsim_<type>_checkpoint.zip`) holding the CLIP backbones in
the DINO layout (`<clip|open_clip>_vitb<P>_pretrain.pth.tar`, `{'state_dict': ..., 'proj'}`) and a
peft LoRA folder (`ensemble_lora` or `<type>_single_lora`, keys under
`base_model.model.extractor_list.<i>.model.`); the DINO backbone is the official DINO release.
Features: DINO's class token before the final LayerNorm; CLIP's projected class token. The
concatenation is centred and unit-normalised (DreamSim's `normalize_embeds=True`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from .base import EmbeddingModel
from .card import ModelCard, WeightsSource
from .citations import DREAMSIM_PAPER
from .download import fetch_folder, fetch_weights, load_checkpoint
from .lora import add_untrained_lora, find_adapter_folder, load_lora_adapter
from .preprocess import IMAGENET_MEAN, IMAGENET_STD, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, ImagePreprocess, dreamsim_style
from .registry import register_architecture
from .vit_layout import class_token_before_final_norm, dino_layout_vit, load_dino_layout_state_dict
from .weights import WeightsUnavailableError

RELEASES = "https://github.com/ssundaram21/dreamsim/releases/download/v0.2.0-checkpoints"
DINO_VITB16_WEIGHTS = WeightsSource(
    url="https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
    note="official DINO ViT-B/16 backbone (what DreamSim loads through torch.hub); sha256 not published",
)
DREAMSIM_DINO_FILE = "dino_vitb16_pretrain.pth"  # dreamsim/feature_extraction/extractor.py loads this name
IMAGE_SIZE = 224
# Each backbone normalises inside `DreamSimExtractor`; the shared geometry is DreamSim's own.
DREAMSIM_PREPROCESSING = dreamsim_style()


@dataclass(frozen=True)
class BackboneSpec:
    """One DreamSim backbone: its kind, patch size, and what it contributes to the embedding."""

    kind: str  # "dino" | "clip" | "open_clip"
    patch_size: int

    @property
    def key(self) -> str:
        """DreamSim's name of the backbone (`dino_vitb16`, ...), as in its file names."""
        return f"{self.kind}_vitb{self.patch_size}"

    @property
    def feature_dim(self) -> int:
        """Width of this backbone's feature in the concatenation."""
        return 768 if self.kind == "dino" else 512


class DreamSimExtractor(nn.Module):
    """One backbone with its own normalisation; `model` is the ViT the LoRA adapters attach to."""

    mean: Tensor
    std: Tensor

    def __init__(self, spec: BackboneSpec, reduced: bool):
        super().__init__()
        self.spec = spec
        width, depth, heads, image_size, embed_dim = (64, 2, 2, 64, 32) if reduced else (768, 12, 12, IMAGE_SIZE, 512)
        clip_style = spec.kind != "dino"
        self.model = dino_layout_vit(
            spec.patch_size,
            width,
            depth,
            heads,
            image_size,
            clip_style=clip_style,
            quick_gelu=spec.kind == "clip",
            ln_eps=1e-5 if clip_style else 1e-6,
        )
        self.proj = nn.Parameter(torch.randn(width, embed_dim) * width**-0.5) if clip_style else None
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if spec.kind == "dino" else (OPENAI_CLIP_MEAN, OPENAI_CLIP_STD)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """The backbone's feature of pixels in [0, 1] (normalised here)."""
        x = (x - self.mean) / self.std
        if self.proj is None:
            return class_token_before_final_norm(self.model, x)
        return self.model(x) @ self.proj

    def load_backbone(self, path: Path) -> None:
        """Load a DreamSim backbone file (DINO layout; CLIP ones carry `proj`)."""
        state_dict = load_checkpoint(path)
        if isinstance(state_dict.get("state_dict"), dict):
            state_dict = state_dict["state_dict"]
        projection = load_dino_layout_state_dict(self.model, state_dict, path.name)
        if self.proj is not None:
            if projection is None:
                raise ValueError(f"'{path.name}' has no CLIP projection ('proj'); is it a DreamSim CLIP backbone file?")
            with torch.no_grad():
                self.proj.copy_(projection)


class DreamSimEncoder(nn.Module):
    """Concatenated backbone features, centred and unit-normalised; `extractor_list` as in DreamSim."""

    def __init__(self, specs: tuple[BackboneSpec, ...], reduced: bool):
        super().__init__()
        self.extractor_list = nn.ModuleList(DreamSimExtractor(spec, reduced) for spec in specs)

    def extractors(self) -> list[DreamSimExtractor]:
        """The backbones, in the order their features are concatenated."""
        return [extractor for extractor in self.extractor_list if isinstance(extractor, DreamSimExtractor)]

    def forward(self, x: Tensor) -> Tensor:
        """Concatenated backbone features, centred and unit-normalised."""
        features = torch.cat([extractor(x) for extractor in self.extractor_list], dim=-1)
        features = features - features.mean(dim=-1, keepdim=True)
        return features / features.norm(dim=-1, keepdim=True)


@dataclass(frozen=True)
class DreamSimSpec:
    """One DreamSim release: its type (the zip's name), backbones, and what its card says."""

    dreamsim_type: str
    backbones: tuple[BackboneSpec, ...]
    backbone_name: str  # as cards and tables print it
    parameters: int  # measured on the full-size random build
    license: str = "MIT"
    paper: str = DREAMSIM_PAPER

    @property
    def weights(self) -> WeightsSource:
        """The release zip: backbones in the DINO layout and the LoRA folder."""
        filename = f"dreamsim_{self.dreamsim_type}_checkpoint.zip"
        return WeightsSource(url=f"{RELEASES}/{filename}", filename=filename, note="DreamSim v0.2.0 release; sha256 not published")

    @property
    def adapter_name(self) -> str:
        """The LoRA folder inside the release zip."""
        return "ensemble_lora" if self.dreamsim_type == "ensemble" else f"{self.backbones[0].key}_single_lora"

    def card(self, name: str) -> ModelCard:
        """The model card of this release, registered as `name`."""
        ensemble_note = "v0.2 release: the ensemble uses ViT-B/16 backbones (the paper's README says the same); "
        return ModelCard(
            name=name,
            family="dreamsim",
            backbone=self.backbone_name,
            finetuning="NIGHTS-LoRA",
            weights=self.weights,
            license=self.license,
            paper=self.paper,
            image_size=IMAGE_SIZE,
            preprocessing=DREAMSIM_PREPROCESSING.to_dict(),
            parameters=self.parameters,
            notes=(ensemble_note if self.dreamsim_type == "ensemble" else "")
            + "sim = cosine of centred, normalised embeddings = 1 - DreamSim distance",
        )


def build_dreamsim(spec: DreamSimSpec, pretrained: bool, reduced: bool, what: str, checkpoint_folder: Path | None = None) -> EmbeddingModel:
    """DreamSim with its LoRA merged; `checkpoint_folder` (an extracted release zip) overrides the download."""
    encoder = DreamSimEncoder(spec.backbones, reduced)
    merged: nn.Module
    if pretrained or checkpoint_folder is not None:
        folder = checkpoint_folder or fetch_folder(spec.weights, what=what)
        for extractor in encoder.extractors():
            if extractor.spec.kind == "dino":
                # The release zip holds the DINO backbone as DreamSim's loader names it; the official
                # DINO release is the same file under another name, used when the zip lacks it.
                packaged = sorted(Path(folder).rglob(DREAMSIM_DINO_FILE))
                path = packaged[0] if packaged else fetch_weights(DINO_VITB16_WEIGHTS, what=f"{what} (DINO backbone)")
            else:
                path = _find(folder, f"{extractor.spec.key}_pretrain.pth.tar")
            extractor.load_backbone(path)
        merged = load_lora_adapter(encoder, find_adapter_folder(folder, spec.adapter_name))
    else:
        merged = add_untrained_lora(encoder, ["qkv"])
    size = 64 if reduced else IMAGE_SIZE
    return EmbeddingModel(merged, ImagePreprocess(DREAMSIM_PREPROCESSING.at_input_size(size)))


def _find(folder: Path, filename: str) -> Path:
    matches = sorted(Path(folder).rglob(filename))
    if not matches:
        raise WeightsUnavailableError(
            f"'{filename}' is missing from the DreamSim checkpoint folder '{folder}'; re-download the release zip"
        )
    return matches[0]


# Every DreamSim release: model name -> backbones and weights (the v0.2.0 checkpoints).
DREAMSIM_WEIGHTS: dict[str, DreamSimSpec] = {
    "dreamsim-ensemble": DreamSimSpec(
        "ensemble",
        (BackboneSpec("dino", 16), BackboneSpec("clip", 16), BackboneSpec("open_clip", 16)),
        "ensemble: DINO ViT-B/16 + CLIP ViT-B/16 + OpenCLIP ViT-B/16",
        258_183_936,
    ),
    "dreamsim-dino-vit-b16": DreamSimSpec("dino_vitb16", (BackboneSpec("dino", 16),), "DINO ViT-B/16", 85_798_656),
    "dreamsim-clip-vit-b32": DreamSimSpec("clip_vitb32", (BackboneSpec("clip", 32),), "CLIP ViT-B/32 (OpenAI)", 87_849_216),
    "dreamsim-openclip-vit-b32": DreamSimSpec(
        "open_clip_vitb32", (BackboneSpec("open_clip", 32),), "OpenCLIP ViT-B/32 (LAION-400M)", 87_849_216
    ),
}


@register_architecture({name: spec.card(name) for name, spec in DREAMSIM_WEIGHTS.items()})
def dreamsim(pretrained: bool = True, reduced: bool = False, weights: str = "dreamsim-ensemble") -> EmbeddingModel:
    """DreamSim: the ensemble or a single-backbone release (the release decides the backbones)."""
    return build_dreamsim(DREAMSIM_WEIGHTS[weights], pretrained, reduced, what=weights)
