"""Importing this module registers every built-in metric family."""

from . import clip, dino, dreamsim, finetuned, iqa, laion_nsfw, lipsim, lpips_models, pixel, ssim  # noqa: F401
