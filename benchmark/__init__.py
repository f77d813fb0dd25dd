"""perceptbench's benchmark: datasets, tasks, the runner and the CLI. `benchmark.evaluate(model, ...)` is the library API."""


def __getattr__(name: str):
    if name == "evaluate":  # imported on first use, so `import benchmark.cli` stays light
        from .api import evaluate

        return evaluate
    raise AttributeError(f"module 'benchmark' has no attribute '{name}'")
