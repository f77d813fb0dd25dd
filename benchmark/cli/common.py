"""What every `bench` command group shares: one-line errors, list and KEY=VALUE parsing, common options.

The command modules beside it (bench.py, data.py, invert.py, submission.py, finetune.py, ...) import
from here and never from each other, so registering a group in bench.py needs no import tricks.
"""

from __future__ import annotations

import errno
import functools
import json
import math
from typing import overload

import click

from attacks import defaults as attack_defaults
from attacks.defaults import BATCH_SIZE, BatchSize


def user_error_types() -> tuple[type[Exception], ...]:
    """The failures a command reports in one line; imported when one is raised, so a CLI module loads no torch."""
    from model_zoo import UnknownModelError
    from model_zoo.fetch import DownloadError

    from ..datasets import DatasetError
    from ..results import ResultFormatError

    return (ValueError, DatasetError, UnknownModelError, DownloadError, FileNotFoundError, ResultFormatError)


# What each operating-system failure means for the user, and the fix; the path comes from the error itself.
OS_ERROR_FIXES: dict[int, str] = {
    errno.ENOSPC: "no space left on the device; free some space or write elsewhere (e.g. another --output-dir)",
    errno.EDQUOT: "disk quota exceeded; free some space or write elsewhere (e.g. another --output-dir)",
    errno.EROFS: "the file system is read-only; write elsewhere (e.g. another --output-dir)",
    errno.EACCES: "permission denied; change the permissions or choose another path",
    errno.EPERM: "operation not permitted; change the permissions or choose another path",
    errno.ENOTDIR: "a part of the path is a file, not a folder; move that file away or choose another path",
    errno.EISDIR: "it is a folder, not a file; name a file",
    errno.ENAMETOOLONG: "the name is too long for the file system; choose a shorter path",
    errno.ENOENT: "no such file or folder; check the path",
    errno.EEXIST: "it already exists; remove it or choose another path",
    errno.ELOOP: "too many levels of links; resolve the links or choose another path",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n) or run fewer jobs at once",
    errno.EIO: "input/output error of the device; check the disk and retry",
}


def os_error_message(error: OSError) -> str:
    """One line for an operating-system failure: the path it concerns and the fix."""
    if error.errno is None:  # raised by our own code with a message of its own (e.g. FileNotFoundError("result x not found; ..."))
        return str(error)
    paths = [str(path) for path in (error.filename, error.filename2) if path is not None]
    where = f"{' -> '.join(paths)}: " if paths else ""
    fix = OS_ERROR_FIXES.get(error.errno, error.strerror or errno.errorcode.get(error.errno, "unknown error"))
    return f"{where}{fix} ({errno.errorcode.get(error.errno, error.errno)})"


def user_errors(command):
    """Turn expected failures into a one-line error and exit code 1, never a stack trace."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except Exception as error:
            if isinstance(error, OSError):  # disk full, read-only, not a folder, name too long, permission, ...
                raise click.ClickException(os_error_message(error)) from error
            if isinstance(error, user_error_types()):
                raise click.ClickException(" ".join(str(error).splitlines())) from error  # one line, even for a listing
            raise

    return wrapper


def split_list(text: str, option: str = "--model") -> list[str]:
    """A comma-separated option's items; an empty list is an error (a run that does nothing is a mistake)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError(f"{option} is empty; give at least one value (e.g. {option} {'ssim' if option == '--model' else 'linf'})")
    return items


def expand_model_patterns(names: list[str], pretrained: bool = True) -> list[str]:
    """Model names with shell patterns (`iqa-*`) replaced by the registered names they match, in order.

    A pattern leaves out, in one note line, the pretrained models whose weights cannot be had here (not cached
    and no network): `--model 'iqa-*'` then runs every metric it can, offline the weight-free ones. A name
    given explicitly is always kept, so its own error says where to get the weights.
    """
    if not any(char in name for name in names for char in "*?["):
        return names
    from model_zoo import get_model_card, list_models  # imports torch: only when a pattern is given
    from model_zoo.download import weights_unavailable

    expanded: list[str] = []
    for name in names:
        if not any(char in name for char in "*?["):
            expanded += [name] if name not in expanded else []
            continue
        matches = list_models(name)
        if not matches:
            raise ValueError(f"--model pattern '{name}' matches no registered model (`bench models` lists all)")
        unavailable = {}
        for match in matches:
            card = get_model_card(match)
            reason = weights_unavailable(card.weights) if pretrained and card.needs_weights else None
            if reason:
                unavailable[match] = reason
        if len(unavailable) == len(matches):
            first, reason = next(iter(unavailable.items()))
            raise ValueError(f"--model '{name}': no match has its weights here ({first}: {reason}); fetch them or add --random-weights")
        if unavailable:
            reason = next(iter(unavailable.values()))
            click.echo(
                f"note: --model '{name}' leaves out {len(unavailable)} whose weights are not here ({reason}): "
                f"{', '.join(unavailable)}; name one to see where its weights go",
                err=True,
            )
        expanded += [match for match in matches if match not in expanded and match not in unavailable]
    return expanded


def parse_kwargs(pairs: tuple[str, ...], option: str = "--dataset-option") -> dict:
    """KEY=VALUE pairs of a dataset's options; values are read as JSON where they can be (true, 3, 0.5), else kept as text.

    `--model-kwarg` is typed against the model's factory instead (model_zoo/options.py)."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{option} expects KEY=VALUE, got '{pair}'")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
        if isinstance(parsed[key], float) and not math.isfinite(parsed[key]):
            raise ValueError(f"{option} {pair}: give a finite number")
    return parsed


class FiniteNumber(click.ParamType):
    """A float option that refuses NaN and infinity (click's FLOAT and FloatRange take 'nan'), optionally within [low, high]."""

    name = "number"

    def __init__(self, low: float | None = None, high: float | None = None, low_open: bool = False, high_open: bool = False):
        self.low, self.high, self.low_open, self.high_open = low, high, low_open, high_open

    def convert(self, value, param, ctx) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            self.fail(f"'{value}' is not a number (e.g. 0.5)", param, ctx)
        if not math.isfinite(number):
            self.fail(f"'{value}' is not a finite number; give one such as 0.5", param, ctx)
        too_low = self.low is not None and (number <= self.low if self.low_open else number < self.low)
        too_high = self.high is not None and (number >= self.high if self.high_open else number > self.high)
        if too_low or too_high:
            self.fail(f"{value} is not in {self._describe()}", param, ctx)
        return number

    def _describe(self) -> str:
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{'(' if self.low_open or self.low is None else '['}{low}, {high}{')' if self.high_open or self.high is None else ']'}"


NUMBER = FiniteNumber()
POSITIVE = FiniteNumber(low=0.0, low_open=True)
NON_NEGATIVE = FiniteNumber(low=0.0)


def n_ex_option(help: str = "Evaluate the first N samples only (smoke runs; the paper's numbers need all)."):
    """The --n-ex of every command that caps its samples (evaluate, sweep, reproduce, submit, campaign): N >= 1."""
    return click.option("--n-ex", default=None, type=click.IntRange(min=1), metavar="N", help=help)


@overload
def parse_batch_size(value: str | int, option: str = "--batch-size") -> BatchSize: ...
@overload
def parse_batch_size(value: None, option: str = "--batch-size") -> None: ...
def parse_batch_size(value: str | int | None, option: str = "--batch-size") -> BatchSize | None:
    """--batch-size (or another size `option`, such as --micro-batch-size): a whole number >= 1, or 'auto' (the largest
    batch that fits GPU memory, resolved to a number before any batch is cut); None keeps a command's own default."""
    if value is None:
        return None
    if value == "auto":
        return "auto"
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ValueError(f"{option} must be a whole number >= 1 or 'auto', got '{value}'")
    return number


def batch_size_option(default: BatchSize | None = BATCH_SIZE):
    """The --batch-size of every command that takes one (evaluate, sweep, reproduce, submit, verify, perf, invert, finetune);
    `parse_batch_size` reads it and `acceleration.resolve_batch_size` turns "auto" into a number once the model is built."""
    extra = "" if default is not None else " [default: the submission's]"
    return click.option(
        "--batch-size",
        default=default,
        type=click.STRING,  # a number or 'auto': parse_batch_size reads it, with a one-line error
        show_default=default is not None,
        help=f"Samples per batch, or 'auto' (the largest that fits GPU memory).{extra}",
    )


def model_options(random_weights_help: str | None):
    """--device, --random-weights (left out where `random_weights_help` is None), --model-kwarg and --quiet, as every
    command that builds models takes them."""

    def decorate(command):
        options = [
            click.option("--device", default="cpu", show_default=True, help="cpu, cuda or cuda:N."),
            *([click.option("--random-weights", is_flag=True, help=random_weights_help)] if random_weights_help else []),
            click.option(
                "--model-kwarg", "model_kwargs", multiple=True, metavar="KEY=VALUE", help="Extra factory argument, e.g. reduced=true."
            ),
            click.option("--quiet", is_flag=True, help="No progress bar."),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def data_root_option(help: str = "Root of downloaded datasets [default: $PERCEPTBENCH_DATA]."):
    """--data-root of every command that reads datasets; None leaves it to $PERCEPTBENCH_DATA (benchmark/datasets)."""
    return click.option("--data-root", default=None, type=click.Path(file_okay=False), help=help)


def evaluation_options(random_weights_help: str | None = None, n_ex_help: str | None = None):
    """What every command that runs `EvaluationConfig`s takes alike (evaluate, sweep, submit): the model options
    (`model_options`), --data-root, --n-ex, --batch-size and --follow-links, with `EvaluationConfig`'s defaults."""

    def decorate(command):
        command = follow_links_option(command)
        for option in reversed([data_root_option(), n_ex_option(*([n_ex_help] if n_ex_help else [])), batch_size_option()]):
            command = option(command)
        return model_options(random_weights_help)(command)

    return decorate


def attack_budget_options(n_iter_help: str):
    """--n-iter and --square-queries, as evaluate and submit take them (defaults: attacks/defaults.py, as EvaluationConfig's)."""

    def decorate(command):
        for option in reversed(
            [
                click.option("--n-iter", default=attack_defaults.N_ITER, show_default=True, type=int, help=n_iter_help),
                click.option(
                    "--square-queries",
                    default=attack_defaults.SQUARE_QUERIES,
                    show_default=True,
                    type=int,
                    help="Square's query budget in the standard ensemble.",
                ),
            ]
        ):
            command = option(command)
        return command

    return decorate


def _readable_keys(ctx, param, paths: tuple[str, ...]) -> tuple[str, ...]:
    """Each --trusted-key read at once, so a file that is not a public key is refused even where no submission needs it."""
    if paths:
        from ..submissions.verification import read_public_key  # cryptography: only when a key is given

        for path in paths:
            try:
                read_public_key(path)
            except ValueError as error:
                raise click.BadParameter(str(error), ctx, param) from None
    return paths


def trusted_key_option(command):
    """`--trusted-key FILE` (repeatable): public keys whose signed verifications are believed, beside this machine's own."""
    return click.option(
        "--trusted-key",
        "trusted_keys",
        multiple=True,
        type=click.Path(dir_okay=False, exists=True),
        callback=_readable_keys,
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
