"""The reasons a report may give (CONTRACT section 3, Reports): the request schema's values and
the labels of the open-reports gauge, in one place."""

from __future__ import annotations

from typing import Literal, get_args

Reason = Literal[
    "spam",
    "harassment",
    "hate",
    "sexual",
    "violence",
    "self_harm",
    "privacy",
    "impersonation",
    "other",
]
REASONS: tuple[str, ...] = get_args(Reason)
