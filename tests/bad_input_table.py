"""The bad-input census (issue #19, item 7): bad inputs across every `bench` command and what each must end in.

Each row is a command line (with `{tmp}`, `{good}` and `{long}` placeholders), the expected outcome and,
where it needs one, a setup writing the files it reads or a simulated operating-system failure.
`run_row` runs one row through click's CliRunner and classifies the outcome; the census test
(tests/benchmark/test_bad_input_census.py) asserts it, and benchmarks/bad_input_census.py counts them
on any checkout (it loads this file by path, so it runs on an older tree too).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock

ERROR, ACCEPTED = "error", "accepted"
REPORT = "report"  # a checking command (`bench data verify`): exit 1 with its list of problems, one line each

# Outcome kinds: what `run_row` reports.
ONE_LINE, REPORTED, MULTI_LINE, TRACEBACK, WRONGLY_ACCEPTED, OK, WRONGLY_REFUSED = (
    "one-line error",
    "problem report",
    "multi-line error",
    "traceback",
    "wrongly accepted",
    "accepted",
    "wrongly refused",
)


@dataclass(frozen=True)
class BadInput:
    """One census row: `argv` after `bench`, the outcome it must end in, and how to prepare it."""

    name: str
    argv: tuple[str, ...]
    expect: str = ERROR
    setup: str | None = None  # a key of SETUPS: files the command reads
    fault: str | None = None  # a key of FAULTS: an OSError the file system raises while the command runs
    xfail: str | None = None  # why this row is expected to fail on this branch
    names: str | None = None  # for REPORT rows: what a problem line must name
    env: dict[str, str] = field(default_factory=dict)


def _evaluate(*extra: str) -> tuple[str, ...]:
    return ("evaluate", "--quiet", "--output-dir", "{tmp}/out", "--n-ex", "2", "--n-iter", "1", *extra)


def _invert(*extra: str) -> tuple[str, ...]:
    return ("invert", "features", "--quiet", "--model", "pixel-l2", "--image", "{tmp}/x.png", "--output-dir", "{tmp}/inv", *extra)


def _finetune(method: str, *extra: str) -> tuple[str, ...]:
    base = ("finetune", method, "--quiet", "--model", "clip-convnext", "--random-weights", "--output-dir", "{tmp}/ft")
    return (*base, *(("--method", "lora") if method == "nights" else ()), *extra)


def _campaign(source: str, *extra: str) -> tuple[str, ...]:
    return ("campaign", "run", source, "{tmp}/camp", "--executor", "local", "--dry-run", *extra)


SUBMIT = ("submit", "--quiet", "--model", "ssim", "--out", "{tmp}/sub", "--smoke", "--n-ex", "2", "--n-iter", "1", "--threat", "linf")
SSIM = ("--model", "ssim")

ROWS: list[BadInput] = [
    # evaluate: names
    BadInput("evaluate unknown model", _evaluate("--model", "ssmi")),
    BadInput("evaluate empty model list", _evaluate("--model", "")),
    BadInput("evaluate model list of commas", _evaluate("--model", " , ")),
    BadInput("evaluate pattern matching nothing", _evaluate("--model", "zzz-*")),
    BadInput("evaluate unknown module:factory", _evaluate("--model", "no_such_pkg:factory")),
    BadInput("evaluate unknown dataset with suggestion", _evaluate(*SSIM, "--dataset", "nights-tset")),
    BadInput("evaluate dataset missing under data root", _evaluate(*SSIM, "--dataset", "bapps", "--data-root", "{tmp}/nowhere")),
    BadInput("evaluate dataset without data root", _evaluate(*SSIM, "--dataset", "bapps"), env={"PERCEPTBENCH_DATA": ""}),
    BadInput("evaluate unknown split", _evaluate(*SSIM, "--split", "nope")),
    BadInput("evaluate unknown threat", _evaluate(*SSIM, "--threat", "l3")),
    BadInput("evaluate empty threat", _evaluate(*SSIM, "--threat", "")),
    BadInput("evaluate unknown attack", _evaluate(*SSIM, "--attack", "fgsm")),
    # evaluate: numbers
    BadInput("evaluate eps not a number", _evaluate(*SSIM, "--eps", "four")),
    BadInput("evaluate eps nan", _evaluate(*SSIM, "--eps", "nan")),
    BadInput("evaluate eps inf", _evaluate(*SSIM, "--eps", "inf")),
    BadInput("evaluate eps negative", _evaluate(*SSIM, "--eps", "-4/255")),
    BadInput("evaluate eps divided by zero", _evaluate(*SSIM, "--eps", "1/0")),
    BadInput("evaluate eps two slashes", _evaluate(*SSIM, "--eps", "4/255/2")),
    BadInput("evaluate eps empty", _evaluate(*SSIM, "--eps", "")),
    BadInput("evaluate linf eps above 1", _evaluate(*SSIM, "--eps", "8")),
    BadInput("evaluate eps 0", _evaluate(*SSIM, "--eps", "0")),
    BadInput("evaluate n-iter 0", _evaluate(*SSIM, "--n-iter", "0")),
    BadInput("evaluate n-iter negative", _evaluate(*SSIM, "--n-iter", "-5")),
    BadInput("evaluate n-iter text", _evaluate(*SSIM, "--n-iter", "abc")),
    BadInput("evaluate batch size 0", _evaluate(*SSIM, "--batch-size", "0")),
    BadInput("evaluate batch size negative", _evaluate(*SSIM, "--batch-size", "-3")),
    BadInput("evaluate batch size text", _evaluate(*SSIM, "--batch-size", "lots")),
    BadInput("evaluate batch size fraction", _evaluate(*SSIM, "--batch-size", "2.5")),
    BadInput("evaluate n-ex negative", _evaluate(*SSIM, "--n-ex", "-1")),
    BadInput("evaluate n-ex 0", _evaluate(*SSIM, "--n-ex", "0")),
    BadInput("evaluate n-ex-per-split 0", _evaluate(*SSIM, "--n-ex-per-split", "0")),
    BadInput("evaluate n-restarts 0", _evaluate(*SSIM, "--n-restarts", "0")),
    BadInput("evaluate square queries 0", _evaluate(*SSIM, "--attack", "standard", "--square-queries", "0")),
    # evaluate: options and contradictions
    BadInput("evaluate attack none with checks", _evaluate(*SSIM, "--attack", "none", "--checks")),
    BadInput("evaluate unknown precision", _evaluate(*SSIM, "--precision", "fp8")),
    BadInput("evaluate fp16 on cpu", _evaluate(*SSIM, "--precision", "fp16")),
    BadInput("evaluate unknown device", _evaluate(*SSIM, "--device", "tpu")),
    BadInput("evaluate cuda without cuda", _evaluate(*SSIM, "--device", "cuda")),
    BadInput(
        "evaluate model-kwarg reduced=banana", _evaluate("--model", "clip-convnext", "--random-weights", "--model-kwarg", "reduced=banana")
    ),
    BadInput("evaluate model-kwarg reduced=2", _evaluate("--model", "clip-convnext", "--random-weights", "--model-kwarg", "reduced=2")),
    BadInput("evaluate model-kwarg unknown option", _evaluate(*SSIM, "--model-kwarg", "foo=1")),
    BadInput("evaluate model-kwarg without =", _evaluate(*SSIM, "--model-kwarg", "reduced")),
    BadInput("evaluate model-kwarg without key", _evaluate(*SSIM, "--model-kwarg", "=1")),
    BadInput("evaluate dataset option unknown", _evaluate(*SSIM, "--dataset-option", "foo=1")),
    BadInput("evaluate dataset option nan", _evaluate(*SSIM, "--dataset-option", "labels=NaN")),
    BadInput("evaluate dataset option without =", _evaluate(*SSIM, "--dataset-option", "labels")),
    BadInput("evaluate shard beyond count", _evaluate(*SSIM, "--shard", "3/2")),
    BadInput("evaluate shard text", _evaluate(*SSIM, "--shard", "x")),
    BadInput("evaluate merge-shards with shard", _evaluate(*SSIM, "--merge-shards", "--shard", "1/2")),
    # evaluate: paths and the file system
    BadInput("evaluate output dir is a file", ("evaluate", "--quiet", *SSIM, "--n-ex", "2", "--output-dir", "{tmp}/afile"), setup="file"),
    BadInput(
        "evaluate output dir under a file", ("evaluate", "--quiet", *SSIM, "--n-ex", "2", "--output-dir", "{tmp}/afile/sub"), setup="file"
    ),
    BadInput("evaluate output dir name too long", ("evaluate", "--quiet", *SSIM, "--n-ex", "2", "--output-dir", "{tmp}/{long}")),
    BadInput("evaluate data root is a file", _evaluate(*SSIM, "--data-root", "{tmp}/afile"), setup="file"),
    BadInput("evaluate disk full (ENOSPC)", _evaluate(*SSIM), fault="ENOSPC"),
    BadInput("evaluate read-only file system (EROFS)", _evaluate(*SSIM), fault="EROFS"),
    BadInput("evaluate permission denied (EACCES)", _evaluate(*SSIM), fault="EACCES"),
    BadInput("evaluate quota exceeded (EDQUOT)", _evaluate(*SSIM), fault="EDQUOT"),
    BadInput("evaluate disk full while writing (ENOSPC in write)", _evaluate(*SSIM), fault="ENOSPC-write"),
    # evaluate: what must still run
    BadInput("evaluate ssim on the demo", _evaluate(*SSIM), expect=ACCEPTED),
    BadInput("evaluate pixel-l2 l2 eps 0.5", _evaluate("--model", "pixel-l2", "--threat", "l2", "--eps", "0.5"), expect=ACCEPTED),
    BadInput("evaluate clean only", _evaluate(*SSIM, "--attack", "none"), expect=ACCEPTED),
    # sweep
    BadInput("sweep both axes", ("sweep", "--quiet", *SSIM, "--eps", "0,1/255", "--n-iter", "1,2", "--output-dir", "{tmp}/sw")),
    BadInput("sweep no axis", ("sweep", "--quiet", *SSIM, "--output-dir", "{tmp}/sw")),
    BadInput("sweep eps nan", ("sweep", "--quiet", *SSIM, "--eps", "nan,1/255", "--output-dir", "{tmp}/sw")),
    BadInput("sweep n-ex 0", ("sweep", "--quiet", *SSIM, "--eps", "0,1/255", "--n-ex", "0", "--output-dir", "{tmp}/sw")),
    BadInput("sweep model-kwarg banana", ("sweep", "--quiet", *SSIM, "--eps", "0,1/255", "--model-kwarg", "reduced=banana")),
    # perf
    BadInput("perf n-iter 0", ("perf", *SSIM, "--n-iter", "0")),
    BadInput("perf repeats negative", ("perf", *SSIM, "--repeats", "-1")),
    BadInput("perf model-kwarg banana", ("perf", "--model", "clip-convnext", "--model-kwarg", "reduced=banana")),
    BadInput("perf batch size 0", ("perf", *SSIM, "--batch-size", "0")),
    # invert
    BadInput("invert radius nan", _invert("--radius", "nan")),
    BadInput("invert radius inf", _invert("--radius", "inf")),
    BadInput("invert radius negative", _invert("--radius", "-1")),
    BadInput("invert step size nan", _invert("--step-size", "nan")),
    BadInput("invert seeds not integers", _invert("--seeds", "a,b")),
    BadInput("invert image missing", _invert()),
    BadInput("invert model-kwarg banana", _invert("--model-kwarg", "reduced=banana")),
    BadInput("invert text of a non-CLIP model", ("invert", "text", "--quiet", *SSIM, "--prompt", "a cat", "--output-dir", "{tmp}/inv")),
    # reproduce
    BadInput("reproduce n-ex negative", ("reproduce", "table1", "--dry-run", "--n-ex", "-1")),
    BadInput("reproduce unknown table", ("reproduce", "tabel1", "--dry-run")),
    BadInput("reproduce unknown device", ("reproduce", "table1", "--dry-run", "--device", "tpu")),
    BadInput("reproduce batch size 0", ("reproduce", "table1", "--dry-run", "--batch-size", "0")),
    BadInput("reproduce model-kwarg banana", ("reproduce", "table1", "--dry-run", "--model-kwarg", "reduced=banana")),
    BadInput("reproduce table1 plan", ("reproduce", "table1", "--dry-run"), expect=ACCEPTED),
    # campaign
    BadInput("campaign bad YAML", _campaign("{tmp}/bad.yaml"), setup="campaign_bad_yaml"),
    BadInput("campaign runs not a list", _campaign("{tmp}/runs3.yaml"), setup="campaign_runs_not_list"),
    BadInput("campaign unknown field", _campaign("{tmp}/field.yaml"), setup="campaign_unknown_field"),
    BadInput("campaign eps nan", _campaign("{tmp}/nan.yaml"), setup="campaign_eps_nan"),
    BadInput("campaign model_kwargs banana", _campaign("{tmp}/banana.yaml"), setup="campaign_banana"),
    BadInput("campaign n_ex negative in file", _campaign("{tmp}/negative.yaml"), setup="campaign_negative_n_ex"),
    BadInput("campaign missing file", _campaign("{tmp}/missing.yaml")),
    BadInput("campaign table n-ex negative", _campaign("table1", "--n-ex", "-1")),
    BadInput("campaign status of no campaign", ("campaign", "status", "{tmp}/empty"), setup="empty_dir"),
    BadInput("campaign good file", _campaign("{tmp}/good.yaml"), expect=ACCEPTED, setup="campaign_good"),
    # leaderboard and results
    BadInput("leaderboard results is a file", ("leaderboard", "--results", "{tmp}/afile", "--out", "{tmp}/site"), setup="file"),
    BadInput("leaderboard out under a file", ("leaderboard", "--results", "{tmp}/results", "--out", "{tmp}/afile/site"), setup="results"),
    BadInput(
        "leaderboard disk full (ENOSPC)",
        ("leaderboard", "--results", "{tmp}/results", "--out", "{tmp}/site"),
        setup="results",
        fault="ENOSPC",
    ),
    BadInput(
        "leaderboard read-only (EROFS)",
        ("leaderboard", "--results", "{tmp}/results", "--out", "{tmp}/site"),
        setup="results",
        fault="EROFS",
    ),
    BadInput(
        "leaderboard trusted key missing",
        ("leaderboard", "--results", "{tmp}/results", "--out", "{tmp}/site", "--trusted-key", "{tmp}/none.pub"),
        setup="results",
    ),
    BadInput(
        "leaderboard trusted key garbage",
        ("leaderboard", "--results", "{tmp}/results", "--out", "{tmp}/site", "--trusted-key", "{tmp}/afile"),
        setup="results",
    ),
    BadInput(
        "leaderboard skips bad JSON results",
        ("leaderboard", "--results", "{tmp}/results", "--out", "{tmp}/site"),
        expect=ACCEPTED,
        setup="results",
    ),
    BadInput("results unknown format", ("results", "--results", "{tmp}/results", "--format", "xml"), setup="results"),
    # an unreadable result file is skipped with one warning line, as a malformed one is (issue #19, item 5)
    BadInput(
        "results unreadable file (EACCES)", ("results", "--results", "{tmp}/results"), expect=ACCEPTED, setup="results", fault="EACCES-read"
    ),
    BadInput(
        "leaderboard unreadable (EACCES)",
        ("leaderboard", "--results", "{tmp}/results", "--out", "{tmp}/site"),
        expect=ACCEPTED,
        setup="results",
        fault="EACCES-read",
    ),
    BadInput(
        "results skips bad JSON as CSV", ("results", "--results", "{tmp}/results", "--format", "csv"), expect=ACCEPTED, setup="results"
    ),
    # compare
    BadInput("compare missing file", ("compare", "{tmp}/none.json", "{good}")),
    BadInput("compare confidence nan", ("compare", "{good}", "{good}", "--confidence", "nan")),
    BadInput("compare confidence above 1", ("compare", "{good}", "{good}", "--confidence", "2")),
    BadInput("compare a JSON list", ("compare", "{tmp}/results/list.json", "{good}"), setup="results"),
    # submit and verify-submission
    BadInput("submit unknown model", ("submit", "--model", "ssmi", "--out", "{tmp}/sub", "--smoke")),
    BadInput("submit n-ex 0", (*SUBMIT, "--n-ex", "0")),
    BadInput("submit unknown threat", (*SUBMIT[:-1], "l3")),
    BadInput("submit missing card", (*SUBMIT, "--card", "{tmp}/none.json")),
    BadInput("submit card is a JSON list", (*SUBMIT, "--card", "{tmp}/list.json"), setup="json_list"),
    BadInput("submit model-kwarg banana", (*SUBMIT, "--model-kwarg", "reduced=banana")),
    BadInput("verify missing folder", ("verify-submission", "{tmp}/nowhere")),
    BadInput("verify folder without submission", ("verify-submission", "{tmp}/empty"), setup="empty_dir"),
    BadInput("verify submission.json a JSON list", ("verify-submission", "{tmp}/listsub"), setup="submission_list"),
    BadInput("verify n 0", ("verify-submission", "{tmp}/empty", "--n", "0"), setup="empty_dir"),
    BadInput("verify confidence nan", ("verify-submission", "{tmp}/empty", "--confidence", "nan"), setup="empty_dir"),
    BadInput("verify confidence 1.5", ("verify-submission", "{tmp}/empty", "--confidence", "1.5"), setup="empty_dir"),
    # data
    BadInput("data verify unknown dataset", ("data", "verify", "nopedata", "--data-root", "{tmp}")),
    BadInput("data verify without data root", ("data", "verify", "nights"), env={"PERCEPTBENCH_DATA": ""}),
    BadInput("data verify data root is a file", ("data", "verify", "nights", "--data-root", "{tmp}/afile"), setup="file"),
    BadInput(
        "data verify nights votes=inf",
        ("data", "verify", "nights", "--data-root", "{tmp}/data"),
        setup="nights_votes_inf",
        expect=REPORT,
        names="votes must be a whole number",
    ),
    BadInput(
        "data verify truncated PNG",
        ("data", "verify", "bapps", "--data-root", "{tmp}/data"),
        setup="bapps_truncated_png",
        expect=REPORT,
        names="cannot be decoded",
    ),
    BadInput(
        "finetune malicious training-state.pt",
        _finetune("fare", "--model-kwarg", "reduced=true", "--data-root", "{tmp}"),
        setup="malicious_state",
    ),
    BadInput("data download data root under a file", ("data", "download", "nights", "--data-root", "{tmp}/afile/data"), setup="file"),
    # finetune
    BadInput("finetune lr nan", _finetune("nights", "--lr", "nan")),
    BadInput("finetune lr negative", _finetune("fare", "--lr", "-1")),
    BadInput("finetune weight decay inf", _finetune("fare", "--weight-decay", "inf")),
    BadInput("finetune lora dropout 1.5", _finetune("nights", "--lora-dropout", "1.5")),
    BadInput("finetune logit scale inf", _finetune("tecoa", "--logit-scale", "inf")),
    BadInput("finetune model-kwarg banana", _finetune("fare", "--model-kwarg", "reduced=banana")),
    BadInput(
        "finetune unknown base model", ("finetune", "fare", "--model", "clip-convnxt", "--random-weights", "--output-dir", "{tmp}/ft")
    ),
    BadInput("finetune eps nan", _finetune("fare", "--eps", "nan")),
    # the rest
    BadInput("schema unknown name", ("schema", "nope")),
    BadInput("datasets data root is a file", ("datasets", "--data-root", "{tmp}/afile"), setup="file"),
    BadInput("unknown command", ("evalute",)),
]


# Setups: files a row's command reads, written under its own temporary folder.
def _file(tmp: Path) -> None:
    (tmp / "afile").write_text("not a folder\n")


def _json_list(tmp: Path) -> None:
    (tmp / "list.json").write_text("[1, 2, 3]\n")


def _results(tmp: Path) -> None:
    _file(tmp)
    folder = tmp / "results"
    folder.mkdir()
    shutil.copy(good_result(), folder / Path(good_result()).name)
    (folder / "list.json").write_text("[1, 2, 3]\n")
    (folder / "torn.json").write_text('{"schema_version": 2, "model": ')
    (folder / "nested.json").write_text("[" * 5000 + "]" * 5000)


CAMPAIGN_FILES: dict[str, tuple[str, str]] = {
    "campaign_bad_yaml": ("bad.yaml", "runs: [model: ssim\n  - : :\n"),
    "campaign_runs_not_list": ("runs3.yaml", "runs: 3\n"),
    "campaign_unknown_field": ("field.yaml", "runs:\n  - model: ssim\n    epsilon: 4/255\n"),
    "campaign_eps_nan": ("nan.yaml", "runs:\n  - model: ssim\n    eps: nan\n    n_ex: 2\n"),
    "campaign_banana": ("banana.yaml", "runs:\n  - model: clip-convnext\n    pretrained: false\n    model_kwargs: {reduced: banana}\n"),
    "campaign_negative_n_ex": ("negative.yaml", "runs:\n  - model: ssim\n    n_ex: -1\n"),
    "campaign_good": ("good.yaml", "runs:\n  - model: ssim\n    n_ex: 2\n    n_iter: 1\n"),
}


def _write_campaign(key: str) -> Callable[[Path], None]:
    return lambda tmp: (tmp / CAMPAIGN_FILES[key][0]).write_text(CAMPAIGN_FILES[key][1])


def _submission_list(tmp: Path) -> None:
    (tmp / "listsub").mkdir()
    (tmp / "listsub" / "submission.json").write_text("[]\n")


def _nights_votes_inf(tmp: Path) -> None:
    folder = tmp / "data" / "nights"
    (folder / "distort").mkdir(parents=True)
    (folder / "ref").mkdir()
    header = "id,left_vote,right_vote,votes,ref_path,left_path,right_path,split,is_imagenet\n"
    (folder / "data.csv").write_text(header + "0,1,5,inf,ref/a.png,distort/a_0.png,distort/a_1.png,test,True\n")


def _bapps_truncated_png(tmp: Path) -> None:
    from benchmark.datasets.demo import write_demo

    split = tmp / "data" / "bapps" / "2afc" / "val" / "traditional"
    write_demo(split, n_triplets=4)
    broken = next((split / "p1").glob("*.png"))
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 3])


class _Payload:
    """A pickle that would call print('pwned') when loaded without weights_only (harmless, but code all the same)."""

    def __reduce__(self):
        return (print, ("pwned",))


def _malicious_state(tmp: Path) -> None:
    import pickle

    (tmp / "ft").mkdir()
    (tmp / "ft" / "training-state.pt").write_bytes(pickle.dumps({"config_hash": _Payload()}))


SETUPS: dict[str, Callable[[Path], None]] = {
    "bapps_truncated_png": _bapps_truncated_png,
    "malicious_state": _malicious_state,
    "file": _file,
    "json_list": _json_list,
    "results": _results,
    "empty_dir": lambda tmp: (tmp / "empty").mkdir(),
    "submission_list": _submission_list,
    "nights_votes_inf": _nights_votes_inf,
    **{key: _write_campaign(key) for key in CAMPAIGN_FILES},
}


# Faults: an OSError with this errno from the file system while the command runs.
def _failing(number: int, name: str) -> Callable[..., None]:
    def fail(*args, **kwargs) -> None:
        raise OSError(number, os.strerror(number), str(args[-1]) if args else None)

    fail.__name__ = name
    return fail


@contextlib.contextmanager
def _replace_fails(number: int) -> Iterator[None]:
    """Every rename (the last step of every atomic write) fails, as on a full or read-only disk."""
    with mock.patch("os.replace", _failing(number, "replace")):
        yield


@contextlib.contextmanager
def _fsync_fails(number: int) -> Iterator[None]:
    """The data cannot reach the disk: the error `write()`/`fsync()` gives on a full disk, naming no file."""

    def fail(descriptor: int) -> None:
        raise OSError(number, os.strerror(number))

    with mock.patch("os.fsync", fail):
        yield


@contextlib.contextmanager
def _reading_fails(number: int) -> Iterator[None]:
    """Reading any .json file fails (permission denied)."""
    original = Path.read_text

    def read_text(self: Path, *args, **kwargs) -> str:
        if self.suffix == ".json":
            raise OSError(number, os.strerror(number), str(self))
        return original(self, *args, **kwargs)

    with mock.patch.object(Path, "read_text", read_text), mock.patch.object(Path, "read_bytes", lambda self: read_text(self).encode()):
        yield


FAULTS: dict[str, Callable[[], contextlib.AbstractContextManager]] = {
    "ENOSPC": lambda: _replace_fails(errno.ENOSPC),
    "EROFS": lambda: _replace_fails(errno.EROFS),
    "EACCES": lambda: _replace_fails(errno.EACCES),
    "EDQUOT": lambda: _replace_fails(errno.EDQUOT),
    "ENOSPC-write": lambda: _fsync_fails(errno.ENOSPC),
    "EACCES-read": lambda: _reading_fails(errno.EACCES),
}

_GOOD: dict[str, str] = {}


def good_result() -> str:
    """One valid result file (ssim on 2 demo samples), made once per process."""
    if "path" not in _GOOD:
        from click.testing import CliRunner

        from benchmark.cli.bench import main

        folder = Path(tempfile.mkdtemp(prefix="census-good-"))
        out = CliRunner().invoke(
            main, ["evaluate", "--quiet", "--model", "ssim", "--n-ex", "2", "--n-iter", "1", "--output-dir", str(folder)]
        )
        assert out.exit_code == 0, out.output
        _GOOD["path"] = str(next(p for p in folder.rglob("*.json") if not p.name.startswith(".")))
    return _GOOD["path"]


@dataclass
class Outcome:
    """What a row ended in: a kind (one of the outcome kinds above), the exit code and the output."""

    kind: str
    exit_code: int
    output: str

    @property
    def message_lines(self) -> list[str]:
        """The output less blank lines, click's usage lines (`Usage: ...` and its wrapped tail, `Try '... --help' for help.`)
        and warning lines (a skipped file: one line each, beside the error)."""
        lines, in_usage = [], False
        for line in self.output.splitlines():
            in_usage = line.startswith("Usage: ") or (in_usage and line.startswith(" "))
            usage = in_usage or (line.startswith("Try '") and line.endswith("for help."))
            if line.strip() and not usage and not line.startswith("warning: "):
                lines.append(line)
        return lines


def run_row(row: BadInput, tmp: Path) -> Outcome:
    """Run `row` in the folder `tmp` (made empty by the caller) and classify what happened."""
    from click.testing import CliRunner

    from benchmark.cli.bench import main

    if row.setup:
        SETUPS[row.setup](tmp)
    values = {"tmp": str(tmp), "long": "a" * 300}
    if any("{good}" in arg for arg in row.argv):
        values["good"] = good_result()
    argv = [arg.format(**values) for arg in row.argv]
    with FAULTS[row.fault]() if row.fault else contextlib.nullcontext():
        out = CliRunner().invoke(main, argv, env=row.env or None)
    output = out.output
    uncaught = out.exception is not None and not isinstance(out.exception, SystemExit)
    if uncaught or "Traceback (most recent call last)" in output:
        return Outcome(TRACEBACK, out.exit_code, output + "".join(_format(out.exc_info)))
    outcome = Outcome(OK, out.exit_code, output)
    if out.exit_code == 0:
        outcome.kind = WRONGLY_ACCEPTED if row.expect == ERROR else OK
    elif row.expect == ACCEPTED:
        outcome.kind = WRONGLY_REFUSED
    else:
        outcome.kind = ONE_LINE if len(outcome.message_lines) == 1 else MULTI_LINE
        if row.expect == REPORT:
            problems = [line for line in output.splitlines() if line.startswith("  problem: ")]
            named = any(row.names in line for line in problems) if row.names else bool(problems)
            outcome.kind = REPORTED if named and len(problems) == len(set(problems)) else MULTI_LINE
    return outcome


def _format(exc_info) -> list[str]:
    import traceback

    return traceback.format_exception(*exc_info) if exc_info else []


def leftovers(tmp: Path) -> list[Path]:
    """Half-written files a failed write left behind (temporary files of atomic writes, empty result files)."""
    return [p for p in tmp.rglob("*") if p.is_file() and (p.name.endswith(".tmp") or (p.suffix == ".json" and p.stat().st_size == 0))]


def census_counts(outcomes: list[Outcome]) -> dict[str, int]:
    """tried / one-line errors / multi-line errors / tracebacks / wrongly accepted / accepted / wrongly refused."""
    kinds = [o.kind for o in outcomes]
    return {
        "tried": len(outcomes),
        **{kind: kinds.count(kind) for kind in (ONE_LINE, REPORTED, MULTI_LINE, TRACEBACK, WRONGLY_ACCEPTED, OK, WRONGLY_REFUSED)},
    }
