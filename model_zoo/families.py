"""Importing this module registers every built-in metric family."""
from . import clip, pixel, ssim  # noqa: F401
