"""Importing this module registers every built-in metric family."""
from . import clip, dino, finetuned, pixel, ssim  # noqa: F401
