"""Which samples of a dataset a run evaluates: all, the first N, or the first N of every split."""

from __future__ import annotations

import random
from collections import defaultdict


def select_positions(
    dataset,
    n_ex: int | None = None,
    n_ex_per_split: int | None = None,
    random_subset: int | None = None,
    seed: int = 0,
    only_splits: list[str] | None = None,
) -> list[int]:
    """Positions in dataset order; `n_ex_per_split` keeps the first N of each split (the paper's 1k
    per BAPPS split), then `n_ex` caps the total, then `random_subset` draws N of those with `seed`
    (kept in dataset order; a verification re-run of a submitted claim). `only_splits` first keeps the
    samples of those splits only (Table X attacks the unsafe queries only)."""
    positions = list(range(len(dataset)))
    if only_splits is not None:
        positions = [p for p in positions if dataset.sample_info(p)["split"] in only_splits]
    if n_ex_per_split is not None:
        taken: dict[str, int] = defaultdict(int)
        kept = []
        for position in positions:
            split = dataset.sample_info(position)["split"]
            if taken[split] < n_ex_per_split:
                taken[split] += 1
                kept.append(position)
        positions = kept
    positions = positions if n_ex is None else positions[:n_ex]
    if random_subset is not None and random_subset < len(positions):
        positions = sorted(random.Random(seed).sample(positions, random_subset))
    return positions
