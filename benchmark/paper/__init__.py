"""The paper's tables and figures: their configurations as data, the plans that reproduce them, the runners of the
experiments that are not one evaluation, and sweeps. Above the leaderboard: it reads the paper's reported numbers
and draws with its plots."""
