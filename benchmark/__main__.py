"""`python -m benchmark ...` runs the `bench` command line."""

from .cli import main

main()
