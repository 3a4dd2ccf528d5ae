"""The gateway's tunables, in one place so tests can tighten or loosen them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GatewayLimits:
    # Clients send a location every `interval_s`; the bucket lets a reconnecting client flush a
    # short burst, and closes 4008 only on sustained flooding far above that pace.
    interval_s: int = 5
    burst: float = 20.0
    refill_per_s: float = 2.0
    invalid_in_a_row: int = 5
    # Per person, across instances (presence.py): more joins of one walk than this within the
    # window close the new socket with 4008.
    joins_per_window: int = 30
    join_window_s: float = 60.0
    # A partner is written at most one of the walker's locations this often (2 a second), the
    # newest (connection.py): per receiving socket, so however the walker reconnects.
    partner_location_gap_s: float = 0.5
    max_message_bytes: int = 4096

    # Dead peers: a ping after `heartbeat_s` of silence, dropped when no pong within half of it
    # (heartbeat.py: checked every sixth of it).
    heartbeat_s: float = 30.0
    # Waiting for a client's close frame; short so SIGTERM finishes within a few seconds.
    close_timeout_s: float = 2.0
    # Sockets whose handlers finish their close in one loop iteration (turns.py): a storm
    # of closes goes at this many a turn, with the live sockets served between turns.
    closes_per_turn: int = 50
    # Handshakes that do their checks, seat and hello in one loop iteration, the same way: a
    # reconnect storm (a stopped instance's walkers) is admitted this many a turn.
    handshakes_per_turn: int = 25

    # Slow readers: past this many bytes queued in user space a socket stops being written to and
    # keeps only the newest location and presence; the kernel's own buffer is capped too, so what
    # a stalled client has queued ahead of the newest location stays a few KiB.
    slow_buffer_bytes: int = 8192
    socket_send_buffer_bytes: int = 16384
    slow_retry_s: float = 0.05

    # The pub/sub connection is PINGed this often, and dropped when the last PING is unanswered.
    pubsub_health_check_s: float = 30.0
    # A probe goes round each pub/sub link this often; the gateway sheds on its lag (outbox.py).
    pubsub_probe_s: float = 0.1

    presence_ttl_s: int = 30
    last_location_ttl_s: int = 4 * 3600
    backstop_interval_s: float = 1.0
    # The location-access ledger is written this often (ledger.py): well within the 10 s by which
    # an entry must be durable.
    ledger_flush_s: float = 5.0
    gc_interval_s: float = 1.0
