"""Paper plans that follow the authors' protocols: Table XI as RobustVLM's zero-shot evaluation, Table X unsafe -> safe only."""

from __future__ import annotations

from benchmark.paper.reproduce import plan_table
from benchmark.runner import NO_ATTACK


def test_table11_robust_runs_are_robustvlms_attack_on_a_seeded_5000_subset():
    robust = [run for run in plan_table("table11", models=["clip-vit-b32"]) if run.config.attack != NO_ATTACK]
    assert [run.config.eps for run in robust] == ["2/255", "4/255"]
    for run in robust:
        c = run.config
        assert (c.attack, c.n_iter, c.n_restarts, c.random_subset, c.subset_seed) == ("apgd-ce-t", 100, 5, 5000, 0)
        assert "5000 drawn with seed 0" in run.row()[7]


def test_table10_attacks_the_unsafe_queries_only_and_the_safe_direction_is_an_extra():
    robust = [run.config for run in plan_table("table10", models=["pixel-l2"]) if run.config.attack != NO_ATTACK]
    assert [c.only_splits for c in robust] == [["guns-unsafe-query"]]
    extra = [run.config for run in plan_table("table10-safe-to-unsafe", models=["pixel-l2"])]
    assert [c.only_splits for c in extra] == [["guns-safe-query"]]


def test_only_splits_keeps_the_samples_of_those_splits():
    from benchmark.sampling import select_positions

    class Queries:
        splits = ["guns-safe-query"] * 3 + ["guns-unsafe-query"] * 2

        def __len__(self):
            return len(self.splits)

        def sample_info(self, position):
            return {"split": self.splits[position]}

    assert select_positions(Queries(), only_splits=["guns-unsafe-query"]) == [3, 4]
    assert select_positions(Queries(), n_ex_per_split=1, only_splits=["guns-safe-query"]) == [0]


def test_result_records_the_choices_made_where_the_paper_is_silent(tmp_path):
    from paper_data import write_bapps_split

    from benchmark.protocol_choices import PROTOCOL_CHOICES
    from benchmark.runner import EvaluationConfig, run_evaluation

    write_bapps_split(tmp_path / "bapps" / "2afc" / "val", "cnn", [0.0, 1.0])
    config = EvaluationConfig(model="pixel-l2", dataset="bapps", split="cnn", data_root=str(tmp_path), attack="none")
    result, _ = run_evaluation(config, tmp_path / "results", progress=False)
    assert result.protocol["choices"] == {"clean_wrong_counts_as_broken": PROTOCOL_CHOICES["clean_wrong_counts_as_broken"]}
