"""Every private name of aiohttp that our code relies on, in one place (issue 19).

aiohttp gives no promise about these: any release may rename or change one. Each is pinned with
aiohttp in the lock files, and tests/realtime/test_aiohttp_internals.py checks each one exists
and behaves as relied on, failing with the name of the one that broke; it also fails when code
in services/ or shared/ uses a private aiohttp name that is not listed here.

The gateway's hot path (services/realtime/direct_ws.py, walk_together.py, connection.py):
- `aiohttp._websocket.reader.WebSocketDataQueue`: the queue aiohttp's WebSocket reader feeds;
  subclassed with `(protocol, limit, *, loop)`. Its `feed_data(data, size)` is `cpdef`, so the
  compiled reader calls a Python subclass's override; `_buffer` holds the frames not yet read.
- `aiohttp._websocket.reader.WebSocketReader(queue, max_msg_size, compress=, decode_text=)`:
  the frame parser, fed the socket's bytes by the connection's protocol.
- `WebSocketResponse._post_start(request, protocol, writer)`: called by `prepare()` once the
  upgrade is sent; it sets `_reader` (the queue) and `_parser` (the reader), from `_loop` and
  `_max_msg_size`, and hands the parser to the protocol.
- The attributes `prepare()` and `_post_start` set on a response (`_loop`, `_keep_alive`,
  `_must_be_empty_body`, `_req`, `_payload_writer`, `_ws_protocol`, `_writer`, `_reader`,
  `_parser`, `_waiting`): class attributes of aiohttp's, which DirectWebSocketResponse's
  `__init__` sets on the instance to the same value, so that they take their place in the
  class's shared keys while there is room (direct_ws.py).
- `aiohttp._websocket.writer.WebSocketWriter`, the response's writer (`_writer`): its
  `_send_lock`, `_background_tasks` and `get_random_bits`: taken only to
  compress a frame (the first two) or to mask one (a client's); direct_ws.py sets them to None
  on its uncompressed server writers.
- `RequestHandler._payload_parser`: what the protocol feeds every byte after the upgrade;
  `_message_tail`, the bytes that came with the upgrade request (fed to the first parser);
  `_parser`, the HTTP parser, unused after an upgrade (the gateway drops it to save memory).
- `WebSocketResponse._closed` ("our Close went out": `close()` then returns at once and sends
  nothing), set by `_set_closed()`; `_closing` ("the peer's Close was read"); and
  `_close_transport()`: direct_ws.py's `claim_close` and `closing_handshake`, so that a socket
  gets exactly one Close frame when the gateway writes its own (CONTRACT section 4).
- `RequestHandler._messages`: the deque of parsed requests waiting for the connection's task,
  which aiohttp only appends to, pops from the left and takes the length of, so the gateway's
  connections hold a list with a `popleft` instead (an empty deque is 760 bytes);
  services/realtime/upgrade_url.py replaces each request with one whose URL has no query string and
  with no `raw_headers` (made with the message's `_replace`, a named tuple's, also on the C
  parser's; nothing in aiohttp's server reads `raw_headers`), before a request is
  built from it. (It also empties yarl's private `_url.build_pre_encoded_url` LRU
  cache, checked in the same test file.)
- Frames written straight into the transport (connection.py's `frame_header`): aiohttp's own
  writer, uncompressed, writes each frame into the transport whole and at once, so ours never
  land inside one of its frames, and its frames are the RFC 6455 header our header matches.

Both services (shared/protocol_errors.py, shared/logging_setup.py):
- `web.Server._kwargs` and `_loop`, used to build the connections' handler as `__call__` does
  (`RequestHandler(server, loop=..., **kwargs)`); `web.AppRunner._make_server()`, awaited by
  `setup()`, returns the server; `RequestHandler._request_count`, requests parsed so far.
- `web.Request._cache` (and yarl's `URL._cache`): the dicts where propcache's cached
  properties (aiohttp's `reify`) keep what they computed; upgrade_url.py empties both once a
  socket's handshake is done, and each property computes its value again if asked.
- `web.Request._match_info`: the matched route, or None where `match_info` would assert.
"""

from __future__ import annotations

# The names above, as the test checks them: `<where>.<name>` → what our code does with it.
PRIVATE_NAMES: dict[str, str] = {
    "aiohttp._websocket.reader": "imported (WebSocketDataQueue, WebSocketReader)",
    "WebSocketDataQueue.feed_data": "overridden in services/realtime/direct_ws.py",
    "WebSocketDataQueue._buffer": "read in services/realtime/direct_ws.py",
    "WebSocketResponse._post_start": "overridden in services/realtime/direct_ws.py",
    "WebSocketResponse._reader": "replaced in services/realtime/direct_ws.py",
    "WebSocketResponse._parser": "replaced in services/realtime/direct_ws.py",
    "WebSocketResponse._loop": "read in services/realtime/direct_ws.py",
    "WebSocketResponse._max_msg_size": "read in services/realtime/direct_ws.py",
    "StreamResponse._keep_alive": "set to its default in services/realtime/direct_ws.py",
    "StreamResponse._must_be_empty_body": "set to its default in services/realtime/direct_ws.py",
    "StreamResponse._req": "set to its default in services/realtime/direct_ws.py",
    "StreamResponse._payload_writer": "set to its default in services/realtime/direct_ws.py",
    "WebSocketResponse._ws_protocol": "set to its default in services/realtime/direct_ws.py",
    "WebSocketResponse._writer": "set to its default in services/realtime/direct_ws.py",
    "WebSocketResponse._waiting": "set to its default in services/realtime/direct_ws.py",
    "aiohttp._websocket.writer": "imported (WebSocketWriter) in services/realtime/direct_ws.py",
    "WebSocketWriter._send_lock": "dropped in services/realtime/direct_ws.py",
    "WebSocketWriter._background_tasks": "dropped in services/realtime/direct_ws.py",
    "RequestHandler._payload_parser": "replaced in services/realtime/direct_ws.py",
    "RequestHandler._message_tail": "read in services/realtime/direct_ws.py",
    "RequestHandler._parser": "dropped in services/realtime/walk_together.py",
    "RequestHandler._messages": "replaced and rewritten in services/realtime/upgrade_url.py",
    "RawRequestMessage._replace": "called in services/realtime/upgrade_url.py",
    "WebSocketResponse._closed": "read in services/realtime/direct_ws.py",
    "WebSocketResponse._set_closed": "called in services/realtime/direct_ws.py",
    "WebSocketResponse._closing": "read and set in services/realtime/direct_ws.py",
    "WebSocketResponse._close_transport": "called in services/realtime/direct_ws.py",
    "RequestHandler._request_count": "read in shared/protocol_errors.py",
    "Server._kwargs": "read in shared/protocol_errors.py",
    "Server._loop": "read in shared/protocol_errors.py",
    "AppRunner._make_server": "overridden in shared/protocol_errors.py",
    "Request._cache": "emptied in services/realtime/upgrade_url.py",
    "Request._match_info": "read in shared/logging_setup.py",
}
