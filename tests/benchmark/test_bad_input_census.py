"""The bad-input census (tests/bad_input_table.py): every row ends as its table says, in one line, never a traceback."""

from __future__ import annotations

import pytest
from bad_input_table import ACCEPTED, OK, ONE_LINE, REPORT, REPORTED, ROWS, leftovers, run_row


def _param(row):
    marks = [pytest.mark.xfail(strict=False, reason=row.xfail)] if row.xfail else []
    return pytest.param(row, id=row.name.replace(" ", "-"), marks=marks)


@pytest.mark.parametrize("row", [_param(row) for row in ROWS])
def test_bad_input_ends_as_the_census_says(row, tmp_path):
    outcome = run_row(row, tmp_path)
    assert "Traceback" not in outcome.output, outcome.output
    if row.expect == ACCEPTED:
        assert outcome.kind == OK and outcome.exit_code == 0, outcome.output
        return
    if row.expect == REPORT:  # exit 1 with each problem once, on its own line, naming what is wrong
        assert outcome.kind == REPORTED and outcome.exit_code == 1, outcome.output
        return
    assert outcome.kind == ONE_LINE and outcome.exit_code != 0, outcome.output
    assert outcome.message_lines[0].startswith("Error: "), outcome.output
    if row.fault:  # the error names the file and no half-written file is left behind
        assert str(tmp_path) in outcome.message_lines[0] and "(E" in outcome.message_lines[0], outcome.output
        assert leftovers(tmp_path) == []


def test_the_census_covers_every_command_with_enough_rows():
    assert len(ROWS) >= 60 and len({row.name for row in ROWS}) == len(ROWS)
    commands = {row.argv[0] for row in ROWS}
    expected = {"evaluate", "sweep", "perf", "invert", "reproduce", "campaign", "leaderboard", "results", "compare", "submit"}
    assert expected | {"verify-submission", "data", "finetune", "schema", "datasets"} <= commands
