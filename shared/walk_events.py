"""Walk-together events on Redis pub/sub: one channel per walk, `walk:{<invitation id>}`.

The braces are a hash tag: on a Redis Cluster the channel and the walk's seats and last
locations (services/realtime/presence.py) hash to one slot, so the gateway's scripts that touch
them and publish stay on one shard, and the channel goes over sharded pub/sub (SPUBLISH).

The API publishes `walk_ended` when an invitation leaves `accepted`; every gateway instance with
a member of that walk is subscribed to its channel and closes both sockets with 4004. The gateway
also relays locations, presence and its "replaced" notices on the same channel.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from shared.jsonutil import dumps_bytes
from shared.redis_client import RedisClient, is_cluster

WALK_ENDED = "walk_ended"


def walk_channel(invitation_id: uuid.UUID | str) -> str:
    return f"walk:{{{invitation_id}}}"


def last_location_key(invitation_id: uuid.UUID | str, user_id: uuid.UUID | str) -> str:
    """The user's newest location frame in a walk, kept by the gateways for the partner's
    `hello`; the API erases it with the user's account. It shares the walk's hash tag."""
    return f"{walk_channel(invitation_id)}:last:{user_id}"


def seat_key(invitation_id: uuid.UUID | str, user_id: uuid.UUID | str) -> str:
    """Which of the user's sockets holds their seat in the walk (services/realtime/presence.py)."""
    return f"{walk_channel(invitation_id)}:online:{user_id}"


def join_sequence_key(invitation_id: uuid.UUID | str, user_id: uuid.UUID | str) -> str:
    """How many sockets the user opened to the walk (presence.py)."""
    return f"{walk_channel(invitation_id)}:seq:{user_id}"


def recent_joins_key(invitation_id: uuid.UUID | str, user_id: uuid.UUID | str) -> str:
    """The user's recent joins of the walk, for the reconnect limit (presence.py)."""
    return f"{walk_channel(invitation_id)}:joins:{user_id}"


def walker_keys(invitation_id: uuid.UUID | str, user_id: uuid.UUID | str) -> list[str]:
    """Every key the gateways keep for one walker of one walk, all in the walk's hash slot: what
    goes when the walk ends (the raw coordinates of `last_location_key` are kept only while
    the walk lasts) or the walker's account does."""
    return [
        last_location_key(invitation_id, user_id),
        join_sequence_key(invitation_id, user_id),
        recent_joins_key(invitation_id, user_id),
        seat_key(invitation_id, user_id),
    ]


async def forget_walkers(
    redis: RedisClient, invitation_id: uuid.UUID, user_ids: Collection[uuid.UUID | None]
) -> None:
    """Delete the walk's keys of these walkers (None: an erased account, already gone)."""
    keys = [
        key
        for user_id in user_ids
        if user_id is not None
        for key in walker_keys(invitation_id, user_id)
    ]
    if keys:
        await redis.delete(*keys)


def walk_id_of(channel: bytes) -> str:
    """The invitation id in a walk channel's name."""
    return channel[len(b"walk:{") : -1].decode()


async def publish_walk_ended(
    redis: RedisClient,
    invitation_id: uuid.UUID,
    status: str,
    signed_out: uuid.UUID | None = None,
) -> None:
    """Tell every gateway that this walk is over (`finished`, `cancelled` or `expired`).

    `signed_out`: the walker whose sessions ended with it (a suspension, an account deletion).
    The gateways close that walker's socket with 4001 and the partner's with `walk_ended` and
    4004, whichever of this and the session-end announcement reaches them first."""
    message: dict[str, str] = {
        "type": WALK_ENDED,
        "invitation_id": str(invitation_id),
        "status": status,
    }
    if signed_out is not None:
        message["signed_out_user_id"] = str(signed_out)
    publish = redis.spublish if is_cluster(redis) else redis.publish
    await publish(walk_channel(invitation_id), dumps_bytes(message))


# What the gateways say to each other on the same channel. `location` and `presence` are sent to
# the partner's socket byte for byte; `replaced` tells the gateways holding a user's older sockets
# (those with a lower `seq`) to close them with 4009.
LOCATION = "location"
PRESENCE = "presence"
REPLACED = "replaced"
# The API's word that a walker withdrew location consent: the gateways close that walker's
# socket with 4005. Sent on the walk's channel before the walk is cancelled, so it comes before
# the `walk_ended` that would otherwise close it with 4004.
LOCATION_STOPPED = "location_stopped"


async def publish_location_stopped(
    redis: RedisClient, invitation_id: uuid.UUID, user_id: uuid.UUID
) -> None:
    message = {"type": LOCATION_STOPPED, "user_id": str(user_id)}
    publish = redis.spublish if is_cluster(redis) else redis.publish
    await publish(walk_channel(invitation_id), dumps_bytes(message))


def presence_event(user_id: str, *, online: bool) -> bytes:
    return dumps_bytes({"type": PRESENCE, "user_id": user_id, "online": online})


def replaced_event_prefix(user_id: str) -> bytes:
    """A `replaced` event up to its `seq`, the joining socket's sequence number, which only the
    gateway's join script knows: it appends the number and the closing brace."""
    return dumps_bytes({"type": REPLACED, "user_id": user_id, "seq": 0})[: -len(b"0}")]
