"""API tests whose Redis work spans several keys, again on a Redis Cluster: rate-limit counters
(one script each, in one pipeline) and feed heads (raised one slot at a time)."""

from tests.api.accounts.test_rate_limit import (
    test_guesses_are_refused_with_retry_after,
    test_successful_logins_do_not_count_and_forget_the_mistakes_before,
)
from tests.api.walks.test_feed_heads import (
    test_a_followees_walk_reaches_the_next_poll,
    test_a_quiet_poll_is_answered_without_the_database,
)

__all__ = [
    "test_a_followees_walk_reaches_the_next_poll",
    "test_a_quiet_poll_is_answered_without_the_database",
    "test_guesses_are_refused_with_retry_after",
    "test_successful_logins_do_not_count_and_forget_the_mistakes_before",
]
