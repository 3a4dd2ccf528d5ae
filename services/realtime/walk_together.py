"""`GET /ws/walk-together/{invitation_id}`: one walker's socket (CONTRACT section 4).

The upgrade is accepted first, so a refusal reaches the app as a close code (4001, 4002, 4003)
rather than a bare HTTP 403. This handler task is the socket's only reader; frames from the
partner are written by the pub/sub listener (see connection.py).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import uuid
from typing import NamedTuple
from urllib.parse import parse_qsl

import asyncpg
from aiohttp import WSMessage, WSMsgType, hdrs, web
from redis.exceptions import RedisError

from services.realtime.connection import Connection, Refusal
from services.realtime.direct_ws import WAKE_UP, DirectWebSocketResponse
from services.realtime.keys import (
    admission_key,
    frame_handler_key,
    invitation_loader_key,
    ledger_key,
    limits_key,
    presence_key,
    redis_batch_key,
    rooms_key,
    teardown_key,
)
from services.realtime.limits import GatewayLimits
from services.realtime.metrics import counters
from services.realtime.origin import origin_allowed
from services.realtime.presence import TooManyJoins
from services.realtime.protocol import (
    InvalidMessage,
    error_frame,
    hello_frame,
    location_frame,
    parse_location,
)
from services.realtime.redis_batch import RedisBatch
from services.realtime.rooms import Rooms
from services.realtime.upgrade_url import keep_only_user_agent, take_query
from shared.ended_sessions import ended_sessions_key
from shared.errors import error_response, forbidden, http_error_response
from shared.keys import settings_key
from shared.location_pauses import location_pauses_key
from shared.long_lived import long_lived
from shared.realtime_tickets import holder_of, ticket_key
from shared.request_id import observe_itself
from shared.tokens import InvalidToken, bearer_token, verify_token

log = logging.getLogger(__name__)

# Far beyond any socket's lifetime output, so aiohttp's writer never awaits a drain on its own;
# connection.py does the flow control (slow readers get the newest location, not a backlog).
WRITER_LIMIT = 2**62


UNAUTHENTICATED = Refusal(4001, b"missing, invalid or expired token")
NOT_ACCEPTED = Refusal(4002, b"invitation missing or not accepted")
NOT_PARTICIPANT = Refusal(4003, b"not a participant of this walk")
PAUSED = Refusal(4005, b"location sharing paused")
UNAVAILABLE = Refusal(1011, b"temporarily unavailable")
TOO_FAST = Refusal(4008, b"too many messages")
TOO_MANY_INVALID = Refusal(4008, b"too many invalid messages")
TOO_MANY_JOINS = Refusal(4008, b"reconnecting too often")
REPLACED = Refusal(4009, b"replaced by a newer connection")

# What `ws.receive()` returns once the socket is closing or broken: the end of the read loop.
SOCKET_DONE = frozenset({WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR})
CONTROL = frozenset({WSMsgType.PING, WSMsgType.PONG})


@long_lived
async def walk_together(request: web.Request) -> web.StreamResponse:
    """The socket's handler, and its only reader for as long as it is open.

    The read loop is in this coroutine and each message is handled synchronously: a coroutine
    awaited while the socket is open keeps its frame (~250 bytes) for the socket's whole life.
    For the same reason no middleware wraps this handler (shared/long_lived.py): it answers a
    request that is no upgrade, logs its own failures and counts itself in the metrics.
    """
    started = time.perf_counter()
    app = request.app
    if not origin_allowed(
        request.headers.get(hdrs.ORIGIN),
        request.headers.get(hdrs.HOST),
        app[settings_key].cors_origins,
    ):
        # Another site's page, refused before the upgrade (origin.py).
        answer = error_response(forbidden("this origin may not open the walk-together socket"))
        observe_itself(request, answer.status, time.perf_counter() - started)
        return answer
    limits = app[limits_key]
    ws = DirectWebSocketResponse(
        compress=False,
        # Pings are answered by the read loop, and sent by one sweep for the whole process
        # (heartbeat.py): aiohttp's own heartbeat costs a timer or two on every socket.
        autoping=False,
        # The client's close frame is answered below, when the socket's turn comes to end.
        autoclose=False,
        # aiohttp refuses a frame of exactly max_msg_size; the contract allows up to 4 KiB.
        max_msg_size=limits.max_message_bytes + 1,
        timeout=limits.close_timeout_s,
        writer_limit=WRITER_LIMIT,
    )
    # However many handshakes come at once, a bounded number a loop iteration (turns.py).
    await app[admission_key].turn()
    try:
        await ws.prepare(request)
    except web.HTTPException as exc:  # not a WebSocket upgrade
        answer = http_error_response(exc)
        observe_itself(request, answer.status, time.perf_counter() - started)
        return answer
    _drop_http_parser(request)
    connection: Connection | None = None
    try:
        admitted = await _admit(request, ws)
        keep_only_user_agent(request)  # the headers, read by the checks, for the access log
        refusal = None if isinstance(admitted, Connection) else admitted
        if refusal is not None:
            counters.handshake(str(refusal.code))
        elif admitted is not None:
            counters.handshake("accepted")
            counters.handshake_took(time.perf_counter() - started)
        if isinstance(admitted, Connection):
            connection = admitted
            on_frame = app[frame_handler_key]
            # From now on the socket's text frames are handled as they are read (direct_ws.py);
            # this loop sees what came before, the other frames and the end of the socket.
            ws.on_text(on_frame, connection)
            while connection.refusal is None:
                message = await ws.receive()
                connection.quiet = 0
                if message.type in SOCKET_DONE:
                    connection.closing = True  # no frame but the close reply from now on
                    break
                if message.type in CONTROL:
                    _answer_control(connection, message)
                    continue
                if message is not WAKE_UP:
                    text = message.data if message.type is WSMsgType.TEXT else None
                    on_frame(connection, text)
            refusal = connection.refusal
        # However many sockets end at once, a bounded number a loop iteration (turns.py).
        await app[teardown_key].turn()
        # One Close frame per socket, whoever started (CONTRACT section 4).
        if ws.closed:
            # Ours went out already (rooms.py): read the client's reply. A joined socket's
            # wait is bounded by the close reaper; one refused while joining, by a timer.
            timeout_s = None if connection is not None else limits.close_timeout_s
            await ws.closing_handshake(timeout_s)
        elif refusal is not None:
            await ws.close(code=refusal.code, message=refusal.reason)
        else:  # the reply to the client's close frame; nothing if the socket is gone already
            await ws.close(drain=False)
    except OSError as exc:
        log.warning("walk socket failed: %s", type(exc).__name__)
        await ws.close(code=UNAVAILABLE.code, message=UNAVAILABLE.reason)
    except Exception:
        log.exception("walk socket failed")
        await ws.close(code=UNAVAILABLE.code, message=UNAVAILABLE.reason)
    finally:
        if connection is not None:
            _leave(app, connection)
        _break_reference_cycles(ws)
        observe_itself(request, ws.status, time.perf_counter() - started)
    return ws


async def _admit(request: web.Request, ws: DirectWebSocketResponse) -> Connection | Refusal | None:
    """The contract's checks in order (4001, 4002, 4003, 4005), then the seat and the hello.

    Returns the joined connection, or why the socket is to be closed (None: nothing to close).
    What only the checks need (the invitation row, ids as UUIDs) dies with this frame instead
    of living as long as the socket.
    """
    limits = request.app[limits_key]
    transport = request.transport
    if transport is None:
        return None
    _cap_kernel_send_buffer(transport, limits)

    invitation_id = _parse_uuid(request.match_info["invitation_id"])
    try:
        claims = await _authenticated(request, invitation_id)
    except (RedisError, OSError) as exc:
        log.warning("ticket lookup failed: %s", type(exc).__name__)
        return UNAVAILABLE
    if claims is None:
        return UNAUTHENTICATED
    user_id = claims.user_id
    try:
        invitation = (
            await request.app[invitation_loader_key].get(invitation_id) if invitation_id else None
        )
    except (asyncpg.PostgresError, OSError, TimeoutError) as exc:
        log.warning("invitation lookup failed: %s", type(exc).__name__)
        return UNAVAILABLE
    if invitation is None or invitation.status != "accepted":
        return NOT_ACCEPTED
    if not invitation.is_participant(user_id):
        return NOT_PARTICIPANT
    if str(user_id) in request.app[location_pauses_key]:
        return PAUSED

    connection = Connection(
        ws,
        transport,
        invitation_id=str(invitation.id),
        user_id=str(user_id),
        session_id=claims.session_id,
        connection_id=uuid.uuid4().hex,
        partner_id=str(invitation.partner_of(user_id)),
        limits=limits,
        ledger=request.app[ledger_key],
    )
    return await _join(request.app, connection)


async def _join(app: web.Application, connection: Connection) -> Connection | Refusal:
    """Take the walk's channel and the user's seat, then say hello; or why not."""
    joined = False
    try:
        await app[rooms_key].broker.join(connection.channel, connection)
        seat = await app[presence_key].join(
            connection.invitation_id,
            connection.user_id,
            connection.partner_id,
            connection.connection_id,
        )
        joined = True
    except TooManyJoins:
        return TOO_MANY_JOINS
    except (RedisError, OSError) as exc:
        log.warning("walk socket failed on Redis: %s", type(exc).__name__)
        return UNAVAILABLE
    finally:
        if not joined:
            _leave_room(app[rooms_key], connection)
    connection.seq = seat.seq
    if connection.replaced_by > seat.seq:
        # A newer socket of the same user joined while this one waited for its number.
        _leave(app, connection)
        return REPLACED
    if connection.session_id in app[ended_sessions_key]:
        # The session ended during the checks, before the socket was there to be closed.
        _leave(app, connection)
        return UNAUTHENTICATED
    pauses = app[location_pauses_key]
    if connection.user_id in pauses:
        # The pause was announced during the checks, before the socket was there to be closed.
        _leave(app, connection)
        return PAUSED
    # A paused partner's last location is not handed out either.
    partner_last = None if connection.partner_id in pauses else seat.partner_last
    connection.send(
        hello_frame(
            invitation_id=connection.invitation_id,
            user_id=connection.user_id,
            partner_id=connection.partner_id,
            partner_online=seat.partner_online,
            partner_last=partner_last,
            interval_s=app[limits_key].interval_s,
        )
    )
    connection.greeted = True  # partner frames held meanwhile go out through SlowClients
    return connection


def _leave(app: web.Application, connection: Connection) -> None:
    """Give the socket's channel and seat back."""
    _leave_room(app[rooms_key], connection)
    app[presence_key].leave(connection.invitation_id, connection.user_id, connection.connection_id)


def _leave_room(rooms: Rooms, connection: Connection) -> None:
    rooms.broker.leave(connection.channel, connection)
    rooms.forget(connection)


def on_frame(batch: RedisBatch, connection: Connection, text: str | None) -> None:
    """A client's frame (None: not a text frame): publish its location or answer its mistake.
    A reason to close the socket is left in `connection.refusal` for its handler to act on.
    Bound to the process's batch once (`frame_handler_key`), so no socket holds a closure."""
    connection.quiet = 0
    if connection.refusal is not None or connection.closing:
        return
    if not connection.take_token():
        _refuse(connection, TOO_FAST)
        return
    if text is not None and batch.outbox.hold_s:
        # Shedding: parsed only if still the newest when its batch goes (outbox.py).
        counters.received += 1
        batch.publish_location(connection, text)
        return
    frame = location_or_answer(connection, text)
    if frame is not None:
        counters.received += 1
        batch.publish_location(connection, frame)


def location_or_answer(connection: Connection, text: str | None) -> bytes | None:
    """The partner's frame for a client's location, or None once its mistake is answered
    (`invalid_message`, or 4008 after `invalid_in_a_row` of them)."""
    try:
        if text is None:
            raise InvalidMessage("send locations as JSON text frames")
        location = parse_location(text)
    except InvalidMessage as exc:
        if connection.count_invalid():
            connection.send(error_frame(exc.detail))
        else:
            _refuse(connection, TOO_MANY_INVALID)
        return None
    connection.invalid_in_a_row = 0
    return location_frame(connection.user_id, location)


def _refuse(connection: Connection, refusal: Refusal) -> None:
    if connection.refusal is None:
        connection.refusal = refusal
        connection.ws.wake_up()


def _answer_control(connection: Connection, message: WSMessage) -> None:
    """A ping gets its pong, as aiohttp's autoping would; a pong only proves the peer alive."""
    if message.type is WSMsgType.PING and not connection.closing:
        connection.write_frame(message.data, WSMsgType.PONG)


def _drop_http_parser(request: web.Request) -> None:
    """aiohttp keeps the connection's HTTP parser as long as the connection, with its buffers
    and what it parsed last (~1.9 KB, tests/realtime/test_memory.py); past the upgrade only the
    WebSocket reader reads from the connection, and nothing else uses the parser."""
    request.protocol._parser = None


def _break_reference_cycles(ws: DirectWebSocketResponse) -> None:
    """Let refcounting free the closed socket at once, not a full GC pass that never comes.

    aiohttp leaves a cycle of ~30 objects (tests/realtime/test_memory.py finds it): an error
    the response keeps (e.g. a frame over 4 KiB) holds, through its traceback, the frame of
    the response's own `close()`. (Its heartbeat left another; the gateway does not use it.)
    """
    ws.on_text(None)  # it holds the connection, which holds the response
    error = ws.exception()
    if error is not None:
        error.__traceback__ = None


class Caller(NamedTuple):
    user_id: uuid.UUID
    session_id: uuid.UUID  # of the token, or of the token the ticket was issued to


async def _authenticated(request: web.Request, invitation_id: uuid.UUID | None) -> Caller | None:
    """Who opened the socket, from `?ticket=` (taken: it works once, for its walk), `?token=`
    or a bearer header; None when invalid or when that session has ended. Raises a Redis error
    when a ticket cannot be looked up."""
    token, ticket = _query_credentials(request)
    app = request.app
    if ticket is not None:
        holder = holder_of(await app[redis_batch_key].call("GETDEL", ticket_key(ticket)))
        if holder is None or holder.invitation_id != invitation_id:
            return None
        caller = Caller(holder.user_id, holder.session_id)
    else:
        token = token or bearer_token(request.headers.get(hdrs.AUTHORIZATION))
        if not token:
            return None
        try:
            claims = verify_token(app[settings_key].jwt_key, token, "access")
        except InvalidToken:
            return None
        caller = Caller(claims.user_id, claims.session_id)
    return None if caller.session_id in app[ended_sessions_key] else caller


def _query_credentials(request: web.Request) -> tuple[str | None, str | None]:
    """`?token=` and `?ticket=`, parsed here and dropped with the query (upgrade_url.py):
    `request.query` would keep the parsed query cached on the request, which lives as long as
    the socket."""
    token = ticket = None
    for name, value in parse_qsl(take_query(request)):
        if name == "token":
            token = value
        elif name == "ticket":
            ticket = value
    return token, ticket


def _parse_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _cap_kernel_send_buffer(transport: asyncio.Transport, limits: GatewayLimits) -> None:
    """Bound what the kernel queues for a stalled reader, so stale locations stay few."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, limits.socket_send_buffer_bytes)
    except OSError as exc:
        log.debug("could not set SO_SNDBUF: %s", exc)
