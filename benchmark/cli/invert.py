"""`bench invert features` and `bench invert text`: the paper's visual concepts (Sec. VI, Figures 4-6)."""

from __future__ import annotations

from pathlib import Path

import click

from attacks.defaults import INVERSION_BATCH_SIZE, InversionConfig

from .common import (
    POSITIVE,
    batch_size_option,
    model_options,
    output_dir_option,
    parse_batch_size,
    split_list,
    user_errors,
)


def inversion_options(kind: str):
    """The options `bench invert features` and `bench invert text` share, defaults from InversionConfig.

    Each kind has its own default output folder (inversions/features, inversions/text), so one never
    overwrites the other's grid.png and inversion.json.
    """

    def decorate(command):
        return _add_inversion_options(command, kind)

    return decorate


def _add_inversion_options(command, kind: str):
    defaults = InversionConfig()
    for option in reversed(
        [
            click.option("--model", "models", required=True, help="Model name(s), comma-separated (see `bench models`)."),
            click.option(
                "--seeds", default="0", show_default=True, help="Seeds of the noisy grey start, comma-separated (Figure 5: several)."
            ),
            click.option("--n-iter", default=defaults.n_iter, show_default=True, type=int, help="APGD iterations."),
            click.option(
                "--radius", default=defaults.radius, show_default=True, type=POSITIVE, help="L2 radius around the start (a regulariser)."
            ),
            click.option(
                "--step-size", default=defaults.initial_step_size, show_default=True, type=POSITIVE, help="APGD's initial step size."
            ),
            click.option("--image-size", default=defaults.image_size, show_default=True, type=int, help="Side of the optimised images."),
            batch_size_option(INVERSION_BATCH_SIZE),
        ]
    ):
        command = option(command)
    command = output_dir_option(f"inversions/{kind}", "Folder the PNGs, grid.png and inversion.json go in.")(command)
    return model_options("Random weights (smoke runs; labelled as such).")(command)


def _run(
    kind, targets, models, seeds, n_iter, radius, step_size, image_size, batch_size, device, output_dir, random_weights, model_kwargs, quiet
):
    from model_zoo.options import parse_model_options

    from ..inversion import InversionRun, run_inversion

    try:
        seed_list = [int(s) for s in split_list(seeds, "--seeds")]
    except ValueError:
        raise ValueError(f"--seeds expects integers separated by commas, e.g. 0,1,2; got '{seeds}'") from None
    model_names = split_list(models)
    run = InversionRun(
        kind=kind,
        models=model_names,
        targets=list(targets),
        seeds=seed_list,
        config=InversionConfig(n_iter=n_iter, radius=radius, initial_step_size=step_size, image_size=image_size),
        pretrained=not random_weights,
        model_kwargs=parse_model_options(model_names, model_kwargs),
        device=device,
        batch_size=parse_batch_size(batch_size),
    )
    report = run_inversion(run, Path(output_dir), progress=not quiet)
    for image in report.images:
        click.echo(
            f"{image.model}  {image.target!r} seed {image.seed}: cosine {image.similarity:.4f} (start {image.start_similarity:.4f}) -> {Path(output_dir) / image.file}"
        )
    suffix = "  [random weights: smoke run, not a real result]" if report.weights == "random" else ""
    click.echo(
        f"grid: {Path(output_dir) / report.grid}\nsimilarities: {Path(output_dir) / 'inversion.json'}  ({report.timing_s['total_s']:.1f}s){suffix}"
    )


@click.group()
def invert() -> None:
    """Reconstruct images from embeddings (features) or prompts (text), as in Section VI of the paper."""


@invert.command()
@click.option(
    "--image",
    "images",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=False),
    help="Image to reconstruct from its embedding (repeat for several).",
)
@inversion_options("features")
@user_errors
def features(images, **options):
    """Feature inversion (the paper's Eq 9): from a noisy grey start, match each image's embedding."""
    _run("features", images, **options)


@invert.command()
@click.option("--prompt", "prompts", multiple=True, required=True, help="Prompt whose text embedding is the target (repeat for several).")
@inversion_options("text")
@user_errors
def text(prompts, **options):
    """Text inversion (the paper's Eq 10): match the CLIP text embedding of each prompt (CLIP-family models only)."""
    _run("text", prompts, **options)
