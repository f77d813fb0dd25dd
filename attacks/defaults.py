"""Every default of an attack and of the evaluation around it, once: the signatures, `AttackConfig`, `EvaluationConfig`,
`benchmark.evaluate`, every click option and the sanity checks read these.

Light on purpose (no torch): `bench ... --help` shows them without loading an attack. The threat models' norms and
default radii live beside `ThreatModel` (attacks/threat.py, light too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

N_ITER = 100  # APGD iterations (paper, AutoAttack's standard version)
N_RESTARTS = 1
SQUARE_QUERIES = 5000  # Square's query budget, alone and as the standard ensemble's last member (paper, AutoAttack)
SQUARE_P_INIT = 0.8  # Square's initial fraction of the image a window covers (AutoAttack's default)
DEFAULT_ATTACK = "apgd-ce"  # `bench evaluate --attack`
STANDARD = "standard"  # the standard ensemble (attacks/ensemble.py): what `bench submit` runs
DEFAULT_THREAT = "linf"  # `bench evaluate --threat`, `benchmark.evaluate(threat=)`
DEFAULT_DATASET = "demo"  # `bench evaluate --dataset`: the shipped demo, so a first run needs no download

# Samples per batch: a number, or "auto" (the largest that fits GPU memory, resolved to a number once the model is built:
# benchmark/runtime/acceleration.py's resolve_batch_size). Past that point code holds a plain int.
BatchSize: TypeAlias = int | Literal["auto"]
BATCH_SIZE = 32  # `bench evaluate`, `submit`, `sweep`, `reproduce`; the sanity checks' and the pool encoder's batches
INVERSION_BATCH_SIZE = 8  # `bench invert`, `bench reproduce table7`: images optimised at once
DEFAULT_CERTIFY_N_EX = 100  # `--certify` on the first 100 samples: smoothing's n0 + n = 10,100 forward passes per sample


@dataclass(frozen=True)
class InversionConfig:
    """The paper's inversion setting (App. A-B); here, not in attacks/inversion.py, so `bench invert --help` loads no torch."""

    n_iter: int = 500
    radius: float = 100.0  # L2, around the noisy grey start
    initial_step_size: float = 200.0
    init_noise: float = 8 / 255  # uniform noise in [-init_noise, init_noise] on grey 0.5
    image_size: int = 224


@dataclass(frozen=True)
class SmoothingConfig:
    """Cohen et al. (2019)'s CERTIFY parameters (attacks/certify.py); `batch_size` noise draws go through the model at once.

    Here, not in attacks/certify.py, so `bench evaluate --help` shows these defaults without loading torch.
    """

    sigma: float = 0.25
    n0: int = 100
    n: int = 10_000
    alpha: float = 0.001
    batch_size: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if not (self.sigma > 0 and self.n0 >= 1 and self.n >= 1 and 0 < self.alpha < 1 and self.batch_size >= 1):
            raise ValueError(f"smoothing needs sigma > 0, n0 >= 1, n >= 1, 0 < alpha < 1 and batch_size >= 1; got {self}")
