"""`bench reproduce TABLE`: the paper's configuration for every cell of a table, planned and run.

The configurations are data (`paper/tables.py`); a table's models are the rows of the paper's numbers
stored in `leaderboard/data/`. This module turns them into `EvaluationConfig`s, prints the plan, and
runs it with the one runner.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from attacks.threat import DEFAULT_EPS
from model_zoo import get_model_card, list_models
from model_zoo.download import cached_path
from model_zoo.fetch import is_offline

from ..datasets import DatasetError, get_dataset_spec, resolve_data_root
from ..datasets.subset_ids import HOW_TO_GET_THE_LIST, read_subset_ids
from ..protocol_choices import PROTOCOL_CHOICES
from ..runner import NO_ATTACK, EvaluationConfig
from ..runtime.atomic import atomic_write_text
from .tables import NOT_IN_ZOO, PAPER_TABLES

DEFAULT_ATTACK = "apgd-ce"
SUBSET_IDS = "subset_ids"  # the dataset option naming a fixed list of images (benchmark/datasets/subset_ids.py)
SEEDED_SUBSET_CHOICE = "imagenet_seeded_subset"


@dataclass
class PlannedRun:
    """One cell of a paper table: its evaluation configuration and whether it can run here."""

    config: EvaluationConfig
    registered: bool  # False: the local zoo has no such model; reported, not run
    weights_to_place: Path | None = None  # weights with no public download, not in the cache: reported, not run
    weights: str = ""  # the plan's weights column: cached, downloads, none needed, random, ... (`weights_status`)

    @property
    def runnable(self) -> bool:
        """Registered in the zoo and with its weights at hand."""
        return self.registered and self.weights_to_place is None

    @property
    def skip_reason(self) -> str:
        """Why a row is reported, not run ('' when it runs)."""
        if not self.registered:
            return NOT_IN_ZOO.get(self.config.model, "not registered")
        if self.weights_to_place is not None:
            return f"its weights have no public download; put the file at {self.weights_to_place}"
        return ""

    def row(self) -> list[str]:
        """The run's line in the printed plan (columns of PLAN_HEADERS)."""
        c = self.config
        clean_only = c.attack == NO_ATTACK
        threat = "clean only" if clean_only else c.threat
        eps = "-" if clean_only else c.eps or DEFAULT_EPS.get(c.threat, "default")
        iterations = "-" if clean_only else f"{c.n_iter}x{c.n_restarts}"
        if c.n_ex_per_split:
            samples = f"first {c.n_ex_per_split} per split"
        else:
            samples = f"first {c.n_ex}" if c.n_ex else "all"
        if c.only_splits:
            samples = f"{samples} of {', '.join(c.only_splits)}"
        if c.random_subset:
            samples = f"{c.random_subset} drawn with seed {c.subset_seed} from {samples}"
        if c.dataset_options.get(SUBSET_IDS):
            subset = read_subset_ids(c.dataset_options[SUBSET_IDS])
            listed = "RobustBench's list" if subset.is_robustbench_list else "a user list, not RobustBench's"
            samples = f"the {len(subset.ids)} ids of {subset.path.name} ({listed})"
        return [
            c.model,
            c.dataset,
            c.split or "all splits",
            threat,
            eps,
            c.attack,
            iterations,
            samples,
            self.weights if self.runnable else "WEIGHTS NOT CACHED" if self.registered else f"NOT IN ZOO: {self.skip_reason}",
        ]


PLAN_HEADERS = ["model", "dataset", "split", "threat", "eps", "attack", "iterations", "samples", "weights"]


def weights_status(model: str, pretrained: bool = True) -> str:
    """The plan's weights column for a registered model: whether its weights are here or can be had before it runs.

    "cached" (in the weights cache), "downloads" (hub or URL, fetched on first use), "offline, not cached"
    (it will fail: PERCEPTBENCH_OFFLINE is set and the file is missing), "package NAME", "none needed" or
    "random (smoke)"; weights with no public download and no file are `weights_to_place`.
    """
    if not pretrained:
        return "random (smoke)"
    card = get_model_card(model)
    if not card.needs_weights:
        return "none needed"
    weights = card.weights
    if weights.package:
        return f"package {weights.package}"
    try:
        cached = cached_path(weights).exists()
    except ValueError:  # a source naming no single file (e.g. open_clip's own download): not ours to check
        cached = False
    if cached:
        return "cached"
    if weights.hub_id or weights.url:
        return "offline, not cached" if is_offline() else "downloads"
    return "not cached"


def _table_number(name: str) -> tuple[bool, int, str]:
    """table2 before table10, figures after tables: the order the paper numbers them."""
    number = re.search(r"\d+", name)
    return (not name.startswith("table"), int(number.group()) if number else 0, name)


def get_table(name: str) -> dict:
    """The configuration of paper table `name`, or an error suggesting close names."""
    if name not in PAPER_TABLES:
        from .experiments import CUSTOM_TABLES  # table4 and table7 have their own runners, and are tables too

        names = [*PAPER_TABLES, *CUSTOM_TABLES]
        close = difflib.get_close_matches(name, names, n=2, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown table '{name}'{hint} (choose one of {', '.join(sorted(names, key=_table_number))})")
    return PAPER_TABLES[name]


def table_models(name: str) -> list[str]:
    """The paper's rows of table `name`: those of its stored numbers, or the list a figure names."""
    table = get_table(name)
    if "models" in table:
        return list(table["models"])
    from leaderboard.reported import table_rows_and_columns

    return table_rows_and_columns(table["reported"])[0]


def weights_to_place(model: str) -> Path | None:
    """Where a registered model's weights must be put by hand, when they have no public download and are not there yet."""
    card = get_model_card(model)
    weights = card.weights
    if not card.needs_weights or weights.hub_id or weights.url or weights.package:
        return None
    path = cached_path(weights)
    return None if path.exists() else path


def run_fields(run: dict[str, Any], dataset_options: dict[str, Any]) -> dict[str, Any]:
    """One run's configuration with the user's dataset options: each applies to every run, except a run's
    `subset_option` (Table XI's `subset_ids`), which only the runs naming it take, in place of their seeded draw."""
    fields = dict(run)
    subset_option = fields.pop("subset_option", None)
    options = dict(fields.get("dataset_options", {}))
    for key, value in dataset_options.items():
        if key == subset_option:
            options[key] = value
            fields.pop("random_subset", None)
            fields.pop("subset_seed", None)
        elif key != SUBSET_IDS or subset_option is not None:
            options[key] = value
    accepted = get_dataset_spec(fields["dataset"]).options
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise DatasetError(
            f"dataset '{fields['dataset']}' of this table has no option {', '.join(unknown)} (accepted: {', '.join(accepted) or 'none'})"
        )
    if options:
        fields["dataset_options"] = options
    return fields


def plan_table(name: str, models: list[str] | None = None, dataset_options: dict[str, Any] | None = None, **overrides) -> list[PlannedRun]:
    """Every run of table `name` (for `models`, default the paper's), as the paper configured it.

    `overrides` set run-independent fields (data_root, device, batch_size, pretrained, n_ex, ...);
    one left at None keeps the paper's value (e.g. a run's own sample count). `dataset_options`
    (`--dataset-option`) go to the runs as `run_fields` says.
    """
    table = get_table(name)
    known = set(list_models())
    given = {key: value for key, value in overrides.items() if value is not None}
    if SUBSET_IDS in (dataset_options or {}) and not any(run.get("subset_option") == SUBSET_IDS for run in table["runs"]):
        raise DatasetError(f"no run of {name} takes --dataset-option {SUBSET_IDS} (table11's robust runs do)")
    runs = [run_fields(run, dataset_options or {}) for run in table["runs"]]
    planned = []
    for model in models or table_models(name):
        registered = model in known or ":" in model
        pretrained = given.get("pretrained", True)
        to_place = weights_to_place(model) if model in known and pretrained else None
        weights = weights_status(model, pretrained) if model in known else ""
        for fields in runs:
            planned.append(
                PlannedRun(EvaluationConfig(model=model, **{"attack": DEFAULT_ATTACK, **fields, **given}), registered, to_place, weights)
            )
    return planned


def table_choices(name: str, planned: list[PlannedRun]) -> dict[str, str]:
    """The choices a table's plan makes where the paper is silent (its own, and the seeded draw where a run
    that could take a fixed list did not get one), each with its reason: printed with the plan, kept in its index."""
    names = list(get_table(name).get("choices", ()))
    takes_a_list = any("subset_option" in run and run.get("random_subset") for run in get_table(name)["runs"])
    seeded = takes_a_list and not any(SUBSET_IDS in p.config.dataset_options for p in planned)
    if seeded:
        names.append(SEEDED_SUBSET_CHOICE)
    choices = {choice: PROTOCOL_CHOICES[choice] for choice in names}
    if seeded:
        choices[SEEDED_SUBSET_CHOICE] += f"; to run on RobustVLM's list, {HOW_TO_GET_THE_LIST}"
    return choices


def run_table(name: str, planned: list[PlannedRun], output_dir: Path, progress: bool = True, echo: Callable[[str], None] = print) -> Path:
    """Run every planned run whose model is in the zoo; write an index of the result files."""
    from ..runner import run_evaluation

    # Missing data first: one message naming every dataset the table needs.
    missing = sorted(
        {
            run.config.dataset
            for run in planned
            if run.runnable and not get_dataset_spec(run.config.dataset).is_available(resolve_data_root(run.config.data_root))
        }
    )
    if missing:
        raise DatasetError(
            f"{name} needs dataset(s) {', '.join(missing)}, not found under the data root "
            f"({resolve_data_root(planned[0].config.data_root)}); `bench data download NAME` fetches each or says where to put it"
        )
    for run in planned:  # refuse bad input before the first run starts
        if run.runnable:
            run.config.validate()
    runs: list[dict[str, Any]] = []
    index = {"table": name, "title": get_table(name)["title"], "choices": table_choices(name, planned), "runs": runs}
    for run in planned:
        entry: dict[str, Any] = {"config": asdict(run.config)}
        if not run.registered:
            entry["skipped"] = f"model '{run.config.model}' is not in the zoo: {run.skip_reason}"
            echo(f"skip {run.config.model}: not in the zoo, {run.skip_reason} (`bench models` lists what is)")
        elif not run.runnable:
            entry["skipped"] = f"model '{run.config.model}': {run.skip_reason}"
            echo(f"skip {run.config.model}: {run.skip_reason}")
        else:
            result, path = run_evaluation(run.config, output_dir, progress=progress, validated=True)
            robust = result.scores.robust if result.attack is not None else None
            entry.update(result_file=str(path), clean=result.scores.clean, robust=robust, weights=result.weights)
            shown = f" robust {robust:.4f}" if robust is not None else ""
            echo(
                f"{run.config.model} {run.config.dataset} {' '.join(run.row()[2:6])}: clean {result.scores.clean or 0.0:.4f}{shown} -> {path}"
            )
        runs.append(entry)
    return atomic_write_text(Path(output_dir) / f"reproduce-{name}.json", json.dumps(index, indent=2) + "\n")
