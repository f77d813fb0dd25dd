"""Importing this module registers every built-in metric family."""
from . import clip, dino, finetuned, lpips_models, pixel, ssim  # noqa: F401
