"""`bench campaign`: run a paper table's plan or a campaign file as one submitit job per `bench evaluate`, and watch it.

Heavy imports (torch, submitit, the runner) happen inside the commands, so `bench --help` stays light.
"""

from __future__ import annotations

from pathlib import Path

import click

from .common import n_ex_option, split_list, user_errors


@click.group()
def campaign() -> None:
    """Campaigns: many evaluations, one job each, on Slurm or on this machine (submitit)."""


def _slurm_options(source_options, flags: dict):
    """The file's Slurm options with the flags that were given laid over them."""
    given = {key: value for key, value in flags.items() if value is not None}
    return source_options.model_copy(update=given)


@campaign.command("run")
@click.argument("source")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--executor", default="slurm", show_default=True, type=click.Choice(["slurm", "local"]), help="Where jobs run.")
@click.option("--output-dir", default=None, type=click.Path(file_okay=False), help="Results folder [default: DIRECTORY/results].")
@click.option("--partition", default=None, help="Slurm partition [default: the cluster's].")
@click.option("--account", default=None, help="Slurm account to charge.")
@click.option("--gpus-per-job", default=None, type=int, help="GPUs per job; more than 1 runs torchrun inside the job [default: 1].")
@click.option("--cpus-per-job", default=None, type=int, help="CPUs per job [default: 8].")
@click.option("--time-limit", "time_limit_min", default=None, type=int, help="Minutes per job; then requeued and resumed [default: 240].")
@click.option("--array-parallelism", default=None, type=int, help="Slurm array jobs running at once [default: 64].")
@click.option("--local-processes", default=None, type=int, help="Local executor: jobs at once [default: 1].")
@click.option("--device", default=None, help="Device of every run that names none [default: cuda on Slurm, cpu locally].")
@click.option("--models", default=None, help="A table's models to run instead of the paper's (comma-separated).")
@click.option("--data-root", default=None, type=click.Path(file_okay=False), help="Root of datasets (a table's runs).")
@n_ex_option("Cap a table's runs at N samples (smoke runs).")
@click.option("--random-weights", is_flag=True, help="A table's runs with random weights (smoke runs; never ranked).")
@click.option("--dry-run", is_flag=True, help="Print the runs and the job options, submit nothing.")
@user_errors
def run_command(source, directory, executor, output_dir, models, data_root, n_ex, random_weights, device, dry_run, **flags):
    """Run SOURCE (a `bench reproduce` table name, or a YAML/JSON campaign file) in the campaign folder DIRECTORY.

    One job per configuration, each the `bench evaluate` of that configuration writing its usual result
    file. Re-running skips what is done and resubmits what failed; jobs resume from their checkpoints.
    """
    from ..paper.tables import PAPER_TABLES
    from .campaign_jobs import CAMPAIGN_FILE, Campaign, CampaignFile, build_campaign, configs_from_entries, read_campaign_file, start

    device = device or ("cuda" if executor == "slurm" else None)
    if source in PAPER_TABLES:
        from ..paper.reproduce import plan_table

        planned = plan_table(
            source,
            split_list(models) if models else None,
            data_root=data_root,
            device=device,
            n_ex=n_ex,
            pretrained=False if random_weights else None,
        )
        for skipped in (p for p in planned if not p.runnable):
            click.echo(f"skip {skipped.config.model}: {skipped.skip_reason}")
        configs = [p.config for p in planned if p.runnable]
        source_file = CampaignFile(runs=[])
    elif Path(source).is_file():
        source_file = read_campaign_file(source)
        configs = configs_from_entries(source_file.runs, device or source_file.device)
    elif not Path(source).suffix:
        from ..paper.reproduce import get_table

        get_table(source)  # an unknown table, with close names
        raise AssertionError("unreachable: get_table refuses what PAPER_TABLES lacks")
    else:
        raise ValueError(f"campaign file {source} not found; give a YAML/JSON file or a table ({', '.join(PAPER_TABLES)})")
    if output_dir is None and (Path(directory) / CAMPAIGN_FILE).is_file():
        output_dir = Campaign.load(directory).output_dir  # a re-run keeps the folder the first run chose
    built = build_campaign(directory, configs, output_dir, executor, _slurm_options(source_file.slurm, flags))
    click.echo(f"{len(built.runs)} runs, {executor} executor, options {built.slurm.model_dump()}; results in {built.output_dir}")
    if dry_run:
        return
    built.save()
    submitted = start(built)
    click.echo(f"submitted {len(submitted)} job(s); `bench campaign status {directory}` shows where each stands")
    _echo_status(built)


def _echo_status(record) -> dict[str, int]:
    from tabulate import tabulate

    from .campaign_jobs import STATES, STATUS_HEADERS, campaign_status

    rows = campaign_status(record)
    click.echo(tabulate([r.row() for r in rows], headers=STATUS_HEADERS, tablefmt="simple", disable_numparse=True))
    counts = {state: sum(r.state == state for r in rows) for state in STATES}
    click.echo(", ".join(f"{n} {state}" for state, n in counts.items()))
    return counts


@campaign.command("status")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option("--retry-failed", is_flag=True, help="Submit the failed runs again (they resume from their checkpoints).")
@user_errors
def status_command(directory, retry_failed):
    """A table of every run of the campaign in DIRECTORY: state, job id, elapsed time, log, last error line."""
    from .campaign_jobs import Campaign, start

    record = Campaign.load(directory)
    if retry_failed:
        retried = start(record, states=("failed",))
        click.echo(f"resubmitted {len(retried)} failed run(s)")
    _echo_status(record)
