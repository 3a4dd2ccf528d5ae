"""Who may see what: a walk (its owner; anyone if public; followers of the owner if
"followers"), and whom a user may find in search.

One SQL condition each, used by every query that returns or names such a thing, so the rule
cannot drift between routes (a walk the caller may not see is 404 everywhere).
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


def user_findable_by(user_alias: str, viewer_param: str) -> str:
    """SQL condition: the user `user_alias` may be listed to the viewer at `viewer_param` when
    looking for people (search): anyone but the viewer. A deleted account has no row left."""
    return f"({user_alias}.id <> {viewer_param})"
