"""The zoo's cards of the models the paper reports, written as the data file the leaderboard reads.

The leaderboard imports no model registry (it is a function of files alone), yet a paper row without
results must show the same card as a measured one. So the cards are the one source and
`leaderboard/data/paper_zoo_cards.json` is generated from them: `python -m benchmark.paper.cards`
rewrites it, and tests/benchmark/test_paper_cards.py fails, naming that command, when a card changed
and the file was not regenerated. Paper models outside the zoo keep their fields in `paper_models.csv`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..runtime.atomic import atomic_write_text

REGENERATE = f"python -m {__spec__.name if __spec__ else __name__}"  # the command, wherever this module lives


def paper_zoo_cards() -> dict[str, dict[str, Any]]:
    """name -> `ModelCard.to_dict()` for every model of the paper's tables that the zoo registers, sorted by name."""
    from leaderboard.reported import load_reported  # the paper's stored tables (read, as bench reproduce reads them)
    from model_zoo.registry import get_model_card, list_models

    reported = {score.model for score in load_reported()}
    return {name: get_model_card(name).to_dict() for name in sorted(reported & set(list_models()))}


def zoo_cards_text(cards: dict[str, dict[str, Any]]) -> str:
    """The file's exact text, so a stale file differs byte for byte."""
    return json.dumps({"generated_by": REGENERATE, "cards": cards}, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def zoo_cards_path() -> Path:
    """Where the leaderboard reads the cards: `leaderboard/data/paper_zoo_cards.json`."""
    from leaderboard.reported import DATA_DIR, ZOO_CARDS_FILE

    return DATA_DIR / ZOO_CARDS_FILE


def write_paper_zoo_cards(path: str | Path | None = None) -> Path:
    """Regenerate the leaderboard's copy of the cards from the registry."""
    return atomic_write_text(path or zoo_cards_path(), zoo_cards_text(paper_zoo_cards()))


def check_zoo_cards(path: str | Path | None = None) -> None:
    """Refuse a stored copy that is not what the cards say now, naming the model that changed and the fix."""
    path = Path(path or zoo_cards_path())
    cards = paper_zoo_cards()
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    stored = json.loads(text).get("cards", {}) if text else {}
    changed = sorted(name for name in set(cards) | set(stored) if cards.get(name) != stored.get(name))
    if changed or text != zoo_cards_text(cards):
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "") if changed else "its layout"
        raise ValueError(f"{path} is stale ({shown} differ from the zoo's cards); regenerate it: {REGENERATE}")


if __name__ == "__main__":
    print(f"wrote {write_paper_zoo_cards()}")
