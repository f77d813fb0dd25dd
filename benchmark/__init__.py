"""perceptbench benchmark: datasets, tasks, the runner and the `bench` CLI."""
