"""Push worker contract tests, again on a Redis Cluster (the stream and its retry set on one
slot): delivery, the sweeper, two workers, and a worker killed mid-send (reclaim)."""

from tests.push.test_recovery import test_a_job_survives_a_worker_killed_mid_send
from tests.push.test_worker import (
    test_following_through_the_api_pushes_the_followee,
    test_sweeper_sends_a_job_whose_emission_to_redis_was_lost,
    test_throttled_send_is_retried_no_sooner_than_retry_after,
    test_two_workers_never_push_a_device_twice_even_for_duplicate_jobs,
)

__all__ = [
    "test_a_job_survives_a_worker_killed_mid_send",
    "test_following_through_the_api_pushes_the_followee",
    "test_sweeper_sends_a_job_whose_emission_to_redis_was_lost",
    "test_throttled_send_is_retried_no_sooner_than_retry_after",
    "test_two_workers_never_push_a_device_twice_even_for_duplicate_jobs",
]
