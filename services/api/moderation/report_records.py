"""A report as its reporter sees it (`POST /reports`, `GET /me/reports`, the export's
reports.json) and as the console lists it: one column list and one shape, never the snapshot
kept as evidence nor what was done."""

from __future__ import annotations

from typing import Any

REPORT_COLUMNS = "id, target_type, target_id, reason, note, status, created_at, resolved_at"


def report_json(record: Any) -> dict[str, Any]:
    return {
        "id": record["id"],
        "target": {"type": record["target_type"], "id": record["target_id"]},
        "reason": record["reason"],
        "note": record["note"],
        "status": record["status"],
        "created_at": record["created_at"],
        "resolved_at": record["resolved_at"],
    }
