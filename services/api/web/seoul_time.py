"""Calendar rules in Korea's time: a walk belongs to the Seoul day and the Seoul week
(Monday 00:00 Asia/Seoul) of its start, whatever the server's or the phone's time zone.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")


def seoul_day(moment: dt.datetime) -> dt.date:
    """The calendar day in Seoul at `moment` (an aware datetime)."""
    return moment.astimezone(SEOUL).date()


def day_start(day: dt.date) -> dt.datetime:
    """Midnight in Seoul at the start of `day`."""
    return dt.datetime.combine(day, dt.time(), tzinfo=SEOUL)


def week_start(moment: dt.datetime) -> dt.datetime:
    """Monday 00:00 Asia/Seoul of the week containing `moment`."""
    day = seoul_day(moment)
    return day_start(day - dt.timedelta(days=day.weekday()))


def week_end(start: dt.datetime) -> dt.datetime:
    """The exclusive end of the week starting at `start`."""
    return day_start(start.date() + dt.timedelta(days=7))
