"""The CLIP text tower of a CLIP-family metric: prompts -> unit-norm embeddings in the image space.

Text inversion (paper Eq. 10), zero-shot classification (Table XI) and TeCoA training need the
text encoder that belongs to a metric's image tower. The robust models (R-CLIP-F, R-CLIP-T) only
fine-tuned the image tower, so they share the text tower of the CLIP they started from:
`TEXT_TOWER_SOURCES` maps every zoo name to the open_clip checkpoint whose text weights it uses. That checkpoint
is the same file the clean image tower loads, so a user who has the clean model has its text too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import cast

import open_clip
import torch
import torch.nn.functional as F
from open_clip.model import _build_text_tower
from torch import Tensor, nn

from .clip import (
    CLIP_WEIGHTS,
    OPEN_CLIP_SPECS,
    OPEN_CLIP_WEIGHT_FILES,
    REDUCED_EMBED_DIM,
    OpenClipSpec,
    open_clip_state_dict,
)
from .download import fetch_first_available, strip_prefix

# Zoo name -> the CLIP whose text tower it uses: every CLIP weight set of an architecture shares the
# text tower of that architecture's clean CLIP (FARE and TeCoA fine-tuned the image tower only).
_CLEAN_CLIP: dict[str, OpenClipSpec] = {w.architecture: OPEN_CLIP_SPECS[n] for n, w in CLIP_WEIGHTS.items() if w.robust_training == "none"}
TEXT_TOWER_SOURCES: dict[str, OpenClipSpec] = {name: _CLEAN_CLIP[weights.architecture] for name, weights in CLIP_WEIGHTS.items()}

# The reduced text tower matches the reduced image towers of `model_zoo.clip` (same embedding size).
_REDUCED_TEXT_CFG = {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1}
_NON_TEXT_KEYS = ("visual.", "logit_scale", "logit_bias")


class NoTextTowerError(ValueError):
    """The named metric has no CLIP text tower (DINO, LPIPS, a NIGHTS-fine-tuned head, ...)."""


def register_text_tower(model_name: str, source: OpenClipSpec) -> None:
    """Declare that zoo model `model_name` shares the text tower of `source` (e.g. a newly trained TeCoA model)."""
    TEXT_TOWER_SOURCES[model_name] = source


def has_text_tower(model_name: str) -> bool:
    """Whether `model_name` has a CLIP text tower (text inversion, zero-shot)."""
    return model_name in TEXT_TOWER_SOURCES


def text_tower_source(model_name: str) -> OpenClipSpec:
    """The open_clip checkpoint whose text tower `model_name` uses; a clear error when it has none."""
    if model_name in TEXT_TOWER_SOURCES:
        return TEXT_TOWER_SOURCES[model_name]
    base, plus, head = model_name.partition("+")
    if plus and base in TEXT_TOWER_SOURCES:
        raise NoTextTowerError(
            f"model '{model_name}' puts a NIGHTS-fine-tuned {head} on the image tower, so its embeddings no longer live in "
            f"the text tower's space; use '{base}' for text inversion and zero-shot classification"
        )
    raise NoTextTowerError(
        f"model '{model_name}' has no text tower; text inversion and zero-shot classification need a CLIP-family model "
        f"(one of {', '.join(sorted(TEXT_TOWER_SOURCES))}; `bench models 'clip-*'` and `bench models 'r-clip-*'` list them)"
    )


class ClipTextTower(nn.Module):
    """open_clip's text transformer with its tokenizer; `encode_text` gives unit-norm embeddings (N, D)."""

    def __init__(self, text: nn.Module, tokenizer, model_name: str, source: OpenClipSpec, weights_kind: str):
        super().__init__()
        self.text = text
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.source = source
        self.weights_kind = weights_kind  # pretrained | random

    @property
    def embed_dim(self) -> int:
        """Width of the text embeddings (that of the image tower's too)."""
        return cast(int, self.text.output_dim)

    @property
    def device(self) -> torch.device:
        """Where the text tower's weights are (prompts are tokenised onto it)."""
        return next(self.text.parameters()).device

    def tokenize(self, prompts: Sequence[str]) -> Tensor:
        """Token ids (N, context) of a list of prompts, on the tower's device."""
        if isinstance(prompts, str):
            raise TypeError(f"encode_text takes a list of prompts, got the string {prompts!r}; wrap it in a list")
        return self.tokenizer(list(prompts)).to(self.device)

    def encode_text(self, prompts: Sequence[str], batch_size: int = 256) -> Tensor:
        """Unit-norm text embeddings (N, D), in the same space as the image tower's `embed`."""
        if len(prompts) == 0:
            raise ValueError("encode_text needs at least one prompt")
        chunks = [self.text(self.tokenize(prompts[i : i + batch_size])) for i in range(0, len(prompts), batch_size)]
        return F.normalize(torch.cat(chunks).float(), dim=-1)

    def forward(self, prompts: Sequence[str]) -> Tensor:
        """`encode_text(prompts)`."""
        return self.encode_text(prompts)


def build_text_transformer(spec: OpenClipSpec, reduced: bool = False) -> nn.Module:
    """The text tower of `spec`'s architecture with random weights (reduced: a tiny one for tests)."""
    config = open_clip.get_model_config(spec.architecture)
    if config is None:
        raise ValueError(f"open_clip has no architecture '{spec.architecture}'; see open_clip.list_models()")
    text_cfg = dict(_REDUCED_TEXT_CFG) if reduced else dict(config["text_cfg"])
    embed_dim = REDUCED_EMBED_DIM if reduced else config["embed_dim"]
    return _build_text_tower(embed_dim, text_cfg, quick_gelu=config.get("quick_gelu", False))


def load_text_weights(text: nn.Module, path: Path) -> None:
    """Load the text keys of a whole open_clip checkpoint (top-level `token_embedding`, `transformer`, ...)."""
    state_dict = open_clip_state_dict(path)
    if any(key.startswith("text.") for key in state_dict):  # models built with a separate `text` module
        state_dict = strip_prefix(state_dict, "text.")
    tower = {k: v for k, v in state_dict.items() if not k.startswith(_NON_TEXT_KEYS)}
    missing, unexpected = text.load_state_dict(tower, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"'{path.name}' has no open_clip text tower of this architecture: "
            f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )


def create_text_tower(model_name: str, pretrained: bool = True, device: str | torch.device = "cpu", reduced: bool = False) -> ClipTextTower:
    """The text tower that goes with zoo model `model_name`, frozen, in eval mode, on `device`.

    `pretrained=False` gives random weights; `reduced=True` (with random weights) the tiny tower that
    matches `create_model(name, pretrained=False, reduced=True)`.
    """
    source = text_tower_source(model_name)
    if reduced and pretrained:
        raise ValueError("reduced=True builds a small random-weight text tower; use it with pretrained=False")
    text = build_text_transformer(source, reduced)
    if pretrained:
        path = fetch_first_available(source.weights, OPEN_CLIP_WEIGHT_FILES, what=f"the text tower of {model_name}")
        load_text_weights(text, path)
    tokenizer = open_clip.get_tokenizer(source.architecture)
    tower = ClipTextTower(text, tokenizer, model_name, source, "pretrained" if pretrained else "random")
    return tower.eval().requires_grad_(False).to(device)


def text_tower_for_model(model, device: str | torch.device | None = None) -> ClipTextTower:
    """The text tower matching a built zoo model: same name, same weights kind, same (reduced or full) size."""
    name = model.card.name
    source = text_tower_source(name)
    full_dim = open_clip.get_model_config(source.architecture)["embed_dim"]
    parameter = next(model.parameters())
    with torch.no_grad():
        image_dim = model.embed(torch.zeros(1, 3, 64, 64, device=parameter.device, dtype=parameter.dtype)).shape[-1]
    pretrained = model.weights_kind == "pretrained"
    reduced = not pretrained and image_dim == REDUCED_EMBED_DIM != full_dim
    if not reduced and image_dim != full_dim:
        raise ValueError(f"model '{name}' embeds in {image_dim} dimensions, its text tower in {full_dim}; build the model unchanged")
    return create_text_tower(name, pretrained=pretrained, device=device or parameter.device, reduced=reduced)
