"""Who may see a walk: its owner; anyone if public; followers of the owner if "followers".

One SQL condition, used by every query that returns or names a walk, so the rule cannot drift
between routes (a walk the caller may not see is 404 everywhere).
"""

from __future__ import annotations


def walk_visible_to(walk_alias: str, viewer_param: str) -> str:
    """SQL condition: the walk `walk_alias` is visible to the user id bound at `viewer_param`."""
    w, v = walk_alias, viewer_param
    return (
        f"({w}.user_id = {v} OR {w}.visibility = 'public' OR ({w}.visibility = 'followers' "
        f"AND EXISTS (SELECT 1 FROM follows vf WHERE vf.follower_id = {v} "
        f"AND vf.followee_id = {w}.user_id)))"
    )
