"""Every result as a pandas DataFrame: one row per (model, dataset, split, protocol, threat, eps, attack, source).

`load_results(folder)` reads a results folder (and, optionally, a folder of submissions) into the
table `bench results` prints and the leaderboard collects through (`collect_entries`). Each score has
its 95% interval beside it (`clean_lo`, `clean_hi`, ...), empty for files written before intervals.
Status: `measured` (run here), `random` (random-weight smoke run, never ranked), `flagged` (a sanity
check failed, or a submission failed verification), `submitted` (a submission's claim, not yet
verified), `verified` (a submission whose claim a re-run supported, in a statement signed by a trusted key),
`reported` (a number the paper reports, from `leaderboard/data/`, added by `reported_frame`).
"""

from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from attacks.threat import split_threat_label
from benchmark.results import EvaluationResult, Scores

from .checks import failed_checks
from .collect import collect_results
from .families import family_group

COLUMNS = [
    "model",
    "family",  # the kind of metric (leaderboard.families.family_group of the card's family): IQA, CLIP-based, DINO, ...
    "dataset",
    "split",
    "protocol",
    "threat",
    "eps",
    "attack",
    "clean",
    "clean_lo",
    "clean_hi",
    "robust",
    "robust_lo",
    "robust_hi",
    "n",
    "status",
    "weights",
    "failed_checks",
    "source",
    "result_file",
]
KEY = ["model", "dataset", "split", "protocol", "threat", "eps", "attack", "source"]


@dataclass(frozen=True)
class Entry:
    """A result file with where it came from and the status it carries."""

    path: Path
    result: EvaluationResult
    status: str
    source: str  # "results" or "submission:<folder name>"
    label: str = ""  # the status as shown, e.g. "verified (subset, n=200)"
    reasons: tuple[str, ...] = ()
    smoke: bool = False  # a smoke submission (demo only): never ranked beside full ones


def result_status(result: EvaluationResult) -> str:
    """random (a smoke run), flagged (a sanity check failed) or measured."""
    if result.weights == "random":
        return "random"
    return "flagged" if failed_checks(result.checks) else "measured"


def collect_entries(
    results_dir: str | Path | None, submissions_dir: str | Path | None = None, trusted_keys: Iterable[str | Path] = ()
) -> list[Entry]:
    """Our own results (status from their checks) and every submission's results (status from its signed verification).

    A submission's statement is believed when signed by this machine's key or one of the `trusted_keys` files
    (benchmark/submissions/verification.py); a folder whose submission.json is malformed is skipped with a warning.
    """
    from benchmark.submissions.schema import RESULTS_DIR, find_submissions, read_submission
    from benchmark.submissions.verification import submission_status
    from benchmark.submissions.verification import trusted_keys as load_trusted_keys

    entries = []
    if results_dir is not None:
        for path, result in collect_results(results_dir):
            status = result_status(result)
            entries.append(
                Entry(path, result, status, "results", status, tuple(f"sanity check {c} failed" for c in failed_checks(result.checks)))
            )
    folders = find_submissions(submissions_dir) if submissions_dir is not None else []
    trusted = load_trusted_keys(trusted_keys) if folders else frozenset()
    for folder in folders:
        try:
            standing = submission_status(folder, trusted)
            record = read_submission(folder)
        except (OSError, ValueError) as error:
            warnings.warn(f"skipping submission {folder}: {error}", stacklevel=2)
            continue
        for path, result in collect_results(folder / RESULTS_DIR):
            if path.relative_to(folder).as_posix() not in record.results:
                continue
            entries.append(
                Entry(path, result, standing.status, f"submission:{folder.name}", standing.label, standing.reasons, standing.smoke)
            )
    return entries


def _bounds(scores: Scores, kind: str) -> dict[str, float | None]:
    """`<kind>_lo`, `<kind>_hi`: the score's 95% interval, None for files written before intervals."""
    interval = scores.intervals.get(kind)
    return {f"{kind}_lo": interval.low if interval else None, f"{kind}_hi": interval.high if interval else None}


def _row(entry: Entry) -> dict:
    from .tables import canonical_split, score_protocol

    result = entry.result
    scores = result.scores
    return {
        "model": result.model,
        "family": family_group(str(result.model_card.get("family") or "")),
        "dataset": result.dataset,
        "split": canonical_split(result) or "",
        "protocol": score_protocol(result),
        "threat": result.threat.norm,
        "eps": result.threat.eps_text,
        "attack": result.attack.name if result.attack is not None else "none",
        "clean": scores.clean,
        **_bounds(scores, "clean"),
        "robust": scores.robust if result.attack is not None else None,
        **(_bounds(scores, "robust") if result.attack is not None else {}),
        "n": scores.n,
        "status": entry.status,
        "weights": result.weights,
        "failed_checks": ";".join(failed_checks(result.checks)),
        "source": entry.source,
        "result_file": str(entry.path),
        "_created_at": result.created_at,
    }


def _rounded(value: float | None) -> float | None:
    """A stored percent / 100 without float noise (90.6 / 100 is 0.9059999999999999)."""
    return None if value is None else round(value, 6)


def reported_frame() -> pd.DataFrame:
    """The paper's ranked numbers (metric `score`) as rows of `load_results`' table, status `reported`.

    The paper's tables store clean and robust numbers as separate cells; a row pairs each robust cell with
    the clean cell of the same model, dataset, split and table (clean-only cells make clean-only rows).
    """
    from .reported import load_paper_model_cards, load_reported
    from .tables import CLEAN, paper_protocol

    cards = load_paper_model_cards()  # a paper row's family is its card's, as a measured row's is
    grouped: dict[tuple, dict[str, float]] = {}
    for score in load_reported():
        if score.metric == "score":
            grouped.setdefault((score.model, score.dataset, score.split or "", score.table), {})[score.threat] = score.value
    rows = []
    for (model, dataset, split, table), cells in grouped.items():
        protocol = paper_protocol(dataset)
        threats = [threat for threat in cells if threat != CLEAN] or [CLEAN]
        for threat in threats:
            norm, eps = split_threat_label(threat)
            rows.append(
                {
                    "model": model,
                    "family": family_group(str(cards.get(model, {}).get("family") or "")),
                    "dataset": dataset,
                    "split": split,
                    "protocol": protocol,
                    "threat": "none" if threat == CLEAN else norm,
                    "eps": eps,
                    "attack": "reported",
                    "clean": _rounded(cells.get(CLEAN)),
                    "robust": _rounded(cells.get(threat)) if threat != CLEAN else None,
                    "n": None,
                    "status": "reported",
                    "weights": "reported",
                    "failed_checks": "",
                    "source": f"paper:{table}",
                    "result_file": "",
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def load_results(folder: str | Path, submissions: str | Path | None = None, trusted_keys: Iterable[str | Path] = ()) -> pd.DataFrame:
    """One row per (model, dataset, split, protocol, threat, eps, attack, source) with clean, robust, n and status.

    Where a key has several result files, the one with the most samples wins, then the newest.
    """
    rows = [_row(entry) for entry in collect_entries(folder, submissions, trusted_keys)]
    frame = pd.DataFrame(rows, columns=COLUMNS + ["_created_at"])
    if frame.empty:
        return frame[COLUMNS]
    frame = frame.sort_values(["n", "_created_at"], ascending=[False, False], na_position="last")
    frame = frame.drop_duplicates(subset=KEY, keep="first")
    return frame.sort_values(KEY).reset_index(drop=True)[COLUMNS]


def filter_results(
    frame: pd.DataFrame,
    model: str = "*",
    dataset: str | None = None,
    threat: str | None = None,
    attack: str | None = None,
    status: str | None = None,
) -> pd.DataFrame:
    """Rows whose model matches the shell-style `model` pattern and whose other columns equal what is given."""
    kept = frame[frame["model"].map(lambda name: fnmatch.fnmatchcase(str(name), model))]
    for column, value in (("dataset", dataset), ("threat", threat), ("attack", attack), ("status", status)):
        if value is not None:
            kept = kept[kept[column] == value]
    return kept.reset_index(drop=True)
