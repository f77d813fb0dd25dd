"""The sanity-check flags a result file carries: its `checks`, read as `CheckResult`s (benchmark/results.py)."""

from __future__ import annotations

from benchmark.results import CheckResult


def failed_checks(checks: dict[str, CheckResult]) -> list[str]:
    """Names of the checks that failed, for a visible flag on the leaderboard."""
    return [name for name, check in checks.items() if check.passed is False]


def check_details(check: CheckResult) -> str:
    """A check's sentence and numbers, as short text for the model page."""
    numbers = ", ".join(f"{key}={value}" for key, value in check.numbers.items())
    return "; ".join(part for part in (check.detail, numbers) if part)
