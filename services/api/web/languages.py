"""The language a person reads: Korean, or English when their browser or app prefers it
(`Accept-Language`, RFC 9110 §12.5.4). Used by the account pages and, at sign-up, to choose the
language of the account's emails."""

from __future__ import annotations

from typing import Literal

Language = Literal["ko", "en"]
DEFAULT: Language = "ko"


def preferred_language(header: str | None) -> Language:
    """The supported language the header ranks highest (its earliest on a tie); Korean when
    it names neither or is missing or malformed."""
    best: tuple[float, int, Language] | None = None
    for position, part in enumerate((header or "").split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("ko", "en"):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        language: Language = "en" if primary == "en" else "ko"
        if best is None or (quality, -position) > (best[0], -best[1]):
            best = (quality, position, language)
    return best[2] if best else DEFAULT
