"""Paper plans that follow the authors' protocols: Table XI as RobustVLM's zero-shot evaluation, Table X unsafe -> safe only."""

from __future__ import annotations

from benchmark.reproduce import plan_table
from benchmark.runner import NO_ATTACK


def test_table11_robust_runs_are_robustvlms_attack_on_a_seeded_5000_subset():
    robust = [run for run in plan_table("table11", models=["clip-vit-b32"]) if run.config.attack != NO_ATTACK]
    assert [run.config.eps for run in robust] == ["2/255", "4/255"]
    for run in robust:
        c = run.config
        assert (c.attack, c.n_iter, c.n_restarts, c.random_subset, c.subset_seed) == ("apgd-ce-t", 100, 5, 5000, 0)
        assert "5000 drawn with seed 0" in run.row()[7]
