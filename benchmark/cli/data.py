"""`bench data download NAME` and `bench data verify NAME`, and `bench reproduce TABLE`."""

from __future__ import annotations

from pathlib import Path

import click
from tabulate import tabulate

from ..paper.experiments import CUSTOM_TABLES
from ..paper.tables import PAPER_TABLES
from .common import (
    batch_size_option,
    follow_links_option,
    model_options,
    n_ex_option,
    output_dir_option,
    parse_batch_size,
    parse_kwargs,
    split_list,
    user_errors,
)


def _require_root(data_root: str | None) -> Path:
    from ..datasets import DatasetError, resolve_data_root

    root = resolve_data_root(data_root)
    if root is None:
        raise DatasetError("no data root: pass --data-root DIR or set $PERCEPTBENCH_DATA")
    return root


@click.group()
def data() -> None:
    """Fetch and check the paper's datasets."""


@data.command()
@click.argument("name")
@click.option("--data-root", default=None, type=click.Path(file_okay=False), help="Root of datasets [default: $PERCEPTBENCH_DATA].")
@follow_links_option
@user_errors
def download(name, data_root):
    """Fetch what NAME publishes, verify checksums, unpack into the data root; say where to put the rest (`bench datasets` lists NAMEs)."""
    from ..datasets import get_dataset_spec
    from ..datasets.download import download_dataset
    from ..datasets.verify import verify_dataset

    spec = get_dataset_spec(name)  # an unknown name: the registry's error, with the closest names
    if not spec.source.fetches_anything:
        click.echo(f"{name}: nothing to download ({spec.local_copy(None)})")
        return
    root = _require_root(data_root)
    for instruction in download_dataset(name, root, progress=click.echo):
        click.echo(f"manual step for {name}: {instruction}")
    report = verify_dataset(name, root)
    click.echo(f"{name}: {'complete' if report.ok else 'incomplete, see `bench data verify ' + name + '`'}")


@data.command()
@click.argument("name")
@click.option("--data-root", default=None, type=click.Path(file_okay=False), help="Root of datasets [default: $PERCEPTBENCH_DATA].")
@follow_links_option
@user_errors
def verify(name, data_root):
    """Check a local copy of NAME (files, counts, csv columns, formats); exit 1 when something is wrong (`bench datasets` lists NAMEs)."""
    from ..datasets import get_dataset_spec
    from ..datasets.verify import verify_dataset

    spec = get_dataset_spec(name)  # an unknown name: the registry's error, with the closest names
    report = verify_dataset(name, _require_root(data_root) if spec.relative_path is not None else None)
    click.echo(f"{name} at {report.location}" if report.location is not None else f"{name} (needs no data root)")
    for fact in report.facts:
        click.echo(f"  ok: {fact}")
    for problem in dict.fromkeys(report.problems):  # splits that share a file (NIGHTS' test sets) find it once
        click.echo(f"  problem: {problem}")
    if not report.ok:
        raise click.exceptions.Exit(1)
    click.echo("  all checks passed")


@click.command(help=f"Run the paper's configuration for every cell of TABLE ({', '.join([*PAPER_TABLES, *CUSTOM_TABLES])}).")
@click.argument("table")
@click.option("--models", default=None, help="Comma-separated models to run instead of the table's own.")
@click.option("--dry-run", is_flag=True, help="Print the plan of runs and exit.")
@click.option("--data-root", default=None, type=click.Path(file_okay=False), help="Root of datasets [default: $PERCEPTBENCH_DATA].")
@output_dir_option("results", "Folder the result files and reproduce-<table>.json go in.")
@batch_size_option()
@n_ex_option("Cap every run at N samples (smoke runs; the paper's numbers need all).")
@click.option(
    "--dataset-option",
    "dataset_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A dataset option for the table's runs, e.g. table11's subset_ids=FILE (RobustBench's list of 5,000 ImageNet val ids).",
)
@model_options("Random weights (smoke runs; never ranked).")
@follow_links_option
@user_errors
def reproduce(
    table, models, dry_run, data_root, output_dir, device, batch_size, n_ex, dataset_options, random_weights, model_kwargs, quiet
):
    """`bench reproduce TABLE`: plan, and unless `--dry-run` run, every cell of a paper table."""
    from model_zoo import get_model_card, list_models
    from model_zoo.options import parse_model_options

    from ..paper.reproduce import PLAN_HEADERS, get_table, plan_table, run_table, table_choices, table_models

    batch_size = parse_batch_size(batch_size)
    model_list = split_list(models) if models else None
    typed_for = model_list or (table_models(table) if table not in CUSTOM_TABLES else [])
    known = set(list_models())
    typed_kwargs = parse_model_options([m for m in typed_for if m in known or ":" in m], model_kwargs)
    if table in CUSTOM_TABLES:  # tables that cross models (Table IV, VII): their own runners
        if dataset_options:
            raise ValueError(f"--dataset-option is for the tables planned as runs, not {table}")
        from ..paper.experiments import reproduce_custom

        return reproduce_custom(
            table,
            model_list,
            dry_run,
            data_root,
            output_dir,
            device,
            batch_size,
            n_ex,
            not random_weights,
            typed_kwargs,
            not quiet,
            click.echo,
        )
    spec = get_table(table)
    overrides = dict(
        data_root=data_root,
        device=device,
        batch_size=batch_size,
        n_ex=n_ex,
        pretrained=not random_weights,
        model_kwargs=typed_kwargs,
    )
    planned = plan_table(table, model_list, dataset_options=parse_kwargs(dataset_options), **overrides)
    for run in planned:  # refuse bad input before the plan is shown or any run starts, as `bench evaluate` does
        if run.runnable:
            run.config.validate(check_data=False)
    click.echo(f"{spec['title']}: {len(planned)} runs")
    if spec.get("note"):
        click.echo(f"note: {spec['note']}")
    for choice, reason in table_choices(table, planned).items():
        click.echo(f"choice ({choice}): {reason}")
    click.echo(tabulate([run.row() for run in planned], headers=PLAN_HEADERS, tablefmt="simple"))
    for model, path in {run.config.model: run.weights_to_place for run in planned if run.registered and not run.runnable}.items():
        click.echo(f"WEIGHTS NOT CACHED {model} ({get_model_card(model).weights.note}): put the file at {path} to run it")
    if spec.get("paper_numbers"):
        from ..paper.experiments import show_paper_numbers

        show_paper_numbers(spec["paper_numbers"], click.echo)
    if dry_run:
        return
    index = run_table(table, planned, Path(output_dir), progress=not quiet, echo=click.echo)
    click.echo(f"index of results: {index}")
