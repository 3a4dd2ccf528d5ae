"""Constraints for the free text users type: single-line fields (names, nicknames) and
multi-line ones (a memo, a comment, an invitation's message).

Text is stored in NFC: `초코` typed on a keyboard that sends decomposed jamo (NFD) is the same
nickname, and found by the same search, as `초코` typed anywhere else. Lengths count the NFC
text. Control characters are refused: PostgreSQL cannot store NUL at all (it would be a 500), and a
line break or escape in a nickname breaks every screen that shows it. So are the invisible
characters that let one name pass for another in a list: bidirectional controls (U+202E turns
"초코moc.evil" around) and zero-width ones. The zero-width joiner is taken only between two
symbols, where it builds an emoji sequence (👩‍👩‍👧); other Unicode is welcome. Multi-line text
follows the same rule, except that it may hold line breaks and tabs.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

# Bidirectional controls: embeddings and overrides (U+202A-202E), isolates (U+2066-2069),
# marks (U+061C, U+200E, U+200F).
_BIDI_CONTROLS = frozenset(
    [
        *map(chr, range(0x202A, 0x202F)),
        *map(chr, range(0x2066, 0x206A)),
        "\u061c",
        "\u200e",
        "\u200f",
    ]
)
# Zero-width space, non-joiner, word joiner, byte-order mark; the joiner is checked on its own.
_ZERO_WIDTH = frozenset("\u200b\u200c\u2060\ufeff")
_JOINER = "\u200d"
_VARIATION_SELECTOR = "\ufe0f"


def _joins_symbols(value: str, at: int) -> bool:
    """Whether the joiner at `at` stands between two symbols (an emoji sequence)."""
    before = value[:at].rstrip(_VARIATION_SELECTOR)
    after = value[at + 1 :]
    return (
        bool(before)
        and bool(after)
        and unicodedata.category(before[-1]) == "So"
        and unicodedata.category(after[0]) == "So"
    )


def _nfc(value: object) -> object:
    """Text in NFC, before its length is checked (anything else is left to the type check)."""
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def _refuse_invisible(value: str) -> str:
    if any(c in _BIDI_CONTROLS or c in _ZERO_WIDTH for c in value):
        raise ValueError("must not contain invisible formatting characters")
    if any(c == _JOINER and not _joins_symbols(value, i) for i, c in enumerate(value)):
        raise ValueError("must not contain a zero-width joiner outside an emoji sequence")
    return value


def _single_line(value: str) -> str:
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("must not contain control characters")
    return _refuse_invisible(value)


SingleLine = Annotated[str, BeforeValidator(_nfc), AfterValidator(_single_line)]


def _multi_line(value: str) -> str:
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in value):
        raise ValueError("must not contain control characters other than line breaks and tabs")
    return _refuse_invisible(value)


# Free text that may span lines (a walk's memo, a comment): the same rule, line breaks allowed.
MultiLine = Annotated[str, BeforeValidator(_nfc), AfterValidator(_multi_line)]
