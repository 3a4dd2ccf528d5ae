"""The one place the filter is applied: the types of the fields whose text others read.

`PublicLine` (a nickname, a dog's name) and `PublicText` (a walk's memo, a comment, an
invitation's message) are `SingleLine` and `MultiLine` (control and invisible characters
refused, NFC) whose text must hold no objectionable word; a match is a validation error of
type `objectionable`, which the error middleware answers as 422 with `"reason":
"objectionable"` on the field.

The words are the built-in lists plus `MODERATION_WORDLIST_FILE`, read when the app is made
(`use_wordlist`): a pydantic type cannot see the request, so the matcher in use is the
process's, and each API process serves one configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from services.api.filtering.matcher import Matcher, built_in
from services.api.web.text_fields import MultiLine, SingleLine

OBJECTIONABLE = "objectionable"

_matcher: Matcher = built_in()


def use_wordlist(extra_words_file: str | Path | None) -> None:
    """Check against the built-in lists plus `extra_words_file` (one word a line) from now on;
    OSError if it cannot be read, so a wrong path stops the service at start."""
    global _matcher
    _matcher = Matcher.load(extra_words_file) if extra_words_file else built_in()


def _refuse_objectionable(value: str) -> str:
    if _matcher.objectionable(value):
        raise PydanticCustomError(
            OBJECTIONABLE,
            "must not contain objectionable words",
            {"reason": OBJECTIONABLE},
        )
    return value


PublicLine = Annotated[SingleLine, AfterValidator(_refuse_objectionable)]
PublicText = Annotated[MultiLine, AfterValidator(_refuse_objectionable)]
