"""Read the sanity-check flags a result file carries (`checks`), whatever shape each check's record has."""

from __future__ import annotations

from typing import Any

FAILED_STATUSES = {"fail", "failed", "error", "warning"}


def check_passed(record: Any) -> bool | None:
    """True / False for a check that passed / failed; None when the record does not say."""
    if isinstance(record, bool):
        return record
    if isinstance(record, dict):
        for key in ("passed", "ok", "pass"):
            if isinstance(record.get(key), bool):
                return record[key]
        status = record.get("status")
        if isinstance(status, str):
            return status.lower() not in FAILED_STATUSES
    if isinstance(record, str):
        return record.lower() not in FAILED_STATUSES
    return None


def failed_checks(checks: dict[str, Any] | None) -> list[str]:
    """Names of the checks that failed, for a visible flag on the leaderboard."""
    return [name for name, record in (checks or {}).items() if check_passed(record) is False]


def check_details(record: Any) -> str:
    """The rest of a check's record, as short text for the model page."""
    if isinstance(record, dict):
        return ", ".join(f"{key}={value}" for key, value in record.items() if key not in ("passed", "ok", "pass", "status"))
    return "" if isinstance(record, bool) else str(record)
