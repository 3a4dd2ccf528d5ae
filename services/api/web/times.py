"""The times the API takes, in bodies and in queries alike: ISO-8601 with a UTC offset, between
1970 and 9000 (UTC).

One rule at the edge, because a time out of that range fails far from where it came in: an
offset that moves `0001-01-01T00:00:00+14:00` before year 1 overflows `astimezone`, a year-9999
walk overflows the date arithmetic of badges and rankings, and either reached the database
driver as a 500. Nothing the server stores or returns is older than 1970 (its own clock made
every `created_at`), and nothing real is dated after 9000.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)
OUT_OF_RANGE = "must be a time from 1970 to 9000 (UTC)"


def in_range(value: dt.datetime) -> dt.datetime:
    """`value` in UTC; ValueError when it has no offset or is out of range."""
    if value.utcoffset() is None:
        raise ValueError("must have a UTC offset")
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError:
        raise ValueError(OUT_OF_RANGE) from None
    if not EARLIEST <= utc <= LATEST:
        raise ValueError(OUT_OF_RANGE)
    return utc


def parse_time(text: str) -> dt.datetime:
    """An ISO-8601 time with an offset, in range, as UTC; else ValueError."""
    return in_range(dt.datetime.fromisoformat(text))


def epoch_in_range(value: float) -> float:
    """Epoch seconds within the same range (a phone's GPS timestamp); else ValueError."""
    if not EARLIEST.timestamp() <= value <= LATEST.timestamp():
        raise ValueError(OUT_OF_RANGE)
    return value


# A time in a JSON body: an ISO string only (strict: never a bare number read as epoch
# seconds), with an offset, in range, converted to UTC like every time the server returns.
Time = Annotated[AwareDatetime, Field(strict=True), AfterValidator(in_range)]
# Epoch seconds in a JSON body (a number, never a string or a boolean), in range.
EpochSeconds = Annotated[
    float, Field(strict=True, allow_inf_nan=False), AfterValidator(epoch_in_range)
]
