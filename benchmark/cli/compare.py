"""`bench compare`: is metric A really ahead of metric B on the same samples?"""

from __future__ import annotations

import click

from .common import FiniteNumber, user_errors


@click.command("compare")
@click.argument("result_a", type=click.Path(exists=True, dir_okay=False))
@click.argument("result_b", type=click.Path(exists=True, dir_okay=False))
@click.option("--confidence", default=0.95, show_default=True, type=FiniteNumber(0.5, 0.999), help="Level of the interval.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the paired bootstrap.")
@user_errors
def compare(result_a: str, result_b: str, confidence: float, seed: int) -> None:
    """Compare two result files of the same samples: difference, interval, p-value.

    0/1 outcomes: McNemar's exact test on the samples only one metric gets right; other scores
    (soft 2AFC, mean of split means, mAP): a paired bootstrap over the same samples.
    """
    from ..compare import compare_results, describe

    for line in describe(compare_results(result_a, result_b, confidence=confidence, seed=seed)):
        click.echo(line)
