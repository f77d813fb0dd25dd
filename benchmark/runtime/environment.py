"""What a result needs to be traced: package versions, device, code revision."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

TRACKED_PACKAGES = ("perceptbench", "torch", "torchvision", "open_clip_torch", "timm", "numpy")


def package_versions() -> dict[str, str]:
    """Python's version and each tracked package's ('not installed' when absent), to trace a result."""
    versions = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def device_description(device: torch.device | str) -> str:
    """The GPU's name, or the CPU and its thread count: timings mean little without it."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def git_revision() -> str | None:
    """The commit of the perceptbench checkout, when run from one."""
    try:
        output = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return output.stdout.strip() or None if output.returncode == 0 else None


def environment(device: torch.device | str) -> dict:
    """Versions, device, platform, code revision and command line, recorded beside every result."""
    return {
        "versions": package_versions(),
        "device": device_description(device),
        "platform": platform.platform(),
        "git_revision": git_revision(),
        "command": " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:]),
    }
