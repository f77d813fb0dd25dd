"""`python -m benchmark.cli ...` (the form torchrun launches) runs the `bench` command line."""

from .bench import main

main()
