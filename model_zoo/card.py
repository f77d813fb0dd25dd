"""Model cards: what a metric is and where its weights come from, as plain data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class WeightsSource:
    """Where pretrained weights live. Exactly one of `hub_id` or `url` is set for downloadable weights."""

    hub_id: str | None = None  # e.g. "hf-hub:chs20/FARE4-convnext_base_w-laion2B-s13B-b82K-augreg"
    url: str | None = None
    sha256: str | None = None
    filename: str | None = None
    package: str | None = None  # weights shipped inside a PyPI package (e.g. "lpips")
    note: str = ""

    def describe(self) -> str:
        """A one-line source: the hub id, the URL, the package, or the note."""
        if self.hub_id:
            return self.hub_id
        if self.url:
            return self.url
        if self.package:
            return f"pip:{self.package}"
        return self.note or "none"


NO_WEIGHTS = WeightsSource(note="no weights (analytic metric)")
# A factory registered without a card (an entry point, `pkg.module:factory`): nothing says whether
# or where it loads weights, so results say "unknown" rather than guess "none".
UNKNOWN_WEIGHTS = WeightsSource(note="unknown (the factory has no model card)")


@dataclass(frozen=True)
class ModelCard:
    """Where a metric comes from, as a leaderboard row or a paper table says it: provenance, not behaviour.

    What the metric does (`has_embedding`, `sim_range`, ...) lives on its class (`PerceptualModel`).
    """

    name: str
    family: str
    backbone: str
    robust_training: str = "none"  # none | FARE | TeCoA | R-LPIPS | ...
    robust_eps: str | None = None  # e.g. "4/255"
    finetuning: str = "none"  # none | NIGHTS-MLP | NIGHTS-LoRA | ...
    weights: WeightsSource = NO_WEIGHTS
    license: str = "unknown"
    paper: str = ""
    image_size: int | None = None
    preprocessing: dict[str, Any] = field(default_factory=dict)  # Preprocessing.to_dict(): resize, crop, interpolation, mean/std, source
    parameters: int | None = None  # of the network that computes the metric (image tower, heads included)
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_weights(self) -> bool:
        """Whether the metric has weights to load (False for analytic metrics such as SSIM)."""
        return self.weights is not NO_WEIGHTS and self.weights != NO_WEIGHTS

    def to_dict(self) -> dict[str, Any]:
        """The card as JSON-ready data (result files carry it)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        """A card read back from `to_dict`; unknown keys (such as `has_embedding`, `sim_range` of older files) are ignored."""
        data = dict(data)
        data["weights"] = WeightsSource(**data.get("weights", {}))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})
