"""Constraints for the free text users type into single-line fields (names, nicknames).

Control characters are refused: PostgreSQL cannot store NUL at all (it would be a 500), and a
line break or escape in a nickname breaks every screen that shows it. Other Unicode, emoji
sequences with joiners included, is welcome.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator


def _single_line(value: str) -> str:
    if any(unicodedata.category(c) == "Cc" for c in value):
        raise ValueError("must not contain control characters")
    return value


SingleLine = Annotated[str, AfterValidator(_single_line)]


def _multi_line(value: str) -> str:
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in value):
        raise ValueError("must not contain control characters other than line breaks and tabs")
    return value


# Free text that may span lines (a walk's memo, a comment): the same rule, line breaks allowed.
MultiLine = Annotated[str, AfterValidator(_multi_line)]
