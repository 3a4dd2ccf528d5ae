"""Per-user limits on the writes that notify someone (CONTRACT section 3, Rate limits and
Notifications), so that no script can flood another person's phone.

Follows, invitations, likes and comments each count per user in `WRITE_LIMIT_WINDOW_S`, with
defaults far above what anyone does by hand; invitations also count per (inviter, invitee) pair,
at most `INVITATION_LIMIT_PER_PAIR` (5) an hour, so invite→cancel cycling reaches one person at
most that often. Every attempt counts (web/rate_limit.py `enforce`): each may notify.
"""

from __future__ import annotations

import uuid
from typing import Literal

from aiohttp import web

from services.api.web.rate_limit import Check, Limit, enforce
from shared.keys import settings_key

Write = Literal["follow", "invitation", "like", "comment"]


async def count_write(
    request: web.Request, write: Write, user_id: uuid.UUID, recipient_id: uuid.UUID | None = None
) -> None:
    """Count one `write` by `user_id` (to `recipient_id`, for an invitation); 429 `rate_limited`
    with `Retry-After` once a budget is spent."""
    settings = request.app[settings_key]
    per_user = {
        "follow": settings.follow_limit_per_user,
        "invitation": settings.invitation_limit_per_user,
        "like": settings.like_limit_per_user,
        "comment": settings.comment_limit_per_user,
    }[write]
    window_s = settings.write_limit_window_s
    checks: list[Check] = [(Limit(f"{write}-user", per_user, window_s), str(user_id))]
    if write == "invitation" and recipient_id is not None:
        pair = Limit("invitation-pair", settings.invitation_limit_per_pair, 3600)
        checks.append((pair, f"{user_id}|{recipient_id}"))
    await enforce(request, *checks)
