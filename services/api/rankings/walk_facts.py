"""The facts about one walk that the rules below it (badges, weekly rankings) judge.

It lives here, beneath both rule modules and `walks.effects`, so that the walks domain calls into
rankings and nothing in rankings imports the walks domain back.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WalkFacts:
    id: uuid.UUID
    user_id: uuid.UUID
    started_at: dt.datetime
    ended_at: dt.datetime
    distance_m: float
    invitation_id: uuid.UUID | None
    created_at: dt.datetime
    visibility: str
