"""Shared fixtures: an isolated cache folder and small batches from the demo dataset."""

from __future__ import annotations

import os

import pytest
import torch
from torch.utils.data import default_collate

# Tiny models spend their time in thread hand-offs: on a shared 2-core machine one intra-op thread ran
# a reduced ConvNeXt forward in 0.03 s against 1.3 s with two.
torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory):
    """Keep the demo and any weights out of the user's cache; build the demo once per session."""
    cache = tmp_path_factory.mktemp("perceptbench-cache")
    previous = os.environ.get("PERCEPTBENCH_CACHE")
    os.environ["PERCEPTBENCH_CACHE"] = str(cache)
    yield cache
    if previous is None:
        os.environ.pop("PERCEPTBENCH_CACHE", None)
    else:
        os.environ["PERCEPTBENCH_CACHE"] = previous


@pytest.fixture(scope="session")
def demo_dataset(isolated_cache):
    from benchmark.datasets import load_dataset

    return load_dataset("demo")


@pytest.fixture(scope="session")
def hard_label_batch(demo_dataset):
    """Four demo triplets whose judges are unanimous (0 or 1), so the 2AFC score can reach 0."""
    positions = [i for i, t in enumerate(demo_dataset.triplets) if t.judge in (0.0, 1.0)][:4]
    return default_collate([demo_dataset[i] for i in positions]), positions


def small_model_kwargs(name: str) -> dict:
    """Tiny random-weight configurations for every family whose factory offers one (`reduced=True`)."""
    from model_zoo.registry import factory_accepts

    return {"reduced": True} if factory_accepts(name, "reduced") else {}


@pytest.fixture
def seeded():
    torch.manual_seed(0)
