"""Walk-together contract tests, again on a Redis Cluster (sharded pub/sub, one link a shard)."""

from tests.realtime.test_handshake import test_hello_names_both_walkers_and_the_interval
from tests.realtime.test_process import test_locations_and_presence_cross_between_processes
from tests.realtime.test_relay import (
    test_locations_relay_both_ways_across_instances,
    test_partner_last_survives_the_partners_reconnect,
    test_presence_across_instances,
    test_walks_do_not_leak_into_each_other,
)
from tests.realtime.test_replace_and_end import (
    test_second_socket_on_another_instance_closes_the_first_4009,
    test_walk_end_from_the_api_reaches_both_instances,
)

__all__ = [
    "test_hello_names_both_walkers_and_the_interval",
    "test_locations_and_presence_cross_between_processes",
    "test_locations_relay_both_ways_across_instances",
    "test_partner_last_survives_the_partners_reconnect",
    "test_presence_across_instances",
    "test_second_socket_on_another_instance_closes_the_first_4009",
    "test_walk_end_from_the_api_reaches_both_instances",
    "test_walks_do_not_leak_into_each_other",
]
