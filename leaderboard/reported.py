"""The numbers the paper reports (Tables I-IV and VI-XV; Table V holds no numbers), read from CSV files in `leaderboard/data/`.

Each table is one file `paper_table_<N>.csv` laid out like the paper: a row per model (registry name, then the
label printed in the paper) and a column per cell, named `dataset|split|threat|metric` (empty split = the dataset's
whole evaluation set, e.g. the BAPPS mean; threat `clean`, `linf 4/255` or `l2 3.0`). Values are in %; '-' marks a
cell the paper leaves empty.

Metric `score` is what the leaderboard ranks: 2AFC accuracy (I, II, XIII-XV), detection accuracy of a query class
(III, VIII, X), mAP (IX), odd-one-out accuracy (XII). Every other metric is kept for the model pages only
(a model in no leaderboard table, such as Table IV's LAION detector, has no page; its numbers stay data):
- `frac_safe`, `frac_buffer`, `frac_unsafe` (III, VIII): share of a query class assigned to another pool class;
- `score_no_buffer` (IV): NSFW detection with the pool's buffer class left out, as the LAION detector has none;
- `score_<N>it` (VI, the values of Fig. 8): robust NIGHTS accuracy after N APGD iterations (0 = clean);
- `cosine_by_<judge>` (VII, dataset `coco`, split `feature-inversion`): mean cosine similarity, as judged by the
  named model, between 100 COCO images and their feature inversions by the row's model; stored x100 like every
  other value, so one rule (value / 100) reads all files;
- `accuracy` (XI): zero-shot classification on `imagenet|val` and averaged over the 13 datasets of Schlarmann et al.
  (`zero-shot-13`), which the 2AFC leaderboard does not rank.
Detection splits are `<configuration>-<query class>-query`: `nsfw-neutral-query` / `nsfw-porn-query` (safe / unsafe
NSFW queries) and `guns-safe-query` / `guns-unsafe-query` (ImageNet gun filtering, Table X).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
TABLE_FILE_PREFIX = "paper_table_"
PAPER = "Croce et al., Adversarially Robust CLIP Models Can Induce Better (Robust) Perceptual Metrics"


class ReportedDataError(ValueError):
    """A reported-numbers file does not follow the `dataset|split|threat|metric` layout."""


@dataclass(frozen=True)
class ReportedScore:
    """One number the paper reports (stored in leaderboard/data/), as a fraction like the scores in result files."""

    model: str
    paper_label: str
    dataset: str
    split: str | None
    threat: str  # "clean" or a threat label such as "linf 4/255"
    metric: str  # "score" for the ranked number
    value: float  # a fraction in [0, 1], like scores in result files
    table: str  # "Table XIII"


def _parse_column(name: str, path: Path) -> tuple[str, str | None, str, str]:
    parts = name.split("|")
    if len(parts) != 4 or not parts[0] or not parts[2] or not parts[3]:
        raise ReportedDataError(f"{path}: column '{name}' is not 'dataset|split|threat|metric' (split may be empty)")
    dataset, split, threat, metric = parts
    return dataset, split or None, threat, metric


def table_path(numeral: str, data_dir: str | Path = DATA_DIR) -> Path:
    """The file of paper table `numeral` ("XIII"); an error names the tables there are."""
    path = Path(data_dir) / f"{TABLE_FILE_PREFIX}{numeral}.csv"
    if not path.is_file():
        stored = ", ".join(
            p.stem.removeprefix(TABLE_FILE_PREFIX) for p in sorted(Path(data_dir).glob(f"{TABLE_FILE_PREFIX}*.csv"), key=_table_order)
        )
        raise ReportedDataError(f"no paper table '{numeral}' in {data_dir} (stored: {stored})")
    return path


def table_rows_and_columns(numeral: str, data_dir: str | Path = DATA_DIR) -> tuple[list[str], list[tuple[str, str | None, str, str]]]:
    """(models in the paper's row order, parsed `dataset|split|threat|metric` columns) of one paper table."""
    path = table_path(numeral, data_dir)
    with path.open(newline="", encoding="utf-8") as handle:
        header, *rows = list(csv.reader(handle))
    return [row[0] for row in rows if row], [_parse_column(name, path) for name in header[2:]]


def load_table(path: str | Path) -> list[ReportedScore]:
    """One paper table; '-' marks a cell the paper leaves empty."""
    path = Path(path)
    table = "Table " + path.stem.removeprefix(TABLE_FILE_PREFIX)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        fieldnames = reader.fieldnames or []
        if fieldnames[:2] != ["model", "paper_label"]:
            raise ReportedDataError(f"{path}: the first columns must be 'model,paper_label', got {fieldnames[:2]}")
        columns = {name: _parse_column(name, path) for name in fieldnames[2:]}
        scores = []
        for line, row in enumerate(reader, start=2):
            for name, (dataset, split, threat, metric) in columns.items():
                text = (row.get(name) or "").strip()
                if text in ("", "-"):
                    continue
                try:
                    value = float(text) / 100.0
                except ValueError:
                    raise ReportedDataError(
                        f"{path}:{line}: '{text}' in column '{name}' is not a number (use '-' for an empty cell)"
                    ) from None
                scores.append(ReportedScore(row["model"], row["paper_label"], dataset, split, threat, metric, value, table))
    return scores


def _table_order(path: Path) -> int:
    """Roman numeral of the table, so files load in the paper's order."""
    numerals = {"I": 1, "V": 5, "X": 10}
    text = path.stem.removeprefix(TABLE_FILE_PREFIX)
    total = 0
    for current, following in zip(text, text[1:] + " "):
        value = numerals.get(current, 0)
        total += -value if numerals.get(following, 0) > value else value
    return total


def load_reported(data_dir: str | Path = DATA_DIR) -> list[ReportedScore]:
    """Every number of every paper table in `data_dir`, tables in the paper's order."""
    paths = sorted(Path(data_dir).glob(f"{TABLE_FILE_PREFIX}*.csv"), key=_table_order)
    return [score for path in paths for score in load_table(path)]


PAPER_MODELS_FILE = "paper_models.csv"  # card fields of the paper's models that the zoo does not register
ZOO_CARDS_FILE = "paper_zoo_cards.json"  # the zoo's cards of the paper's models it registers (benchmark/paper/cards.py)


def _read_paper_models(path: Path) -> dict[str, dict]:
    """The hand-kept cards of paper models outside the zoo (the paper is their only source)."""
    with path.open(newline="", encoding="utf-8") as handle:
        cards = {}
        for row in csv.DictReader(handle):
            card: dict = {**row, "name": row["model"], "paper": PAPER}
            card["parameters"] = int(row["parameters"]) if row.get("parameters") else None
            card["robust_eps"] = row.get("robust_eps") or None
            cards[row["model"]] = card
        return cards


def load_zoo_cards(data_dir: str | Path = DATA_DIR) -> dict[str, dict]:
    """The zoo's cards of the paper's models, as generated from the registry (no registry is imported here)."""
    path = Path(data_dir) / ZOO_CARDS_FILE
    if not path.is_file():
        return {}
    with path.open(encoding="utf-8") as handle:  # package data, read as the CSV files beside it are
        data = json.load(handle)
    if not isinstance(data, dict) or not isinstance(data.get("cards"), dict):
        raise ReportedDataError(f"{path}: expected {{'cards': {{model: card}}}}; regenerate it: python -m benchmark.paper.cards")
    return {name: dict(card) for name, card in data["cards"].items()}


def load_paper_model_cards(data_dir: str | Path = DATA_DIR) -> dict[str, dict]:
    """The card of every model the paper reports, for its rows without results: the zoo's own card where the zoo
    registers it (`paper_zoo_cards.json`, generated from the cards), else the stored fields of `paper_models.csv`.

    Stored data, not the live zoo, so the leaderboard is a function of files alone; each model is in one file only.
    """
    path = Path(data_dir) / PAPER_MODELS_FILE
    outside = _read_paper_models(path) if path.is_file() else {}
    zoo = load_zoo_cards(data_dir)
    both = sorted(set(outside) & set(zoo))
    if both:
        raise ReportedDataError(
            f"{path}: {', '.join(both)} {'is' if len(both) == 1 else 'are'} in the zoo, whose card says it "
            f"({ZOO_CARDS_FILE}); delete {'its row' if len(both) == 1 else 'their rows'} from {PAPER_MODELS_FILE}"
        )
    return {**outside, **zoo}
