"""The `bench` command line: evaluate, list models and datasets, build the leaderboard.

It starts at once: this module imports only click and light helpers, and every heavy import
(torch, the zoo, the runner) happens inside the command that needs it. Command groups living in
other modules are listed in `LAZY_COMMANDS` and imported only when they run; adding one is one
line there, `"name": ("package.module:attribute", "short help")`, with the short help the
command's own (tests/benchmark/test_cli_startup.py checks both, and that no `--help` loads torch).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from attacks import defaults as attack_defaults
from attacks.defaults import SmoothingConfig
from attacks.threat import DEFAULT_EPS, NORMS

from .. import __version__
from .common import (
    POSITIVE,
    FiniteNumber,
    attack_budget_options,
    batch_size_option,
    evaluation_options,
    expand_model_patterns,
    output_dir_option,
    parse_batch_size,
    parse_kwargs,
    split_list,
    trusted_key_option,
    user_errors,
)
from .lazy_group import LazyGroup

DEFAULT_EPS_TEXT = ", ".join(f"{eps} for {norm}" for norm, eps in DEFAULT_EPS.items())  # '4/255 for linf, 3.0 for l2'

# Commands defined elsewhere: name -> (module:attribute, the command's `get_short_help_str(120)`, which `bench --help` shows).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "campaign": ("benchmark.cli.campaign:campaign", "Campaigns: many evaluations, one job each, on Slurm or on this machine (submitit)."),
    "compare": ("benchmark.cli.compare:compare", "Compare two result files of the same samples: difference, interval, p-value."),
    "data": ("benchmark.cli.data:data", "Fetch and check the paper's datasets."),
    "finetune": (
        "benchmark.cli.finetune:finetune",
        "Train your own robust metric: NIGHTS LoRA/MLP, or FARE/TeCoA adversarial fine-tuning.",
    ),
    "invert": (
        "benchmark.cli.invert:invert",
        "Reconstruct images from embeddings (features) or prompts (text), as in Section VI of the paper.",
    ),
    "reproduce": (
        "benchmark.cli.data:reproduce",
        "Run the paper's configuration for every cell of TABLE (table1, table2, table3, table6, table8, table9, table10,...",
    ),
    "results": (
        "benchmark.cli.submission:results",
        "Print every result as one row per (model, dataset, split, threat, eps, attack), filtered, as Markdown, CSV or JSON.",
    ),
    "schema": (
        "benchmark.cli.schema:schema",
        "Print the JSON Schema of a file perceptbench reads: results, card, submission, submission-card or verification.",
    ),
    "submit": (
        "benchmark.cli.submission:submit",
        "Check a metric and write a submission folder: card, checks, standard-ensemble results, environment.",
    ),
    "verify-submission": (
        "benchmark.cli.submission:verify_submission_command",
        "Re-run a seeded random subset of a submission and sign a statement of which claims lie in the re-run's interval.",
    ),
}


def run_options(command):
    """The options of every command that runs evaluations (evaluate, sweep): `evaluation_options` and the run's own."""
    for option in reversed(
        [
            click.option(
                "--dataset", default=attack_defaults.DEFAULT_DATASET, show_default=True, help="Dataset name (see `bench datasets`)."
            ),
            click.option("--split", default=None, help="Dataset split (default: the dataset's evaluation split)."),
            click.option("--n-restarts", default=attack_defaults.N_RESTARTS, show_default=True, type=int, help="Attack restarts."),
            click.option("--seed", default=0, show_default=True, type=int, help="Seed of the attack's random starts and of Square."),
        ]
    ):
        command = option(command)
    command = output_dir_option("results", "Folder the result files (and checkpoints) go in.")(command)
    return evaluation_options(
        "Build the architecture with random weights (smoke runs; never ranked).", "Evaluate the first N samples only."
    )(command)


def run_config_fields(run: dict[str, Any], models: list[str]) -> dict[str, Any]:
    """The `EvaluationConfig` fields of `run_options`, `--batch-size` and the model options, as evaluate and sweep pass them
    (`--model-kwarg` typed for `models`, model_zoo/options.py)."""
    from model_zoo.options import parse_model_options

    return dict(
        dataset=run["dataset"],
        split=run["split"],
        n_restarts=run["n_restarts"],
        n_ex=run["n_ex"],
        seed=run["seed"],
        data_root=run["data_root"],
        device=run["device"],
        batch_size=parse_batch_size(run["batch_size"]),
        pretrained=not run["random_weights"],
        model_kwargs=parse_model_options(models, run["model_kwargs"]),
    )


@click.group(cls=LazyGroup, lazy_commands=LAZY_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="perceptbench")
def main() -> None:
    """perceptbench: robustness of perceptual similarity metrics."""


def acceleration_options(command: Callable) -> Callable:
    """`--precision`, `--channels-last` and `--compile`: how the model runs, shared by evaluate and perf."""
    for option in reversed(
        [
            click.option(
                "--precision",
                default="fp32",
                show_default=True,
                type=click.Choice(["fp32", "bf16", "fp16"]),
                help="Autocast of the model (GPU); the attack's arithmetic stays fp32.",
            ),
            click.option("--channels-last", is_flag=True, help="channels_last memory format (faster convnets on GPU)."),
            click.option("--compile", "compile_model", is_flag=True, help="torch.compile the model's encoder."),
        ]
    ):
        command = option(command)
    return command


@main.command()
@run_options
@click.option("--model", "models", required=True, help="Model name(s), comma-separated (see `bench models`), or pkg.module:factory.")
@click.option(
    "--threat",
    "threats",
    default=attack_defaults.DEFAULT_THREAT,
    show_default=True,
    help=f"Threat model(s): {', '.join(NORMS)}, or several comma-separated.",
)
@click.option("--eps", default=None, help=f"Radius, e.g. 4/255 or 3.0 [default: {DEFAULT_EPS_TEXT}].")
@click.option(
    "--attack",
    default=attack_defaults.DEFAULT_ATTACK,
    show_default=True,
    help="Attack (standard = the ensemble APGD-CE, APGD-margin x2, Square; apgd-ce, apgd-margin, square, apgd-ce-reference, square-reference), or none for clean scores only.",
)
@attack_budget_options("Attack iterations (for Square: the query budget).")
@click.option("--n-ex-per-split", default=None, type=int, help="Evaluate the first N samples of every split (paper: 1000 for BAPPS).")
@click.option(
    "--dataset-option",
    "dataset_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Dataset option, e.g. labels=soft or image_size=native for BAPPS.",
)
@click.option("--checks", is_flag=True, help="Run the sanity checks after the evaluation and record them in the result file.")
@acceleration_options
@click.option("--distributed", is_flag=True, help="Shard batches across torchrun processes (implied when run under torchrun).")
@click.option("--shard", default=None, metavar="I/N", help="Evaluate shard I of N (every N-th batch) into the checkpoint; no result file.")
@click.option("--merge-shards", is_flag=True, help="Write the result from the finished --shard I/N checkpoints (evaluates nothing).")
@click.option(
    "--certify",
    type=click.Choice(["lipschitz", "smoothing"]),
    default=None,
    help="Certify the 2AFC decision in L2: lipschitz (models that declare a bound, e.g. LipSim) or randomized smoothing (any model).",
)
# Not given: EvaluationConfig's defaults, Cohen et al. (2019)'s as attacks/defaults.py's SmoothingConfig holds them.
@click.option(
    "--sigma", "certify_sigma", type=POSITIVE, default=None, help=f"Smoothing noise [default: {SmoothingConfig.sigma}, Cohen et al. 2019]."
)
@click.option(
    "--n",
    "certify_n",
    type=click.IntRange(min=1),
    default=None,
    help=f"Smoothing estimation draws per sample [default: {SmoothingConfig.n}].",
)
@click.option(
    "--n0",
    "certify_n0",
    type=click.IntRange(min=1),
    default=None,
    help=f"Smoothing selection draws per sample [default: {SmoothingConfig.n0}].",
)
@click.option(
    "--alpha",
    "certify_alpha",
    type=FiniteNumber(0.0, 1.0, low_open=True, high_open=True),
    default=None,
    help=f"Smoothing failure probability [default: {SmoothingConfig.alpha}].",
)
@click.option(
    "--certify-n-ex",
    type=click.IntRange(min=1),
    default=None,
    help=f"Certify the first N samples of the run [default: {attack_defaults.DEFAULT_CERTIFY_N_EX}].",
)
@click.option(
    "--save-adversarial",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    metavar="N",
    help="Keep the N worst-case adversarial references as PNGs beside the result.",
)
@user_errors
def evaluate(
    models,
    threats,
    eps,
    attack,
    n_iter,
    square_queries,
    n_ex_per_split,
    dataset_options,
    checks,
    precision,
    channels_last,
    compile_model,
    distributed,
    shard,
    merge_shards,
    certify,
    save_adversarial,
    output_dir,
    quiet,
    **run,
):
    """Evaluate models on a dataset, clean and under attack, and write one result file per run.

    Re-running an interrupted command continues from its checkpoint. Under
    `torchrun --nproc_per_node N -m benchmark.cli evaluate ...` the batches are shared by the processes.
    """
    from ..runner import EvaluationConfig, run_evaluation
    from ..runtime.distributed import current_process_group, init_distributed, launched_by_torchrun

    # Options not given keep EvaluationConfig's defaults (Cohen et al.'s, held in attacks/defaults.py's SmoothingConfig).
    certify_options = {key: run.pop(key) for key in list(run) if key.startswith("certify_")}
    certify_options = {key: value for key, value in certify_options.items() if value is not None}
    model_names = expand_model_patterns(split_list(models), pretrained=not run["random_weights"])
    fields = run_config_fields(run, model_names)
    configs = [
        EvaluationConfig(
            model=model,
            threat=threat,
            eps=eps,
            attack=attack,
            n_iter=n_iter,
            **fields,
            n_ex_per_split=n_ex_per_split,
            dataset_options=parse_kwargs(dataset_options),
            checks=checks,
            precision=precision,
            channels_last=channels_last,
            compile_model=compile_model,
            square_queries=square_queries,
            shard=shard,
            certify=certify,
            save_adversarial=save_adversarial,
            **certify_options,
        )
        for model in model_names
        for threat in split_list(threats, "--threat")
    ]
    for config in configs:  # refuse bad input before any run starts
        config.validate()
    if merge_shards and shard:
        raise ValueError("--merge-shards merges every shard: drop --shard")
    if distributed or launched_by_torchrun():
        init_distributed(run["device"])
    is_main = current_process_group().is_main
    for config in configs:
        result, path = run_evaluation(config, output_dir, progress=not quiet, validated=True, merge_shards=merge_shards)
        if not is_main:
            continue
        threat = result.threat.label if result.attack is not None else "no attack"
        weights = " [random weights: smoke run, not a real result]" if result.weights == "random" else ""
        robust = f"  robust {100 * (result.scores.robust or 0.0):.2f}" if result.attack is not None else " (clean only)"
        if result.resumed_samples:
            click.echo(f"resumed: {result.resumed_samples} of {result.scores.n} samples came from the checkpoint of an interrupted run")
        click.echo(
            f"{result.model} on {result.dataset} ({result.scores.n} samples), {threat}: "
            f"clean {100 * (result.scores.clean or 0.0):.2f}{robust}"
            f"  ({result.timing['total_s']:.1f}s){weights}\n  -> {path}"
            + (f"\n  shard {config.shard}: `--merge-shards` writes the result once every shard is done" if config.shard else "")
        )
        members = result.ensemble.members if result.ensemble is not None else ()
        success_based = result.ensemble is not None and result.ensemble.success_based
        for member in members:
            count = f"broke {member.count}" if success_based else f"kept point on {member.count}"
            click.echo(
                f"  member {member.name} ({member.n_iter} {'queries' if member.name == 'square' else 'it'} x {member.n_restarts}): "
                f"{count} samples, {member.seconds:.1f}s"
            )
        if result.certified is not None:
            shown = ", ".join(f"L2 {r.eps_text} {100 * r.accuracy:.1f}" for r in result.certified.radii)
            click.echo(f"  certified ({result.certified.method}, first {result.certified.n} samples): {shown}")
        if result.adversarial_examples:
            click.echo(f"  adversarial examples -> {path.parent / result.adversarial_examples}")
        for name, check in result.checks.items():
            click.echo(f"  check {name}: {'passed' if check.passed else 'FAILED'} ({check.detail})")


@main.command()
@run_options
@click.option("--model", required=True, help="Model name (see `bench models`).")
@click.option("--threat", default=attack_defaults.DEFAULT_THREAT, show_default=True, help=f"Threat model: {' or '.join(NORMS)}.")
@click.option("--eps", "eps_values", default=None, help="Radii to sweep, e.g. 0,1/255,2/255,4/255 (or one radius for an --n-iter sweep).")
@click.option(
    "--n-iter", "iteration_values", default=None, help="Iterations to sweep, e.g. 0,50,100,200 (or one value for an --eps sweep)."
)
@click.option("--attack", default=attack_defaults.DEFAULT_ATTACK, show_default=True, help="Attack.")
@user_errors
def sweep(model, threat, eps_values, iteration_values, attack, output_dir, quiet, **run):
    """Sweep the radius (--eps) or the iterations (--n-iter): one result file per point, and a plot."""
    from ..paper.sweep import parse_eps_values, parse_iteration_values, run_sweep
    from ..runner import EvaluationConfig

    eps_list = parse_eps_values(eps_values) if eps_values else None
    iteration_list = parse_iteration_values(iteration_values) if iteration_values else None
    swept = [axis for axis, values in (("eps", eps_list), ("n_iter", iteration_list)) if values and len(values) > 1]
    if len(swept) != 1:
        raise ValueError("sweep one axis: give several values to --eps (e.g. 0,1/255,2/255) or to --n-iter (e.g. 0,50,100), not both")
    axis = swept[0]
    base = EvaluationConfig(
        model=model,
        threat=threat,
        eps=eps_list[0] if axis == "n_iter" and eps_list else None,
        attack=attack,
        n_iter=int(iteration_list[0]) if axis == "eps" and iteration_list else EvaluationConfig.n_iter,
        **run_config_fields(run, [model]),
    )
    values = (eps_list if axis == "eps" else iteration_list) or []  # the swept axis: several values
    result = run_sweep(base, axis, values, output_dir, progress=not quiet)
    for point in result.points:
        click.echo(
            f"{axis} {point.value}: clean {100 * (point.result.scores.clean or 0.0):.2f}  robust {100 * (point.result.scores.robust or 0.0):.2f}  -> {point.path}"
        )
    click.echo(f"plot: {result.plot}")


@main.command()
@click.option("--model", default="clip-convnext", show_default=True, help="Model name (see `bench models`).")
@click.option(
    "--random-weights/--pretrained",
    default=True,
    show_default=True,
    help="Random weights by default: timing does not depend on them and nothing is downloaded.",
)
@click.option("--model-kwarg", "model_kwargs", multiple=True, metavar="KEY=VALUE", help="Extra factory argument, e.g. reduced=true.")
@batch_size_option(4)
@click.option("--n-iter", default=10, show_default=True, type=int, help="Attack iterations timed per method.")
@click.option("--image-size", default=224, show_default=True, type=int, help="Side of the attacked images.")
@click.option("--threat", default=attack_defaults.DEFAULT_THREAT, show_default=True, help=f"Threat model: {' or '.join(NORMS)}.")
@click.option("--eps", default=None, help="Radius [default: the threat's default].")
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N.")
@acceleration_options
@click.option("--repeats", default=3, show_default=True, type=int, help="Round-robin repeats; each method's fastest is kept.")
@click.option("--no-reference", is_flag=True, help="Skip AutoAttack's APGD (pyautoattack).")
@user_errors
def perf(
    model,
    random_weights,
    model_kwargs,
    batch_size,
    n_iter,
    image_size,
    threat,
    eps,
    device,
    precision,
    channels_last,
    compile_model,
    repeats,
    no_reference,
):
    """Attack throughput: the floor, our APGD and AutoAttack's APGD on the same model, inputs and batch."""
    from model_zoo.options import parse_model_options

    from ..perf import ThroughputConfig, format_report, run_throughput

    batch_size = parse_batch_size(batch_size)
    if min(n_iter, image_size, repeats) < 1:
        raise ValueError(f"--n-iter, --image-size and --repeats must be >= 1, got {n_iter}, {image_size}, {repeats}")
    config = ThroughputConfig(
        model=model,
        pretrained=not random_weights,
        model_kwargs=parse_model_options([model], model_kwargs),
        batch_size=batch_size,
        n_iter=n_iter,
        image_size=image_size,
        threat=threat,
        eps=eps,
        device=device,
        precision=precision,
        channels_last=channels_last,
        compile_model=compile_model,
        repeats=repeats,
        reference=not no_reference,
    )
    click.echo(format_report(run_throughput(config)))


@main.command()
@click.argument("pattern", default="*")
def models(pattern):
    """List registered models matching PATTERN (a shell-style pattern such as 'r-clip-*'), with their cards."""
    from tabulate import tabulate

    from model_zoo import get_model_card, list_models

    rows = []
    for name in list_models(pattern):
        card = get_model_card(name)
        parameters = f"{card.parameters / 1e6:.1f}M" if card.parameters else "-"
        rows.append(
            [
                name,
                card.family,
                card.backbone,
                card.robust_training + (f" {card.robust_eps}" if card.robust_eps else ""),
                card.finetuning,
                card.weights.describe(),
                parameters,
                card.preprocessing.get("description", "-").split(";")[0].split(" (")[0],
            ]
        )
    click.echo(
        tabulate(
            rows,
            headers=["model", "family", "backbone", "robust training", "fine-tuning", "weights", "parameters", "preprocessing"],
            tablefmt="simple",
            disable_numparse=True,
        )
    )
    click.echo(f"\n{len(rows)} models")


@main.command()
@click.option(
    "--data-root", default=None, type=click.Path(file_okay=False), help="Root of downloaded datasets [default: $PERCEPTBENCH_DATA]."
)
def datasets(data_root):
    """List datasets and whether each is available locally."""
    from tabulate import tabulate

    from ..datasets import list_datasets, resolve_data_root

    root = resolve_data_root(data_root)
    rows = [[spec.name, spec.task, spec.local_copy(root), spec.description] for spec in list_datasets()]
    click.echo(tabulate(rows, headers=["dataset", "task", "local copy", "description"], tablefmt="simple"))


@main.command()
@click.option(
    "--results",
    "results_dir",
    default="results",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Results folder to read (any depth).",
)
@output_dir_option("site", "Folder the site, LEADERBOARD.md and leaderboard.csv go in.", dest="out_dir")
@click.option("--no-reported", is_flag=True, help="Leave out the numbers the paper reports (show only results from DIR).")
@click.option(
    "--submissions",
    "submissions_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Also read the submission folders here (e.g. submissions/).",
)
@trusted_key_option
@user_errors
def leaderboard(results_dir, out_dir, no_reported, submissions_dir, trusted_keys):
    """Build a static site (index.html, a page per model), LEADERBOARD.md and leaderboard.csv from a results folder."""
    from leaderboard import build_site

    written = build_site(
        Path(results_dir), Path(out_dir), include_reported=not no_reported, submissions_dir=submissions_dir, trusted_keys=trusted_keys
    )
    for kind, path in written.items():
        click.echo(f"{kind}: {path}")


if __name__ == "__main__":
    sys.exit(main())
