"""The dataset registry, parametrised over every registered dataset as the model tests are over the zoo: where each
lives, what `bench data verify` and `bench data download` say of it, the facts its spec carries; and the one loader of
entry points every registry shares."""

from __future__ import annotations

import dataclasses
import sys
import textwrap

import pytest
from click.testing import CliRunner
from paper_data import write_installed_distribution

from benchmark.cli.bench import main
from benchmark.datasets import DatasetError, list_datasets, load_dataset, registry
from benchmark.datasets.verify import verify_dataset
from benchmark.protocol_choices import PROTOCOL_CHOICES
from benchmark.results import PAPER_SCORING
from benchmark.tasks import list_tasks
from benchmark.tasks.twoafc import TwoAFCTask
from leaderboard.reported import load_reported
from model_zoo.plugins import load_entry_points

SPECS = list_datasets()
UNDER_ROOT = [spec for spec in SPECS if spec.relative_path is not None]
NO_ROOT = [spec for spec in SPECS if spec.relative_path is None]


def test_the_registry_holds_the_built_in_datasets():
    names = {spec.name for spec in SPECS}
    assert {"demo", "bapps", "nights", "things", "detect", "roxford5k", "rparis6k", "imagenet", "imagefolder"} <= names


@pytest.mark.parametrize("spec", UNDER_ROOT, ids=lambda spec: spec.name)
def test_every_dataset_lives_under_the_data_root(spec, tmp_path):
    location = spec.location(tmp_path)
    assert location is not None and location.resolve().is_relative_to(tmp_path.resolve()) and location != tmp_path
    required = spec.required_path(tmp_path)
    assert required is not None and required.is_relative_to(location)
    assert not spec.is_available(tmp_path) and spec.local_copy(tmp_path) == f"missing: {required}"
    for download in spec.source.downloads:  # what `bench data download` unpacks lands under the root too
        assert (tmp_path / download.destination).resolve().is_relative_to(tmp_path.resolve())


@pytest.mark.parametrize("spec", UNDER_ROOT, ids=lambda spec: spec.name)
def test_every_verify_check_reports_a_missing_folder_in_one_line(spec, tmp_path):
    report = verify_dataset(spec.name, tmp_path)
    assert not report.ok and report.location == spec.location(tmp_path)
    (problem,) = report.problems
    assert "\n" not in problem and str(spec.location(tmp_path)) in problem and f"bench data download {spec.name}" in problem
    out = CliRunner().invoke(main, ["data", "verify", spec.name, "--data-root", str(tmp_path)])
    assert out.exit_code == 1 and out.output.count("problem:") == 1 and "Traceback" not in out.output


@pytest.mark.parametrize("spec", UNDER_ROOT, ids=lambda spec: spec.name)
def test_every_verify_check_reports_an_empty_folder_without_crashing(spec, tmp_path):
    """The dataset's own check (beside its loader) runs on an empty folder and names what is missing, with no traceback."""
    spec.location(tmp_path).mkdir(parents=True)
    report = verify_dataset(spec.name, tmp_path)
    assert not report.ok and all("\n" not in problem for problem in report.problems)


@pytest.mark.parametrize("spec", UNDER_ROOT, ids=lambda spec: spec.name)
def test_every_dataset_under_the_root_says_how_to_get_it(spec, tmp_path):
    assert spec.source.fetches_anything
    if not spec.source.downloads:  # a manual step only: printed with the data root filled in, nothing fetched
        out = CliRunner().invoke(main, ["data", "download", spec.name, "--data-root", str(tmp_path)])
        assert out.exit_code == 0 and f"manual step for {spec.name}" in out.output and str(tmp_path) in out.output
        assert "incomplete" in out.output


@pytest.mark.parametrize("spec", NO_ROOT, ids=lambda spec: spec.name)
def test_a_dataset_without_a_data_root_verifies_and_downloads_nothing(spec):
    out = CliRunner().invoke(main, ["data", "verify", spec.name], env={"PERCEPTBENCH_DATA": ""})
    assert out.exit_code == 0 and f"{spec.name} (needs no data root)" in out.output and "all checks passed" in out.output
    out = CliRunner().invoke(main, ["data", "download", spec.name], env={"PERCEPTBENCH_DATA": ""})
    assert out.exit_code == 0 and out.output == f"{spec.name}: nothing to download ({spec.local_copy(None)})\n"


def test_the_demo_check_counts_its_triplets():
    report = verify_dataset("demo", None)
    assert report.ok and report.facts[0].startswith("embedded: 240 triplets")


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.name)
def test_every_spec_names_a_registered_task_known_choices_and_its_own_splits(spec):
    assert spec.task in list_tasks()
    assert set(spec.choices) <= set(PROTOCOL_CHOICES)
    assert spec.default_split is None or not spec.splits or spec.default_split in spec.splits
    assert callable(spec.load) and callable(spec.verify)


@pytest.mark.parametrize("command", ["verify", "download"])
def test_data_commands_take_any_registered_name_and_suggest_close_ones(command, tmp_path):
    out = CliRunner().invoke(main, ["data", command, "nightz", "--data-root", str(tmp_path)])
    assert out.exit_code == 1 and out.output.count("\n") == 1
    assert out.output.startswith("Error: unknown dataset 'nightz'; did you mean 'nights'?") and "bench datasets" in out.output


def test_the_papers_scoring_is_that_of_registered_2afc_datasets():
    """benchmark/results.PAPER_SCORING (what the leaderboard files the paper's numbers under) agrees with the registry and the task."""
    reported = {score.dataset for score in load_reported()}
    two_afc = {spec.name for spec in SPECS if spec.task == "2afc"}
    assert set(PAPER_SCORING) == two_afc & reported == {"nights", "bapps"}
    assert set(PAPER_SCORING.values()) == {TwoAFCTask(labels="hard").scoring}


def test_a_loader_that_returns_no_dataset_is_refused_in_one_line(monkeypatch):
    spec = registry.get_dataset_spec("demo")
    monkeypatch.setitem(registry._DATASETS, "demo", dataclasses.replace(spec, load=lambda location, split, labels="hard": [1, 2]))
    with pytest.raises(DatasetError) as caught:
        load_dataset("demo")
    message = str(caught.value)
    assert "\n" not in message and "returned a list without name" in message and "DatasetBase" in message


def test_a_name_registered_twice_is_refused():
    spec = registry.get_dataset_spec("demo")
    with pytest.raises(ValueError, match="dataset 'demo' is registered twice"):
        registry.register_dataset(dataclasses.replace(spec, description="another demo"))


def test_the_shared_entry_point_loader_imports_modules_and_hands_objects_over(tmp_path, monkeypatch):
    source = textwrap.dedent(
        """
        IMPORTED = []
        IMPORTED.append("module")
        def thing():
            return "thing"
        """
    )
    site = write_installed_distribution(
        tmp_path, "acme_plugin", source, {"a-module": "acme_plugin", "a-thing": "acme_plugin:thing"}, group="acme.test"
    )
    monkeypatch.syspath_prepend(str(site))
    try:
        handed: list[tuple[str, object]] = []
        load_entry_points("acme.test", lambda name, loaded: handed.append((name, loaded)))
        assert [(name, loaded()) for name, loaded in handed] == [("a-thing", "thing")]  # the module is imported, not handed over
        assert sys.modules["acme_plugin"].IMPORTED == ["module"]
    finally:
        sys.modules.pop("acme_plugin", None)
