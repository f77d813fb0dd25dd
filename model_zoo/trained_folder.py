"""Metrics trained with `bench finetune`: a folder holding a card and weights, loadable by its path.

A folder is a model name: `create_model("runs/fare-convnext")`, `bench evaluate --model runs/fare-convnext`.
Its files, in the formats the zoo already reads for the paper's releases:

    perceptbench-finetune.json  the card: base model, method, data, eps, hyper-parameters and their
                                sources, sha256 of every weight file, the command and environment
    visual.safetensors          the open_clip image tower, when it is not the base's published weights
                                (FARE/TeCoA fine-tuning, a random-weight base, a chained base)
    mlp-head.pt                 NIGHTS MLP head, keys `perceptual_model.mlp.fc{1,2}.*` (as `+mlp` models)
    lora/                       NIGHTS LoRA adapter folder (peft, as `+lora` models)

To give a folder a short name, call `register_trained_folder("my-metric", path)` in a module named
by the `perceptbench.models` entry-point group.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field
from pathlib import Path
from typing import Any

from .base import EmbeddingModel
from .card import ModelCard, WeightsSource
from .download import sha256_of
from .weights import WeightsUnavailableError

CARD_FILE = "perceptbench-finetune.json"
VISUAL_FILE = "visual.safetensors"
MLP_HEAD_FILE = "mlp-head.pt"
LORA_FOLDER = "lora"
CARD_SCHEMA_VERSION = 1


@dataclass
class FinetuneCard:
    """What a `bench finetune` folder holds and how it was made."""

    base_model: str  # the --model it was trained from: a registered name or another folder
    architecture: str  # registered open_clip model whose architecture the tower has (e.g. 'clip-convnext')
    reduced: bool  # the small test configuration of that architecture
    base_weights: str  # pretrained | random: where the tower's weights ultimately come from
    method: str  # fare | tecoa | lora | mlp
    robust_training: str  # none | FARE | TeCoA (of the tower)
    robust_eps: str | None
    finetuning: str  # none | NIGHTS-LoRA | NIGHTS-MLP
    files: dict[str, str]  # role (visual, mlp_head, lora) -> path relative to the folder
    sha256: dict[str, str]  # file path relative to the folder -> sha256
    data: dict[str, Any] = field(default_factory=dict)
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # hyper-parameter -> where its default comes from
    training: dict[str, Any] = field(default_factory=dict)  # steps, epochs, selection, timing
    command: str = ""
    environment: dict[str, Any] = field(default_factory=dict)
    config_hash: str = ""
    lora_backbone: str | None = None  # convnext | vit-b16: where the adapter sits
    mlp_hidden: int | None = None
    schema_version: int = CARD_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON-ready data (the folder's card file)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FinetuneCard:
        """A card read back from its file; unknown keys are ignored."""
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


def is_trained_folder(path: str | Path) -> bool:
    """Whether `path` is a `bench finetune` output folder (it holds the card file)."""
    return (Path(path) / CARD_FILE).is_file()


def read_card(folder: str | Path) -> FinetuneCard:
    """The card of a `bench finetune` folder; refuses a schema newer than this code reads."""
    path = Path(folder) / CARD_FILE
    if not path.is_file():
        raise FileNotFoundError(f"'{folder}' is not a `bench finetune` output folder (no {CARD_FILE})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"{path} is not valid JSON ({error}); train the folder again or restore its card") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__ if data is not None else 'null'}")
    required = [
        name for name, spec in FinetuneCard.__dataclass_fields__.items() if spec.default is MISSING and spec.default_factory is MISSING
    ]
    missing = [name for name in required if name not in data]
    if missing:
        raise ValueError(f"{path}: field {missing[0]} is missing; train the folder again or restore its card")
    if not isinstance(data.get("schema_version", 0), int):
        raise ValueError(f"{path}: field schema_version must be a whole number, got {data['schema_version']!r}")
    if not isinstance(data["files"], dict) or not isinstance(data["sha256"], dict):
        raise ValueError(f"{path}: fields files and sha256 must be JSON objects")
    if data.get("schema_version", 0) > CARD_SCHEMA_VERSION:
        raise ValueError(
            f"{path} has card schema {data['schema_version']}; this perceptbench reads up to {CARD_SCHEMA_VERSION}: upgrade it"
        )
    return FinetuneCard.from_dict(data)


def verify_folder(folder: Path, card: FinetuneCard) -> None:
    """Every weight file is present and has the sha256 the card records."""
    for relative, expected in card.sha256.items():
        path = folder / relative
        if not path.is_file():
            raise WeightsUnavailableError(f"'{path}' is missing; the card of '{folder}' lists it (copy the whole folder)")
        actual = sha256_of(path)
        if actual != expected:
            raise WeightsUnavailableError(f"sha256 of '{path}' is {actual}, the card records {expected}: the file changed after training")


def model_card(folder: Path, card: FinetuneCard) -> ModelCard:
    """The registry's ModelCard of a trained folder, from its architecture's card and its own."""
    from .preprocess import NIGHTS_FINETUNED_CLIP
    from .registry import get_model_card

    architecture = get_model_card(card.architecture)
    # NIGHTS fine-tunes take DreamSim's 224x224 stretch (as +mlp/+lora); FARE/TeCoA towers keep their base's.
    preprocessing = NIGHTS_FINETUNED_CLIP.to_dict() if card.method in ("lora", "mlp") else architecture.preprocessing
    note = f"trained with `bench finetune {card.method if card.method in ('fare', 'tecoa') else 'nights --method ' + card.method}` from {card.base_model}"
    return ModelCard(
        name=str(folder),
        family="finetuned",
        backbone=architecture.backbone + (" (reduced)" if card.reduced else ""),
        robust_training=card.robust_training,
        robust_eps=card.robust_eps,
        finetuning=card.finetuning,
        weights=WeightsSource(note=f"local folder {folder}", sha256=card.sha256.get(card.files.get("visual", ""))),
        license="same as the base model",
        paper="",
        image_size=architecture.image_size,
        preprocessing=preprocessing,
        parameters=None if card.reduced else architecture.parameters,
        notes=note,
        extra={"finetune_card": card.to_dict(), "weights_kind": "random" if card.base_weights == "random" else "pretrained"},
    )


def build_trained_folder(folder: str | Path, verify: bool = True) -> EmbeddingModel:
    """The metric a `bench finetune` folder describes, with its weights loaded."""
    from .clip import OPEN_CLIP_SPECS, OPEN_CLIP_WEIGHT_FILES, OpenClipImageEncoder, build_open_clip_visual, load_open_clip_visual_weights
    from .download import fetch_first_available
    from .finetuned import attach_lora, attach_mlp_head
    from .preprocess import ImagePreprocess
    from .registry import get_model_card

    folder = Path(folder)
    card = read_card(folder)
    if verify:
        verify_folder(folder, card)
    get_model_card(card.architecture)  # registers the built-in families
    spec = OPEN_CLIP_SPECS[card.architecture]
    visual, image_size = build_open_clip_visual(spec, card.reduced)
    if "visual" in card.files:
        load_open_clip_visual_weights(visual, folder / card.files["visual"])
    elif card.base_weights == "pretrained":
        load_open_clip_visual_weights(visual, fetch_first_available(spec.weights, OPEN_CLIP_WEIGHT_FILES, what=card.architecture))
    else:
        raise WeightsUnavailableError(f"'{folder}' has no {VISUAL_FILE} and its base had random weights; it cannot be rebuilt")
    if "mlp_head" in card.files:
        if card.mlp_hidden is None:
            raise ValueError(f"the card of '{folder}' lists an MLP head but not its width (mlp_hidden); was it edited by hand?")
        return attach_mlp_head(
            visual, image_size, embedding_dim(card.architecture, card.reduced), card.mlp_hidden, folder / card.files["mlp_head"]
        )
    if "lora" in card.files:
        if card.lora_backbone is None:
            raise ValueError(f"the card of '{folder}' lists a LoRA adapter but not where it sits (lora_backbone); was it edited by hand?")
        return attach_lora(visual, image_size, card.lora_backbone, card.reduced, folder / card.files["lora"])
    return EmbeddingModel(OpenClipImageEncoder(visual), ImagePreprocess(spec.preprocessing.at_input_size(image_size)))


def embedding_dim(architecture: str, reduced: bool) -> int:
    """Output width of a registered open_clip tower (what an MLP head on it takes)."""
    import open_clip

    from .clip import OPEN_CLIP_SPECS, REDUCED_EMBED_DIM

    if reduced:
        return REDUCED_EMBED_DIM
    return int(open_clip.get_model_config(OPEN_CLIP_SPECS[architecture].architecture)["embed_dim"])


def trained_folder_factory(folder: str | Path) -> tuple[Callable[..., EmbeddingModel], ModelCard]:
    """A registry factory for `folder` and its card: its weights are the folder's, so it takes no options."""
    folder = Path(folder)

    def factory(pretrained: bool = True) -> EmbeddingModel:
        if not pretrained:
            raise ValueError(f"'{folder}' is a trained metric: its weights are in the folder, so --random-weights does not apply")
        return build_trained_folder(folder)

    card = read_card(folder)
    factory.__name__ = f"trained_folder_{folder.name}"
    _share_text_tower(str(folder), card)
    return factory, model_card(folder, card)


def _share_text_tower(name: str, card: FinetuneCard) -> None:
    """A FARE/TeCoA folder keeps its base's text space, so text inversion and zero-shot use the base's text tower."""
    from .text_tower import TEXT_TOWER_SOURCES, register_text_tower

    if card.method in ("fare", "tecoa") and card.architecture in TEXT_TOWER_SOURCES:
        register_text_tower(name, TEXT_TOWER_SOURCES[card.architecture])


def register_trained_folder(name: str, folder: str | Path) -> None:
    """Give a `bench finetune` folder a registry name (call it from a `perceptbench.models` entry-point module)."""
    from .registry import register_model

    factory, card = trained_folder_factory(folder)
    register_model(name, card=card)(factory)
    _share_text_tower(name, read_card(folder))
