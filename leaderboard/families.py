"""Which kind of metric a card's `family` is: the leaderboard groups its rows by these kinds so the site reads as
"every perceptual metric, one protocol".

It reads the family a result file's card names, so the leaderboard needs no model registry (tests/benchmark/
test_results.py); a new built-in family adds its line here (tests/leaderboard/test_families.py checks every one has).
"""

from __future__ import annotations

# A card's `family` -> the kind of metric it is (one place; the leaderboard's frame, CSV and site read it).
FAMILY_GROUPS: dict[str, str] = {
    "iqa": "IQA",
    "clip": "CLIP-based",
    "robust-clip": "CLIP-based",
    "robust-clip-nights": "CLIP-based",
    "nsfw-detector": "CLIP-based",
    "dino": "DINO",
    "robust-dino": "DINO",
    "lpips": "LPIPS-style",
    "dreamsim": "DreamSim",
    "lipsim": "LipSim",
    "classical": "pixel",
    "finetuned": "fine-tuned here",  # a `bench finetune` output folder (model_zoo/trained_folder.py)
    "custom": "other",  # a metric registered without a card (model_zoo/registry.py)
}


def family_group(family: str) -> str:
    """The kind of metric a card's family is; 'other' for a family we do not know (a third party's)."""
    return FAMILY_GROUPS.get(family, "other")
