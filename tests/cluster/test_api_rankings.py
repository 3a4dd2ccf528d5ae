"""Weekly rankings again on a Redis Cluster: a week's keys share a hash tag, and a rebuild lands
with one script (no WATCH) even when several race."""

from tests.api.rankings.test_rankings import (  # noqa: F401 (the module's fixtures)
    api,
    app,
    client,
    clock,
    test_concurrent_rebuilds_count_each_walk_once,
    test_following_scope_ranks_the_caller_among_those_followed,
    test_ranking_is_rebuilt_from_the_database_when_redis_lost_it,
)

__all__ = [
    "test_concurrent_rebuilds_count_each_walk_once",
    "test_following_scope_ranks_the_caller_among_those_followed",
    "test_ranking_is_rebuilt_from_the_database_when_redis_lost_it",
]
