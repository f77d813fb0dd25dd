"""`bench finetune nights|fare|tecoa`: train a metric; the output folder is then a model name.

Unset options take the method's published defaults (DreamSim for NIGHTS, Schlarmann et al. 2024
for FARE/TeCoA; `finetune.config.METHOD_DEFAULTS` lists them with their sources).
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from benchmark.cli.common import NON_NEGATIVE, POSITIVE, FiniteNumber, parse_batch_size, user_errors

# The recipe defaults as the help shows them; tests/benchmark/test_cli_help.py checks them against
# `finetune.config.METHOD_DEFAULTS` (not imported here: it loads torch, and `--help` must not).
NIGHTS_DATA_ROOT_HELP = "The data root holding nights/ (data.csv, ref/, distort/) [default: $PERCEPTBENCH_DATA]."
IMAGENET_DATA_ROOT_HELP = "An ImageNet-format folder holding train/<wnid>/*.JPEG [default: $PERCEPTBENCH_DATA]."
RECIPE_HELP = {
    "nights": {"lr": "3e-4", "weight_decay": "0.0", "seed": "1234", "warmup": "none (constant lr)"},
    "adversarial": {"lr": "1e-5", "weight_decay": "0.0001", "seed": "0", "warmup": "7% of the steps"},
}


def common_options(data_root_help: str, recipe: str):
    """The options every `bench finetune` method takes (model, data, output, training loop), with this method's data and defaults."""
    defaults = RECIPE_HELP[recipe]

    def decorate(command):
        return _add_common_options(command, data_root_help, defaults)

    return decorate


def _add_common_options(command, data_root_help: str, defaults: dict[str, str]):
    for option in reversed(
        [
            click.option(
                "--model",
                required=True,
                help="Base: an open_clip model name (`bench models 'clip-*'`, 'r-clip-*') or the folder of an earlier fare/tecoa run.",
            ),
            click.option(
                "--data-root",
                default=None,
                type=click.Path(file_okay=False),
                help=data_root_help,
            ),
            click.option(
                "--output-dir",
                default=None,
                type=click.Path(file_okay=False),
                help="Where the checkpoint, card and weights go [default: runs/<method>-<model>].",
            ),
            click.option("--epochs", type=int, default=None, help="Epochs [default: the method's recipe]."),
            click.option("--steps", type=int, default=None, help="Optimiser steps in all (overrides --epochs)."),
            click.option(
                "--batch-size",
                default=None,
                help="Global batch size, shared by torchrun processes [default: the recipe's]; 'auto' keeps the recipe's "
                "and sizes the micro-batch to the device (--micro-batch-size auto).",
            ),
            click.option(
                "--micro-batch-size",
                default=None,
                help="Samples per forward/backward pass in each process, a number or 'auto' (what fits the device); gradients "
                "accumulate over a step's micro-batches, so the update is the whole batch's [default: the process's whole share].",
            ),
            click.option("--lr", type=POSITIVE, default=None, help=f"Peak learning rate [default: {defaults['lr']}, the recipe's]."),
            click.option(
                "--weight-decay", type=NON_NEGATIVE, default=None, help=f"Weight decay [default: {defaults['weight_decay']}, the recipe's]."
            ),
            click.option(
                "--warmup-steps",
                type=int,
                default=None,
                help=f"Linear warm-up steps [default: {defaults['warmup']}].",
            ),
            click.option(
                "--seed",
                type=int,
                default=None,
                help=f"Seed of initialisation, data order and PGD starts [default: {defaults['seed']}, the recipe's].",
            ),
            click.option(
                "--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N (each torchrun process takes its own GPU)."
            ),
            click.option(
                "--precision",
                default="fp32",
                show_default=True,
                type=click.Choice(["fp32", "bf16"]),
                help="bf16 autocast (GPU only); weights and optimiser stay fp32.",
            ),
            click.option("--random-weights", is_flag=True, help="Start from random weights (smoke runs; the result is never ranked)."),
            click.option(
                "--model-kwarg", "model_kwargs", multiple=True, metavar="KEY=VALUE", help="reduced=true: the tiny test architecture."
            ),
            click.option("--n-train", type=int, default=None, help="Train on the first N samples only."),
            click.option(
                "--workers", type=int, default=None, help="Data-loading processes per training process [default: 8 on GPU, 0 on CPU]."
            ),
            click.option(
                "--checkpoint-every", type=int, default=100, show_default=True, help="Steps between checkpoints (also at every epoch end)."
            ),
            click.option("--quiet", is_flag=True, help="No progress bar."),
        ]
    ):
        command = option(command)
    return command


def _run(method: str, options: dict) -> None:
    from benchmark.runtime.distributed import current_process_group, init_distributed, launched_by_torchrun
    from finetune.config import default_config
    from finetune.trainer import train
    from model_zoo.options import parse_model_options

    model = options.pop("model")
    output_dir = options.pop("output_dir") or str(Path("runs") / f"{method}-{Path(model).name}")
    options["model_kwargs"] = parse_model_options([model], options.pop("model_kwargs"))
    options["batch_size"] = parse_batch_size(options.get("batch_size"))
    options["micro_batch_size"] = parse_batch_size(options.get("micro_batch_size"), "--micro-batch-size")
    if options["batch_size"] == "auto":
        # The global batch size is a hyperparameter of the recipe: 'auto' keeps it and fits the micro-batch to the device.
        options["batch_size"] = None
        if options["micro_batch_size"] is None:
            options["micro_batch_size"] = "auto"
    if options.get("workers") is None:
        options["workers"] = 8 if options["device"].startswith("cuda") else 0
    options["command"] = (
        " ".join(shlex.quote(a) for a in ["bench", *sys.argv[1:]])
        if Path(sys.argv[0]).name == "bench"
        else " ".join(shlex.quote(a) for a in sys.argv)
    )
    config = default_config(method, model, output_dir, **options)
    config.validate()
    if launched_by_torchrun():
        init_distributed(config.device)
    run = train(config)
    if not current_process_group().is_main:
        return
    if run.already_done:
        click.echo(f"already trained: {run.folder} (delete it to train again)")
    else:
        resumed = f", resumed at step {run.start_step}" if run.start_step else ""
        timing = f", {run.seconds_per_step:.3f} s/step" if run.seconds_per_step else ""
        click.echo(f"trained {config.method} from {config.model}: {run.total_steps} steps{resumed}{timing}")
        if run.card.training.get("selected_epoch") is not None:
            click.echo(
                f"  selected epoch {run.card.training['selected_epoch']} (val 2AFC {100 * run.card.training['selected_val_score']:.2f})"
            )
    click.echo(f"  -> {run.folder}  (bench evaluate --model {run.folder})")


@click.group()
def finetune() -> None:
    """Train your own robust metric: NIGHTS LoRA/MLP, or FARE/TeCoA adversarial fine-tuning.

    Resumable (re-run the same command), data-parallel under
    `torchrun --nproc_per_node N -m benchmark.cli finetune ...`.
    """


@finetune.command()
@common_options(NIGHTS_DATA_ROOT_HELP, "nights")
@click.option(
    "--method",
    required=True,
    type=click.Choice(["lora", "mlp"]),
    help="LoRA adapters in the tower, or an MLP head on the frozen embedding.",
)
@click.option("--margin", type=NON_NEGATIVE, default=None, help="Hinge margin [DreamSim: 0.05].")
@click.option("--lora-rank", type=int, default=None, help="[DreamSim: 16]")
@click.option("--lora-alpha", type=POSITIVE, default=None, help="[DreamSim: 0.5]")
@click.option("--lora-dropout", type=FiniteNumber(0.0, 1.0, high_open=True), default=None, help="[DreamSim: 0.3]")
@click.option("--mlp-hidden", type=int, default=None, help="[DreamSim: 512]")
@click.option("--n-val", type=int, default=None, help="Select on the first N validation samples only.")
@user_errors
def nights(method, **options):
    """Fine-tune on NIGHTS (train split; the val split selects the epoch), DreamSim's recipe."""
    _run(method, options)


def adversarial_options(command):
    """The options of the adversarial methods (FARE, TeCoA): the threat model and the inner PGD, added to `command`."""
    for option in reversed(
        [
            click.option("--eps", default=None, help="Linf radius [4/255]."),
            click.option("--pgd-steps", type=int, default=None, help="Inner PGD steps [10]."),
            click.option("--pgd-step-size", default=None, help="Inner PGD step [1/255]."),
        ]
    ):
        command = option(command)
    return command


@finetune.command()
@common_options(IMAGENET_DATA_ROOT_HELP, "adversarial")
@adversarial_options
@user_errors
def fare(**options):
    """FARE: keep the embedding of PGD points close to the original encoder's clean embedding (Schlarmann et al. 2024)."""
    _run("fare", options)


@finetune.command()
@common_options(IMAGENET_DATA_ROOT_HELP, "adversarial")
@adversarial_options
@click.option("--logit-scale", type=POSITIVE, default=None, help="[100]")
@click.option("--template", "templates", multiple=True, help='Prompt template(s) with {} ["This is a photo of a {}"].')
@user_errors
def tecoa(templates, **options):
    """TeCoA: cross-entropy of the zero-shot text classifier at PGD points (Mao et al. 2023)."""
    options["templates"] = tuple(templates) or None
    _run("tecoa", options)
