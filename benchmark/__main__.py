"""`python -m benchmark ...` runs the `bench` command line."""

from .cli.bench import main

main()
