"""Each card fact once: the leaderboard's cards of the paper's zoo models are the zoo's cards, regenerated, never kept by hand."""

from __future__ import annotations

import csv
import re
from dataclasses import replace

import pytest

from benchmark.paper.cards import REGENERATE, check_zoo_cards, paper_zoo_cards, zoo_cards_path
from leaderboard import build_tables, load_reported
from leaderboard.families import FAMILY_GROUPS
from leaderboard.reported import DATA_DIR, PAPER_MODELS_FILE, load_paper_model_cards
from model_zoo import registry
from model_zoo.registry import get_model_card, list_models

SHOWN_FIELDS = ("family", "backbone", "robust_training", "robust_eps", "finetuning", "parameters")  # the tables' card columns


def test_the_stored_cards_are_the_zoo_cards_regenerated():
    check_zoo_cards()  # a one-line error naming the stale models and `python -m benchmark.paper.cards`


def test_a_card_changed_without_regenerating_fails_naming_the_model_and_the_command(monkeypatch):
    monkeypatch.setitem(registry._CARDS, "r-clip-f-convnext", replace(get_model_card("r-clip-f-convnext"), family="clip"))
    with pytest.raises(ValueError, match=re.escape(f"(r-clip-f-convnext differ from the zoo's cards); regenerate it: {REGENERATE}")):
        check_zoo_cards()
    assert REGENERATE == "python -m benchmark.paper.cards"


def test_no_card_field_of_a_paper_model_differs_from_the_zoo():
    """The issue measured 43 such mismatches when paper_models.csv kept the zoo's models too; now there are none."""
    cards, zoo = load_paper_model_cards(), set(list_models())
    reported_in_zoo = {score.model for score in load_reported()} & zoo
    assert reported_in_zoo and reported_in_zoo <= set(cards)
    mismatches = [
        (name, field, card.get(field), getattr(get_model_card(name), field))
        for name, card in cards.items()
        if name in zoo
        for field in SHOWN_FIELDS
        if card.get(field) != getattr(get_model_card(name), field)
    ]
    assert mismatches == []
    assert set(paper_zoo_cards()) == reported_in_zoo


def test_paper_models_csv_keeps_only_models_outside_the_zoo_in_the_zoos_words():
    with (DATA_DIR / PAPER_MODELS_FILE).open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and not {row["model"] for row in rows} & set(list_models())
    assert {row["family"] for row in rows} <= set(FAMILY_GROUPS)  # the site's family filter knows every one


def test_a_paper_row_without_results_shows_the_zoos_card():
    """r-clip-f-convnext was 'clip' in the CSV and 'robust-clip' on its card: the filter changed with whether it was measured."""
    tables = build_tables([], load_reported(), load_paper_model_cards().get)
    rows = {row.model: row for table in tables for row in table.rows if row.weights == "reported"}
    assert rows["r-clip-f-convnext"].card == get_model_card("r-clip-f-convnext").to_dict()
    assert rows["r-clip-f-convnext"].family == "robust-clip"
    assert rows["r-clip-t-vit-b32+lora"].family == "robust-clip-nights"  # outside the zoo: the CSV's row
    assert zoo_cards_path().name == "paper_zoo_cards.json"


def test_the_results_table_gives_a_paper_row_its_cards_family():
    from leaderboard.frame import reported_frame

    families = reported_frame().drop_duplicates("model").set_index("model")["family"]
    assert families["r-clip-f-convnext"] == "CLIP-based" and families["lipsim-pretrained"] == "LipSim"
    assert families["r-dino-f-vit-b16+lora"] == "DINO" and not families.isna().any()  # outside the zoo too
