"""Dead peers: one sweep over the process's sockets instead of aiohttp's timers on each.

aiohttp's `heartbeat=` gives every socket a timer, re-armed on every frame it reads, a second
one while a ping waits for its pong, and a reference cycle through the connection's protocol:
memory and loop work per socket for what one task does for all of them. The socket's reader
(walk_together.py) zeroes its `quiet` count on every frame from the client, pongs included;
this task visits every socket once every `heartbeat_s / VISITS_PER_HEARTBEAT`, a slice of the
walks at a time, and counts the visits since. As with aiohttp, a socket silent for more than
`heartbeat_s` gets a ping, and one that has not answered within half of `heartbeat_s` is cut off.
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from aiohttp import WSMsgType

from services.realtime.broker import Broker
from services.realtime.connection import Connection

log = logging.getLogger(__name__)

VISITS_PER_HEARTBEAT = 6
SLICES = 10
# A socket's visit number (since the client's last frame) at which it is pinged: silent for
# more than `heartbeat_s`; and at which it is cut off: no answer for half of `heartbeat_s` since.
PING_AT = VISITS_PER_HEARTBEAT + 1
CUT_OFF_AT = PING_AT + VISITS_PER_HEARTBEAT // 2


async def run_heartbeat(broker: Broker[Connection], heartbeat_s: float) -> None:
    tick_s = heartbeat_s / VISITS_PER_HEARTBEAT / SLICES
    for turn in itertools.count():
        await asyncio.sleep(tick_s)
        for connection in broker.members_in_slice(turn % SLICES, SLICES):
            visit(connection)


def visit(connection: Connection) -> None:
    if connection.closing:  # the close reaper's (rooms.py) from now on
        return
    quiet = connection.quiet + 1
    connection.quiet = quiet
    if quiet == PING_AT:
        connection.write_frame(b"", WSMsgType.PING)
    elif quiet >= CUT_OFF_AT:
        # Nothing to flush to a dead peer; its reader sees the socket closed and leaves.
        log.debug("walk socket did not answer a ping; cutting it off")
        connection.transport.abort()
