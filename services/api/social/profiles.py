"""Users as others see them: a profile with its counts."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from services.api.visibility import follow_count_seen_by, user_visible_to, walk_visible_to


async def fetch_profile(
    conn: asyncpg.Connection, user_id: uuid.UUID, viewer_id: uuid.UUID
) -> dict[str, Any] | None:
    """The public profile of `user_id` as `viewer_id` sees it (None if they may not see the user):
    each count counts only what the viewer may see listed (the walks, the followers and
    followees), so a number never reveals a hidden walk or a person the list leaves out."""
    row = await conn.fetchrow(
        f"""SELECT u.id, u.nickname, u.profile_image_url, u.created_at,
                   {follow_count_seen_by("u.id", "followers", "$2")} AS follower_count,
                   {follow_count_seen_by("u.id", "following", "$2")} AS following_count,
                   (SELECT count(*) FROM walks w
                     WHERE w.user_id = u.id AND {walk_visible_to("w", "$2")}) AS walk_count,
                   EXISTS (SELECT 1 FROM follows
                            WHERE follower_id = $2 AND followee_id = u.id) AS is_following
            FROM users u
            WHERE u.id = $1 AND {user_visible_to("u.id", "$2")}""",
        user_id,
        viewer_id,
    )
    return dict(row) if row else None
