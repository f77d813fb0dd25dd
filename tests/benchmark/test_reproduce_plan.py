"""`bench reproduce TABLE --dry-run` plans exactly the paper's rows: its models are the rows of the stored paper
table, every stored column is filled by a planned run, no planned run fills nothing, and every run uses the
attack budget and sample count the paper states (Sec. V, App. B captions; REFERENCE.md)."""

import pytest
from click.testing import CliRunner

from benchmark.cli.bench import main
from benchmark.paper.reproduce import PlannedRun, get_table, plan_table, table_models, weights_status
from benchmark.paper.tables import NOT_IN_ZOO, PAPER_TABLES
from leaderboard.reported import table_rows_and_columns
from model_zoo import list_models

TABLES_WITH_NUMBERS = [name for name, table in PAPER_TABLES.items() if "reported" in table]


def paper_protocol(run: PlannedRun) -> dict:
    """What the paper states for a run on this dataset: (iterations, eps, samples) as plan fields."""
    c = run.config
    if c.attack == "none":
        return {"n_ex": None, "n_ex_per_split": None}  # clean scores always on the full set
    common = {"attack": "apgd-ce", "n_restarts": 1, "n_ex": None}
    if c.dataset == "nights":  # full test set, 100 iterations (Table VI / Fig. 8 vary the iterations)
        return {**common, "n_ex_per_split": None, "eps": {"linf": "4/255", "l2": "3.0"}[c.threat]}
    if c.dataset == "bapps":  # robust accuracy on 1k per split (Table II, XV captions)
        return {**common, "n_iter": 100, "n_ex_per_split": 1000, "eps": {"linf": "4/255", "l2": "3.0"}[c.threat]}
    if (c.dataset, c.split) == ("detect", "nsfw"):  # Sec. V-A: 200 iterations at 8/255, all 1000 queries per class
        return {**common, "threat": "linf", "eps": "8/255", "n_iter": 200, "n_ex_per_split": None}
    if (c.dataset, c.split) == ("detect", "guns"):  # App. B-G: 500 iterations at 8/255 on 1k unsafe queries
        return {**common, "threat": "linf", "eps": "8/255", "n_iter": 500, "n_ex_per_split": 1000}
    if c.dataset in ("roxford5k", "rparis6k"):  # App. B-F: 100 iterations at 4/255, all 70 queries
        return {**common, "threat": "linf", "eps": "4/255", "n_iter": 100, "n_ex_per_split": None}
    raise AssertionError(f"no paper protocol known for an attacked run on {c.dataset} {c.split}")


def fills(run: PlannedRun, column: tuple[str, str | None, str, str]) -> bool:
    """Whether the run's result lands in this stored column (a run over a dataset's splits fills each split's table)."""
    dataset, split, threat, metric = column
    c = run.config
    if c.dataset != dataset:
        return False
    if not (c.split is None or split == c.split or (split or "").startswith(c.split + "-")):
        return False  # detection splits are "<configuration>-<query class>-query"
    if metric.startswith("score_") and metric.endswith("it"):  # Table VI: robust score after N iterations
        n_iter = int(metric.removeprefix("score_").removesuffix("it"))
        if n_iter == 0:
            return c.attack == "none"
        return c.attack != "none" and c.n_iter == n_iter and f"{c.threat} {c.eps}" == threat
    if threat == "clean":
        return True  # every run scores the clean samples too
    return c.attack != "none" and f"{c.threat} {c.eps}" == threat


@pytest.mark.parametrize("name", TABLES_WITH_NUMBERS)
def test_reproduce_plans_exactly_the_rows_and_columns_of_the_paper_table(name):
    models, columns = table_rows_and_columns(PAPER_TABLES[name]["reported"])
    planned = plan_table(name)
    assert table_models(name) == models
    assert [run.config.model for run in planned] == [model for model in models for _ in PAPER_TABLES[name]["runs"]]
    for model in models:
        runs = [run for run in planned if run.config.model == model]
        unfilled = [column for column in columns if not any(fills(run, column) for run in runs)]
        assert unfilled == [], f"{name}: no planned run fills {unfilled}"
        idle = [run.row() for run in runs if not any(fills(run, column) for column in columns)]
        assert idle == [], f"{name}: planned runs that fill no column of the paper's table: {idle}"
    for run in planned:
        for field, value in paper_protocol(run).items():
            assert getattr(run.config, field) == value, (
                f"{name}: {run.row()} has {field}={getattr(run.config, field)!r}, the paper {value!r}"
            )


@pytest.mark.parametrize("name", TABLES_WITH_NUMBERS)
def test_dry_run_lists_every_paper_row_and_says_why_one_is_not_run(name):
    out = CliRunner().invoke(main, ["reproduce", name, "--dry-run"])
    assert out.exit_code == 0, out.output
    models = table_models(name)
    n_runs = len(models) * len(PAPER_TABLES[name]["runs"])
    assert out.output.splitlines()[0].endswith(f": {n_runs} runs")
    rows = [line for line in out.output.splitlines() if line.split(" ", 1)[0] in models or line.startswith("dreamsim-ensemble (")]
    assert len(rows) == n_runs
    runnable = {run.config.model: run.runnable for run in plan_table(name)}
    known = set(list_models())
    for line in rows:
        model = next(m for m in sorted(models, key=len, reverse=True) if line.startswith(m + " "))
        if model not in known:
            assert line.rstrip().endswith(f"NOT IN ZOO: {NOT_IN_ZOO[model]}"), line
        else:
            expected = weights_status(model) if runnable[model] else "WEIGHTS NOT CACHED"
            assert line.rstrip().endswith(" " + expected), line
    for model in known & set(models):
        if not runnable[model]:  # weights with no public download: where to put them, and why they are missing
            assert f"WEIGHTS NOT CACHED {model} (" in out.output and "put the file at" in out.output


def test_a_model_whose_weights_were_never_published_is_reported_not_run(tmp_path, isolated_cache):
    planned = plan_table("table12", models=["r-dino-f-vit-b16", "clip-convnext"])
    assert [run.runnable for run in planned] == [False, True]
    assert planned[0].skip_reason == f"its weights have no public download; put the file at {planned[0].weights_to_place}"
    assert planned[0].weights_to_place.parent.is_relative_to(isolated_cache)
    assert all(run.runnable for run in plan_table("table12", models=["r-dino-f-vit-b16"], pretrained=False))
    planned[0].weights_to_place.parent.mkdir(parents=True, exist_ok=True)
    planned[0].weights_to_place.write_bytes(b"placed by hand")
    assert plan_table("table12", models=["r-dino-f-vit-b16"])[0].runnable
    planned[0].weights_to_place.unlink()


def test_every_model_the_zoo_lacks_has_a_reason():
    known = set(list_models())
    missing = {model for name in PAPER_TABLES for model in table_models(name)} - known
    assert missing == set(NOT_IN_ZOO)


def test_coverage_of_the_paper_tables_the_zoo_can_run():
    """The rows planned per table (from the dry runs); Tables IV and VII have their own runners (benchmark/paper/experiments.py)."""
    planned = {name: len(table_models(name)) for name in PAPER_TABLES}
    assert planned == {
        "table1": 25,
        "table2": 17,
        "table3": 13,
        "table6": 1,
        "table8": 16,
        "table9": 17,
        "table10": 13,
        "table10-safe-to-unsafe": 13,
        "table11": 9,
        "table12": 13,
        "table13": 43,
        "table14": 43,
        "table15": 43,
        "fig7": 3,
        "fig8": 1,
    }


def test_options_left_unset_keep_the_papers_values_and_set_ones_override_them():
    paper = plan_table("table10", data_root=None, n_ex=None)
    assert [run.config.n_ex_per_split for run in paper[:2]] == [None, 1000]
    smoke = plan_table("table10", models=["pixel-l2"], n_ex=5, device="cpu")
    assert [(run.config.n_ex, run.config.n_ex_per_split) for run in smoke] == [(5, None), (5, 1000)]


def test_an_unknown_table_lists_every_table_reproduce_knows_including_the_cross_model_ones():
    from benchmark.paper.experiments import CUSTOM_TABLES

    with pytest.raises(ValueError, match="choose one of") as raised:
        get_table("table5")
    listed = raised.value.args[0].split("choose one of ")[1].rstrip(")").split(", ")
    assert set(listed) == {*PAPER_TABLES, *CUSTOM_TABLES} and {"table4", "table7"} <= set(listed)
    assert listed.index("table2") < listed.index("table10")


def test_the_plans_weights_column_says_whether_weights_are_cached_or_downloadable(isolated_cache, monkeypatch):
    assert weights_status("ssim") == "none needed"
    assert weights_status("clip-convnext", pretrained=False) == "random (smoke)"
    monkeypatch.delenv("PERCEPTBENCH_OFFLINE", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    online = weights_status("r-clip-f-convnext")
    monkeypatch.setenv("PERCEPTBENCH_OFFLINE", "1")
    assert (online, weights_status("r-clip-f-convnext")) == ("downloads", "offline, not cached")
    out = CliRunner().invoke(main, ["reproduce", "table12", "--models", "r-clip-f-convnext", "--dry-run"])
    assert out.exit_code == 0 and "offline, not cached" in out.output and " yes" not in out.output, out.output
