"""Every default of an attack, once: the signatures, `AttackConfig`, `EvaluationConfig`, the CLI and the sanity checks read these.

Light on purpose (no torch): `bench ... --help` shows them without loading an attack.
"""

from __future__ import annotations

from dataclasses import dataclass

N_ITER = 100  # APGD iterations (paper, AutoAttack's standard version)
N_RESTARTS = 1
SQUARE_QUERIES = 5000  # Square's query budget, alone and as the standard ensemble's last member (paper, AutoAttack)
SQUARE_P_INIT = 0.8  # Square's initial fraction of the image a window covers (AutoAttack's default)
DEFAULT_ATTACK = "apgd-ce"  # `bench evaluate --attack`
STANDARD = "standard"  # the standard ensemble (attacks/ensemble.py): what submissions and `api.evaluate` run


@dataclass(frozen=True)
class InversionConfig:
    """The paper's inversion setting (App. A-B); here, not in attacks/inversion.py, so `bench invert --help` loads no torch."""

    n_iter: int = 500
    radius: float = 100.0  # L2, around the noisy grey start
    initial_step_size: float = 200.0
    init_noise: float = 8 / 255  # uniform noise in [-init_noise, init_noise] on grey 0.5
    image_size: int = 224
