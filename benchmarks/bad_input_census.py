"""Count how the bad-input census ends on this checkout: tried / one-line errors / tracebacks / wrongly accepted.

    PYTHONPATH=. python benchmarks/bad_input_census.py [--verbose]

The rows live in tests/bad_input_table.py, loaded by path, so the same table can be run against an older
checkout (PYTHONPATH pointing at it) to compare before and after.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

TABLE = Path(__file__).resolve().parent.parent / "tests" / "bad_input_table.py"


def load_table():
    spec = importlib.util.spec_from_file_location("bad_input_table", TABLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["bad_input_table"] = module
    spec.loader.exec_module(module)
    return module


def main(verbose: bool) -> None:
    os.environ.setdefault("PERCEPTBENCH_CACHE", tempfile.mkdtemp(prefix="census-cache-"))
    import torch

    torch.set_num_threads(1)
    table = load_table()
    outcomes = []
    for row in table.ROWS:
        with tempfile.TemporaryDirectory(prefix="census-") as folder:
            outcome = table.run_row(row, Path(folder))
        outcomes.append(outcome)
        if verbose or outcome.kind not in (table.ONE_LINE, table.OK):
            tail = outcome.message_lines[-1] if outcome.message_lines else ""
            print(f"{outcome.kind:17} {row.name}: {tail[:160]}")
    print(" / ".join(f"{count} {kind}" for kind, count in table.census_counts(outcomes).items()))


if __name__ == "__main__":
    main("--verbose" in sys.argv)
