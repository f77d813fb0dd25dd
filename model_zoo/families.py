"""Importing this module registers every built-in metric family (the leaderboard's grouping of families into kinds
is leaderboard/families.py, read from result files)."""

from . import clip, dino, dreamsim, finetuned, iqa, laion_nsfw, lipsim, lpips_models, pixel, ssim  # noqa: F401
