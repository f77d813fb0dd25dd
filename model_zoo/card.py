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
    """Everything a leaderboard row or a paper table needs to say about a metric."""

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
    has_embedding: bool = True
    parameters: int | None = None  # of the network that computes the metric (image tower, heads included)
    sim_range: tuple[float | None, float | None] = (-1.0, 1.0)  # documented range of `sim`; None = unbounded
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_weights(self) -> bool:
        return self.weights is not NO_WEIGHTS and self.weights != NO_WEIGHTS

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["sim_range"] = list(self.sim_range)  # the JSON form, so cards round-trip through result files
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        data = dict(data)
        data["weights"] = WeightsSource(**data.get("weights", {}))
        if "sim_range" in data:
            data["sim_range"] = tuple(data["sim_range"])
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})
