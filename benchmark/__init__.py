"""perceptbench benchmark: datasets, tasks, the runner and the `bench` CLI."""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("perceptbench")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
