"""What every `bench` command group shares: one-line errors, list and KEY=VALUE parsing, common options.

Command modules (cli.py, data_cli.py, invert_cli.py, submission_cli.py, finetune/cli.py) import
from here and never from each other, so registering a group in cli.py needs no import tricks.
"""

from __future__ import annotations

import functools
import json

import click


def user_error_types() -> tuple[type[Exception], ...]:
    """The failures a command reports in one line; imported when one is raised, so a CLI module loads no torch."""
    from model_zoo import UnknownModelError
    from model_zoo.fetch import DownloadError

    from .datasets import DatasetError
    from .results import ResultFormatError

    return (ValueError, DatasetError, UnknownModelError, DownloadError, FileNotFoundError, ResultFormatError)


def user_errors(command):
    """Turn expected failures into a one-line error and exit code 1, never a stack trace."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except Exception as error:
            if isinstance(error, user_error_types()):
                raise click.ClickException(str(error)) from error
            raise

    return wrapper


def split_list(text: str, option: str = "--model") -> list[str]:
    """A comma-separated option's items; an empty list is an error (a run that does nothing is a mistake)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError(f"{option} is empty; give at least one value (e.g. {option} {'ssim' if option == '--model' else 'linf'})")
    return items


def expand_model_patterns(names: list[str]) -> list[str]:
    """Model names with shell patterns (`iqa-*`) replaced by the registered names they match, in order."""
    if not any(char in name for name in names for char in "*?["):
        return names
    from model_zoo import list_models  # imports torch: only when a pattern is given

    expanded: list[str] = []
    for name in names:
        matches = list_models(name) if any(char in name for char in "*?[") else [name]
        if not matches:
            raise ValueError(f"--model pattern '{name}' matches no registered model (`bench models` lists all)")
        expanded += [match for match in matches if match not in expanded]
    return expanded


def parse_kwargs(pairs: tuple[str, ...]) -> dict:
    """KEY=VALUE pairs; values are read as JSON where they can be (true, 3, 0.5), else kept as text."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--model-kwarg expects KEY=VALUE, got '{pair}'")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    return parsed


def parse_batch_size(value: str | int | None, option: str = "--batch-size") -> int | str | None:
    """--batch-size (or another size `option`, such as --micro-batch-size): a whole number >= 1, or 'auto' (the largest
    batch that fits GPU memory, resolved to a number before any batch is cut); None keeps a command's own default."""
    if value is None or value == "auto":
        return value
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ValueError(f"{option} must be a whole number >= 1 or 'auto', got '{value}'")
    return number


def batch_size_option(default: str | None = "32"):
    """The --batch-size of every command that takes one (evaluate, sweep, reproduce, submit, verify, perf, invert, finetune);
    `parse_batch_size` reads it and `acceleration.resolve_batch_size` turns "auto" into a number once the model is built."""
    extra = "" if default is not None else " [default: the submission's]"
    return click.option(
        "--batch-size",
        default=default,
        show_default=default is not None,
        help=f"Samples per batch, or 'auto' (the largest that fits GPU memory).{extra}",
    )


def model_options(random_weights_help: str):
    """--device, --random-weights, --model-kwarg and --quiet, as every command that builds models takes them."""

    def decorate(command):
        for option in reversed(
            [
                click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N."),
                click.option("--random-weights", is_flag=True, help=random_weights_help),
                click.option(
                    "--model-kwarg", "model_kwargs", multiple=True, metavar="KEY=VALUE", help="Extra factory argument, e.g. reduced=true."
                ),
                click.option("--quiet", is_flag=True, help="No progress bar."),
            ]
        ):
            command = option(command)
        return command

    return decorate


def trusted_key_option(command):
    """`--trusted-key FILE` (repeatable): public keys whose signed verifications are believed, beside this machine's own."""
    return click.option(
        "--trusted-key",
        "trusted_keys",
        multiple=True,
        type=click.Path(dir_okay=False),
        help="Public key (PEM, e.g. a maintainer's ed25519.pub) whose signed verifications count as verified; repeatable.",
    )(command)


def follow_links_option(command):
    """--follow-links for every command that reads a dataset (evaluate, sweep, submit, verify-submission, data, reproduce).

    Without it, a link inside a dataset folder that points outside that folder is refused
    (`model_zoo.fetch.path_inside`); with it, the whole command runs inside `following_links()`.
    """

    @functools.wraps(command)
    def wrapper(*args, follow_links: bool = False, **kwargs):
        from model_zoo.fetch import following_links  # inside: the command line loads no torch until a command runs

        with following_links(follow_links):
            return command(*args, **kwargs)

    return click.option(
        "--follow-links", is_flag=True, help="Accept links inside a dataset folder that point outside it (refused by default)."
    )(wrapper)


def output_dir_option(default: str | None, help: str, dest: str = "output_dir", required: bool = False):
    """`--output-dir DIR`, the one name of every command's output folder, with `--out` kept as a hidden alias.

    Older commands and scripts said `--out`; both reach the command as `dest`. `required` is enforced
    here (not by click), so giving either spelling satisfies it.
    """

    def decorate(command):
        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            alias = kwargs.pop("_out_alias", None)
            if alias is not None:
                kwargs[dest] = alias
            if required and kwargs.get(dest) is None:
                raise click.UsageError("Missing option '--output-dir' (the folder to write).")
            return command(*args, **kwargs)

        wrapper = click.option("--out", "_out_alias", default=None, hidden=True, type=click.Path(file_okay=False))(wrapper)
        return click.option(
            "--output-dir", dest, default=default, show_default=default is not None, type=click.Path(file_okay=False), help=help
        )(wrapper)

    return decorate
