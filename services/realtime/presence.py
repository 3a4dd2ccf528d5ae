"""Who is online in a walk, their last location, and which socket owns a user's seat.

Redis keys, all per walk and user (so they outlive any one gateway and any one socket), and
hash-tagged with the walk's channel `walk:{<id>}` (shared/walk_events.py) so that on a Redis
Cluster they share its slot, and each script below, which publishes, runs on the walk's shard:
- `walk:{<id>}:online:<user>`: the id of the socket that owns the seat, with a short TTL each
  gateway refreshes for its sockets; a crashed gateway's users go offline when it lapses.
- `walk:{<id>}:last:<user>` (`shared.walk_events.last_location_key`): the user's newest location
  frame, for the partner's `hello`.
- `walk:{<id>}:seq:<user>`: how many sockets the user has opened to the walk; each join takes the
  next number, so of simultaneous connects (on any instances) the last admitted is the highest.
- `walk:{<id>}:joins:<user>`: the user's joins of the last `join_window_s` (a sorted set by time),
  the per-person reconnect limit that every instance reads.

Joining and leaving are Lua scripts, so "count the join, take the seat, tell the partner or
evict the older sockets" and "give the seat back only if still ours, then tell the partner" are
each atomic, even with the same user connecting to two gateways at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.realtime.limits import GatewayLimits
from services.realtime.redis_batch import RedisBatch
from shared.cluster import SHARDED, PubSubCommands
from shared.walk_events import (
    join_sequence_key,
    last_location_key,
    presence_event,
    recent_joins_key,
    replaced_event_prefix,
    seat_key,
    walk_channel,
)

# The scripts are written with PUBLISH; on a cluster they go out with SPUBLISH instead.

# KEYS: own seat, partner's seat, partner's last location, own join sequence, own recent joins.
# ARGV: connection id, seat TTL, channel, "online" presence event, "replaced" event up to its
# sequence number, joins allowed per window, window (ms), sequence TTL.
# Returns {0} when the user joined too often (nothing else changes), else {sequence number,
# partner online, partner's last location}.
JOIN_SCRIPT = """
local seq = redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], ARGV[8])
local time = redis.call('TIME')
local now_ms = time[1] * 1000 + math.floor(time[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now_ms - tonumber(ARGV[7]))
redis.call('ZADD', KEYS[5], now_ms, seq)
redis.call('PEXPIRE', KEYS[5], ARGV[7])
local joins = redis.call('ZCARD', KEYS[5])
local allowed = tonumber(ARGV[6])
if joins > allowed then
  if joins > allowed + 1 then
    -- One over the limit decides; a flood of refused joins does not grow the set.
    redis.call('ZREMRANGEBYRANK', KEYS[5], 0, joins - allowed - 2)
  end
  return {0}
end
local previous = redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'GET')
if previous then
  redis.call('PUBLISH', ARGV[3], ARGV[5] .. seq .. '}')
else
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
return {seq, redis.call('EXISTS', KEYS[2]), redis.call('GET', KEYS[3])}
"""

# KEYS: seats to extend. ARGV: TTL. One command for many seats: cheap to send and to parse (on
# one Redis; on a cluster the seats of different walks are in different slots: one EXPIRE each).
REFRESH_SCRIPT = """
for _, key in ipairs(KEYS) do
  redis.call('EXPIRE', key, ARGV[1])
end
return #KEYS
"""
REFRESH_CHUNK = 500

# KEYS: own seat. ARGV: connection id, channel, "offline" presence event.
LEAVE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Joined:
    # The socket's place among the user's sockets to this walk: a higher one replaces it.
    seq: int
    partner_online: bool
    partner_last: bytes | None


class TooManyJoins(Exception):
    """The user joined this walk more than `joins_per_window` times in `join_window_s`."""


class Presence:
    def __init__(self, batch: RedisBatch, limits: GatewayLimits, pubsub: PubSubCommands) -> None:
        self._batch = batch
        self._limits = limits
        self._sharded = pubsub is SHARDED
        self._join_script = JOIN_SCRIPT.replace("'PUBLISH'", f"'{pubsub.publish}'")
        self._leave_script = LEAVE_SCRIPT.replace("'PUBLISH'", f"'{pubsub.publish}'")

    async def join(
        self, invitation_id: str, user_id: str, partner_id: str, connection_id: str
    ) -> Joined:
        """Take the user's seat (raises TooManyJoins instead when they keep reconnecting)."""
        limits = self._limits
        reply = await self._batch.call(
            "EVAL",
            self._join_script,
            5,
            seat_key(invitation_id, user_id),
            seat_key(invitation_id, partner_id),
            last_location_key(invitation_id, partner_id),
            join_sequence_key(invitation_id, user_id),
            recent_joins_key(invitation_id, user_id),
            connection_id,
            limits.presence_ttl_s,
            walk_channel(invitation_id),
            presence_event(user_id, online=True),
            replaced_event_prefix(user_id),
            limits.joins_per_window,
            int(limits.join_window_s * 1000),
            limits.last_location_ttl_s,
        )
        if reply[0] == 0:
            raise TooManyJoins
        seq, partner_online, partner_last = reply
        return Joined(seq, bool(partner_online), partner_last)

    def leave(self, invitation_id: str, user_id: str, connection_id: str) -> None:
        self._batch.fire(
            "EVAL",
            self._leave_script,
            1,
            seat_key(invitation_id, user_id),
            connection_id,
            walk_channel(invitation_id),
            presence_event(user_id, online=False),
        )

    def refresh(self, seats: list[tuple[str, str]]) -> None:
        """Extend the seats of this process's sockets ((invitation_id, user_id) pairs)."""
        keys = [seat_key(invitation_id, user_id) for invitation_id, user_id in seats]
        if self._sharded:
            for key in keys:
                self._batch.fire("EXPIRE", key, self._limits.presence_ttl_s)
            return
        for start in range(0, len(keys), REFRESH_CHUNK):
            chunk = keys[start : start + REFRESH_CHUNK]
            self._batch.fire(
                "EVAL", REFRESH_SCRIPT, len(chunk), *chunk, self._limits.presence_ttl_s
            )
