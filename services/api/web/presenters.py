"""Records → the contract's JSON objects, for the pieces several resources embed."""

from __future__ import annotations

from typing import Any

# Select these (with a table alias and a column prefix) to embed a user: see `user_summary`.
USER_SUMMARY_COLUMNS = ("id", "nickname", "profile_image_url")


def user_columns(alias: str, prefix: str) -> str:
    """The select list for an embedded user: `u.id AS owner_id, u.nickname AS owner_nickname`."""
    return ", ".join(f"{alias}.{c} AS {prefix}_{c}" for c in USER_SUMMARY_COLUMNS)


def user_summary(record: Any, prefix: str) -> dict[str, Any] | None:
    """The embedded user `{id, nickname, profile_image_url}` selected by `user_columns`."""
    user_id = record[f"{prefix}_id"]
    if user_id is None:
        return None
    return {c: record[f"{prefix}_{c}"] for c in USER_SUMMARY_COLUMNS}
