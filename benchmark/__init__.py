"""perceptbench's benchmark: datasets, tasks, the runner and the `bench` CLI. `benchmark.evaluate(model, ...)` is the library API."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("perceptbench")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"


def __getattr__(name: str):
    if name == "evaluate":  # imported on first use, so `import benchmark.cli` stays light
        from .api import evaluate

        return evaluate
    raise AttributeError(f"module 'benchmark' has no attribute '{name}'")
