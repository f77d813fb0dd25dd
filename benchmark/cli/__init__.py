"""The `bench` command line, the top layer: every click group, finetune's included.

`main` is the console script's entry (pyproject.toml: `bench = "benchmark.cli:main"`); `python -m benchmark.cli`
(as torchrun launches it) and `python -m benchmark` run it too. The group and its own commands live in bench.py.
"""

from .bench import main

__all__ = ["main"]
