"""Importing this module registers every built-in metric family; `family_group` says which kind of metric a card's family is.

The leaderboard groups its rows by these kinds so the site reads as "every perceptual metric, one protocol".
"""

from . import clip, dino, dreamsim, finetuned, iqa, laion_nsfw, lipsim, lpips_models, pixel, ssim  # noqa: F401

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
}


def family_group(family: str) -> str:
    """The kind of metric a card's family is; 'other' for a family we do not know (a third party's)."""
    return FAMILY_GROUPS.get(family, "other")
