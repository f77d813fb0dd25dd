"""`bench submit`, `bench verify-submission` and `bench results`."""

from __future__ import annotations

import click

from attacks.threat import NORMS

from .common import (
    FiniteNumber,
    attack_budget_options,
    batch_size_option,
    data_root_option,
    evaluation_options,
    follow_links_option,
    output_dir_option,
    parse_batch_size,
    split_list,
    trusted_key_option,
    user_errors,
)

# The `status` column of `bench results` (leaderboard/frame.py documents each); README's "Statuses" are the labels shown.
RESULT_STATUSES = ("measured", "random", "flagged", "submitted", "verified", "reported")


@click.command()
@click.option("--model", required=True, help="Registered name, entry-point name or pkg.module:factory of the metric.")
@output_dir_option(None, "Submission folder to write, e.g. submissions/NAME.", dest="out_dir", required=True)
@click.option(
    "--card",
    "card_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="JSON with authors, link, license, weights, ... (completes the registry's card).",
)
@click.option("--smoke", is_flag=True, help="Evaluate on the demo only (a smoke submission, marked so; never ranked beside full ones).")
@click.option("--threat", "threats", default=",".join(NORMS), show_default=True, help="Threat models to evaluate.")
@evaluation_options(n_ex_help="Evaluate the first N samples only (smoke runs).")
@attack_budget_options("APGD iterations of the standard ensemble.")
@user_errors
def submit(model, out_dir, card_file, smoke, threats, device, data_root, batch_size, n_ex, n_iter, square_queries, model_kwargs, quiet):
    """Check a metric and write a submission folder: card, checks, standard-ensemble results, environment."""
    from attacks.threat import ThreatModel
    from model_zoo.options import parse_model_options

    from ..submissions.submission import create_submission

    threat_names = tuple(split_list(threats, "--threat"))
    for threat in threat_names:  # refused before the checks and runs start
        ThreatModel.from_text(threat)

    record = create_submission(
        model,
        out_dir,
        card_file=card_file,
        smoke=smoke,
        threats=threat_names,
        device=device,
        data_root=data_root,
        progress=not quiet,
        echo=click.echo,
        batch_size=parse_batch_size(batch_size),
        n_ex=n_ex,
        n_iter=n_iter,
        square_queries=square_queries,
        model_kwargs=parse_model_options([model], model_kwargs),
    )
    flags = f" (flagged: {'; '.join(record.flags)})" if record.flags else ""
    click.echo(f"submission written to {out_dir}{flags}; next: bench verify-submission {out_dir}")


@click.command("verify-submission")
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@click.option("--n", "n_samples", default=200, show_default=True, type=int, help="Samples re-run per result file (dataset and threat).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the random subset.")
@click.option(
    "--confidence",
    default=0.99,
    show_default=True,
    type=FiniteNumber(0.0, 1.0, low_open=True, high_open=True),
    help="Confidence of the Wilson interval a claim must fall in.",
)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@data_root_option()
@batch_size_option(None)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@follow_links_option
@user_errors
def verify_submission_command(folder, n_samples, seed, confidence, device, data_root, batch_size, quiet):
    """Re-run a seeded random subset of a submission and sign a statement of which claims lie in the re-run's interval.

    The statement is signed with $PERCEPTBENCH_SIGNING_KEY, else with this machine's key (created on first use
    in the cache folder); others believe it only if they pass its public key to `bench leaderboard --trusted-key`.
    """
    from ..submissions.schema import read_submission
    from ..submissions.submission import VERIFICATION_FILE, verify_submission
    from ..submissions.verification import SMOKE_LABEL, describe_signing_key

    if n_samples < 1 or not 0 < confidence < 1:
        raise ValueError(f"--n must be >= 1 and --confidence in (0, 1), got {n_samples} and {confidence}")
    record = verify_submission(
        folder,
        n=n_samples,
        seed=seed,
        confidence=confidence,
        device=device,
        data_root=data_root,
        batch_size=parse_batch_size(batch_size),
        progress=not quiet,
        echo=click.echo,
    )
    smoke = SMOKE_LABEL if read_submission(folder).smoke else ""
    click.echo(f"{record.label}{smoke}" + "".join(f"\n  reason: {reason}" for reason in record.reasons))
    click.echo(f"-> {folder}/{VERIFICATION_FILE} ({describe_signing_key()})")
    if record.status != "verified":
        raise click.exceptions.Exit(1)


@click.command()
@click.option(
    "--results",
    "results_dir",
    default="results",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Results folder to read (any depth).",
)
@click.option("--submissions", "submissions_dir", default=None, type=click.Path(file_okay=False), help="Also read submission folders here.")
@click.option("--model", "model_pattern", default="*", show_default=True, help="Shell-style filter on model names.")
@click.option("--dataset", default=None, help="Keep one dataset, e.g. nights, bapps or demo.")
@click.option("--threat", default=None, help="Keep one threat model: linf or l2.")
@click.option("--attack", default=None, help="Keep one attack, e.g. standard or apgd-ce (the paper's rows: reported).")
@click.option("--status", default=None, type=click.Choice(RESULT_STATUSES), help="Keep one status.")
@click.option("--reported", is_flag=True, help="Add the paper's reported numbers (status reported, source paper:Table N).")
@click.option(
    "--format",
    "output_format",
    default="markdown",
    show_default=True,
    type=click.Choice(["markdown", "csv", "json"]),
    help="Markdown shows percent; CSV and JSON keep the fractions of the result files.",
)
@trusted_key_option
@user_errors
def results(results_dir, submissions_dir, model_pattern, dataset, threat, attack, status, reported, output_format, trusted_keys):
    """Print every result as one row per (model, dataset, split, threat, eps, attack), filtered, as Markdown, CSV or JSON.

    Each score has its 95% interval beside it (`clean_lo`, `clean_hi`, `robust_lo`, `robust_hi`).
    """
    from pathlib import Path

    import pandas as pd

    from leaderboard.escape import csv_text, markdown_cell
    from leaderboard.frame import filter_results, load_results, reported_frame

    # With --reported, a missing results folder leaves the paper's rows (a new user has run nothing yet).
    measured = not reported or Path(results_dir).exists() or submissions_dir is not None
    frame = load_results(results_dir, submissions_dir, trusted_keys) if measured else reported_frame().iloc[0:0]
    if reported:
        frame = pd.concat([frame, reported_frame()], ignore_index=True) if not frame.empty else reported_frame()
    frame = filter_results(frame, model=model_pattern, dataset=dataset, threat=threat, attack=attack, status=status)
    if output_format == "csv":
        click.echo(csv_text(list(frame.columns), frame.itertuples(index=False)), nl=False)  # cells escaped: leaderboard/escape.py
        return
    if output_format == "json":  # one object per row; a missing number (no interval, no robust score) is null
        click.echo(frame.to_json(orient="records", indent=1))
        return
    if frame.empty:
        click.echo("no results match")
        return
    text_columns = frame.select_dtypes(include="object").columns
    frame[text_columns] = frame[text_columns].map(lambda value: markdown_cell(value) if isinstance(value, str) else value)
    percent = [c for c in frame.columns if c.split("_")[0] in ("clean", "robust")]  # scores and their interval bounds
    frame[percent] = frame[percent] * 100  # percent, as every other human-facing output
    frame = frame.rename(columns={column: f"{column} %" for column in percent})
    click.echo(frame.to_markdown(index=False, floatfmt=".2f"))
