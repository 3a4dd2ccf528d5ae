"""The private names of aiohttp our code relies on (listed in shared/aiohttp_internals.py) exist
and behave as relied on. When an aiohttp upgrade breaks one, a test here fails naming it."""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient
from aiohttp.web_protocol import RequestHandler

from services.realtime.connection import frame_header
from services.realtime.direct_ws import DirectWebSocketResponse
from services.realtime.walk_together import _drop_http_parser
from shared.aiohttp_internals import PRIVATE_NAMES
from shared.protocol_errors import ContractAppRunner, ContractRequestHandler, ContractServer

ROOT = Path(__file__).resolve().parents[2]
LISTING = "shared/aiohttp_internals.py"


def _broke(name: str, how: str) -> str:
    return (
        f"aiohttp {importlib.metadata.version('aiohttp')} broke the private API `{name}` that "
        f"{PRIVATE_NAMES.get(name, 'our code')} relies on: {how} (see {LISTING})"
    )


def _masked_text_frame(text: str) -> bytes:
    """A client's text frame (clients mask theirs, RFC 6455 section 5.3)."""
    payload = text.encode()
    assert len(payload) < 126
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


class _RecordingTransport:
    """What a writer asks of a transport, keeping every write."""

    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def is_closing(self) -> bool:
        return False


class _Protocol:
    """What the queue and the writer ask of a connection's protocol."""

    _paused = False
    _reading_paused = False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


# -- Every private name used is listed ---------------------------------------------------------


def _python_files() -> Iterator[Path]:
    for top in ("services", "shared"):
        for path in sorted((ROOT / top).rglob("*.py")):
            if path.relative_to(ROOT).as_posix() != LISTING:
                yield path


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _aiohttp_subclasses(tree: ast.Module) -> set[str]:
    """Names of the classes in `tree` whose bases come from aiohttp (directly or through
    another such class of the same file)."""
    from_aiohttp = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aiohttp")
        for alias in node.names
    }
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef) or node.name in found:
                continue
            for base in node.bases:
                root = base
                while isinstance(root, ast.Attribute):
                    root = root.value
                if isinstance(root, ast.Name) and root.id in from_aiohttp | found:
                    found.add(node.name)
                    changed = True
                    break
    return found


def private_aiohttp_names(path: Path) -> set[str]:
    """The private aiohttp names `path` uses: private modules imported, `obj._name` on anything
    but our own `self`, `super()._name`, `getattr(obj, "_name")`, and `self._name` in a class
    that subclasses one of aiohttp's."""
    source = path.read_text()
    if "aiohttp" not in source:
        return set()
    tree = ast.parse(source, str(path))
    names: set[str] = set()
    subclasses = _aiohttp_subclasses(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aiohttp."):
            if any(_private(part) for part in node.module.split(".")):
                names.add(node.module)
        elif isinstance(node, ast.ClassDef) and node.name in subclasses:
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Attribute)
                    and _private(inner.attr)
                    and isinstance(inner.value, ast.Name)
                    and inner.value.id == "self"
                ):
                    names.add(inner.attr)
        if isinstance(node, ast.Attribute) and _private(node.attr):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in {"self", "cls"}:
                continue
            names.add(node.attr)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _private(node.args[1].value)
        ):
            names.add(node.args[1].value)
    return names


def test_every_private_aiohttp_name_the_code_uses_is_listed() -> None:
    listed = {key.rsplit(".", 1)[-1] for key in PRIVATE_NAMES} | set(PRIVATE_NAMES)
    unlisted = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in _python_files()
        for name in private_aiohttp_names(path)
        if name not in listed
    }
    assert not unlisted, f"private names of aiohttp not listed in {LISTING}: {sorted(unlisted)}"


def test_the_scan_finds_the_names_it_is_meant_to_find() -> None:
    found = private_aiohttp_names(ROOT / "services/realtime/direct_ws.py")
    assert {"aiohttp._websocket.reader", "_post_start", "_payload_parser", "_message_tail"} <= found
    assert {"_parser", "_reader", "_loop", "_max_msg_size", "_buffer"} <= found


# -- The WebSocket reader and its queue ----------------------------------------------------------


def test_the_websocket_reader_module_has_the_queue_and_the_reader() -> None:
    name = "aiohttp._websocket.reader"
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise AssertionError(_broke(name, f"the module is gone ({exc})")) from None
    for cls in ("WebSocketDataQueue", "WebSocketReader"):
        assert hasattr(module, cls), _broke(name, f"it no longer has {cls}")


async def test_the_reader_calls_a_python_override_of_the_queues_feed_data() -> None:
    from aiohttp._websocket.reader import WebSocketReader

    from services.realtime.direct_ws import _TextToCallback

    texts: list[tuple[Any, str]] = []
    try:
        queue = _TextToCallback(_Protocol(), 2**16, loop=asyncio.get_running_loop())
        reader = WebSocketReader(queue, 4097, compress=False, decode_text=True)
    except TypeError as exc:
        raise AssertionError(
            _broke("WebSocketDataQueue.feed_data", f"the constructors changed ({exc})")
        ) from None
    queue.on_text, queue.owner = lambda owner, text: texts.append((owner, text)), "me"

    reader.feed_data(_masked_text_frame("hello"))

    assert texts == [("me", "hello")], _broke(
        "WebSocketDataQueue.feed_data",
        f"the reader ({type(reader).__module__}) no longer calls the queue's Python override",
    )
    queue.on_text = None
    reader.feed_data(_masked_text_frame("queued"))
    assert hasattr(queue, "_buffer"), _broke("WebSocketDataQueue._buffer", "it is gone")
    assert len(queue._buffer) == 1, _broke(
        "WebSocketDataQueue._buffer", "it does not hold the frames not yet read"
    )
    message = await queue.read()
    assert (message.type, message.data) == (WSMsgType.TEXT, "queued")


# -- The response and the connection's protocol ------------------------------------------------


def test_the_response_and_handler_have_the_private_attributes_relied_on() -> None:
    post_start = getattr(web.WebSocketResponse, "_post_start", None)
    assert post_start is not None, _broke("WebSocketResponse._post_start", "it is gone")
    assert list(inspect.signature(post_start).parameters) == [
        "self",
        "request",
        "protocol",
        "writer",
    ], _broke("WebSocketResponse._post_start", "its parameters changed")
    response = web.WebSocketResponse(max_msg_size=4097)
    for name in ("_reader", "_parser", "_loop", "_max_msg_size"):
        assert hasattr(response, name), _broke(f"WebSocketResponse.{name}", "it is gone")
    assert response._max_msg_size == 4097, _broke(
        "WebSocketResponse._max_msg_size", "it no longer holds max_msg_size"
    )
    slots = {slot for cls in RequestHandler.__mro__ for slot in getattr(cls, "__slots__", ())}
    for name in ("_payload_parser", "_message_tail", "_parser", "_request_count", "_messages"):
        assert name in slots, _broke(f"RequestHandler.{name}", "it is gone")


def test_the_response_sets_in_its_init_only_aiohttps_own_defaults() -> None:
    """direct_ws.py's `__init__` sets what `prepare()` sets later, to aiohttp's class defaults:
    the same values a response reads before it is prepared."""
    response = DirectWebSocketResponse()
    own = set(vars(response)) - set(vars(web.WebSocketResponse()))
    assert own, "DirectWebSocketResponse.__init__ sets nothing of its own"
    for name in sorted(own):
        assert hasattr(web.WebSocketResponse, name), _broke(
            f"WebSocketResponse.{name}", "it has no class default"
        )
        assert getattr(response, name) == getattr(web.WebSocketResponse, name), _broke(
            f"WebSocketResponse.{name}", "its class default changed"
        )


def test_aiohttp_only_appends_pops_left_and_counts_its_queue_of_requests() -> None:
    """upgrade_url.py's `_Messages`, a list with a `popleft`, stands in for the deque."""
    source = inspect.getsource(importlib.import_module("aiohttp.web_protocol"))
    used = set(re.findall(r"self\._messages\.(\w+)", source))
    assert used <= {"append", "popleft"}, _broke("RequestHandler._messages", f"it uses {used}")
    assert "self._messages[" not in source, _broke("RequestHandler._messages", "it is indexed")


async def test_a_claimed_close_makes_aiohttp_send_no_close_frame_of_its_own() -> None:
    """direct_ws.py's `claim_close`: `_set_closed()` sets `_closed`, and `close()` (what aiohttp
    runs when the handler returns) then returns at once, writing nothing."""
    for name in ("_closed", "_closing"):
        assert hasattr(web.WebSocketResponse(), name), _broke(f"WebSocketResponse.{name}", "gone")
    for name in ("_set_closed", "_close_transport"):
        assert callable(getattr(web.WebSocketResponse, name, None)), _broke(
            f"WebSocketResponse.{name}", "it is gone"
        )
    ws = DirectWebSocketResponse()
    assert ws.claim_close() is True and ws.closed, _broke(
        "WebSocketResponse._set_closed", "it no longer marks the response closed"
    )
    assert ws.claim_close() is False

    class Writer:
        closes = 0

        async def close(self, code: int, message: bytes) -> None:
            self.closes += 1

    writer = Writer()
    ws._writer = writer  # type: ignore[assignment]  # "prepared", without a connection
    assert await ws.close() is False and writer.closes == 0, _broke(
        "WebSocketResponse._closed", "close() sends a Close frame after ours"
    )


def test_a_parsed_request_message_can_be_copied_with_another_url_and_no_raw_headers() -> None:
    from aiohttp.http_parser import RawRequestMessage

    assert callable(getattr(RawRequestMessage, "_replace", None)), _broke(
        "RawRequestMessage._replace", "it is gone"
    )
    # The C parser's `_replace` ignores a name it does not know: a field renamed would go
    # unnoticed (tests/realtime/test_tickets.py checks what a served socket keeps).
    for field in ("path", "url", "raw_headers"):
        assert hasattr(RawRequestMessage, field), _broke(
            "RawRequestMessage._replace", f"no `{field}` to replace"
        )


def test_yarl_keeps_its_built_urls_in_the_cache_upgrade_url_empties() -> None:
    from yarl import URL, _url

    cache = getattr(_url, "build_pre_encoded_url", None)
    assert cache is not None and callable(getattr(cache, "cache_clear", None)), (
        "yarl's _url.build_pre_encoded_url (an lru_cache) is gone: see services/realtime/"
        "upgrade_url.py"
    )
    cache.cache_clear()
    URL.build(path="/ws/walk-together/x", query_string="token=secret", encoded=True)
    assert cache.cache_info().currsize == 1, "URL.build no longer goes through that cache"
    cache.cache_clear()


async def test_direct_text_frames_reach_the_callback_through_post_start(
    aiohttp_client: Any,
) -> None:
    """prepare() calls `_post_start`, the protocol feeds `_payload_parser` (ours) after the
    upgrade, `_message_tail` is empty, and the HTTP `_parser` may be dropped."""
    texts: list[str] = []
    checks: dict[str, bool] = {}

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = DirectWebSocketResponse()
        await ws.prepare(request)
        protocol = request.protocol
        checks["_post_start"] = ws._reader is not None and ws._parser is not None
        checks["_payload_parser"] = protocol._payload_parser is ws._parser
        checks["_message_tail"] = protocol._message_tail == b""
        _drop_http_parser(request)
        checks["_parser"] = protocol._parser is None
        ws.on_text(lambda owner, text: texts.append(text))
        async for message in ws:  # pings are answered here; the close ends it
            assert message.type is not WSMsgType.TEXT
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    client: TestClient = await aiohttp_client(app)
    async with client.ws_connect("/ws", autoping=False) as ws:
        await ws.send_str("straight to the callback")
        await ws.ping(b"still there?")
        pong = await ws.receive(timeout=5)
        assert pong.type is WSMsgType.PONG
    assert checks == dict.fromkeys(checks, True) and len(checks) == 4, _broke(
        "WebSocketResponse._post_start",
        f"after prepare() these did not hold: {[k for k, ok in checks.items() if not ok]}",
    )
    assert texts == ["straight to the callback"], _broke(
        "RequestHandler._payload_parser", "the bytes after the upgrade do not reach our parser"
    )


async def test_aiohttp_writes_a_frame_whole_into_the_transport_as_we_build_them() -> None:
    """Our frames go straight into the transport between aiohttp's own: aiohttp must write each
    of its uncompressed frames at once (no await before the bytes are in the transport), with
    the same RFC 6455 header as `frame_header`."""
    from aiohttp._websocket.writer import WebSocketWriter

    transport = _RecordingTransport()
    written = transport.written
    writer = WebSocketWriter(_Protocol(), transport)  # type: ignore[arg-type]
    for size in (5, 200, 70_000):
        written.clear()
        payload = os.urandom(size)
        step = writer.send_frame(payload, WSMsgType.TEXT)
        try:
            step.send(None)
        except StopIteration:
            pass
        else:
            step.close()
            raise AssertionError(_broke("frames into the transport", "send_frame awaits first"))
        assert b"".join(written) == frame_header(WSMsgType.TEXT, size) + payload, _broke(
            "frames into the transport", f"aiohttp's frame of {size} bytes differs from ours"
        )


async def test_an_uncompressed_writer_uses_no_lock_task_set_or_random_bits() -> None:
    """direct_ws.py drops the writer's `_send_lock`, `_background_tasks` and `get_random_bits`
    (None): every frame an uncompressed server writer sends, small, large or control, and its
    close, must go out without them."""
    from aiohttp._websocket.writer import WebSocketWriter

    from services.realtime.direct_ws import _drop_what_compression_and_masking_use

    transport = _RecordingTransport()
    written = transport.written
    writer = WebSocketWriter(_Protocol(), transport)  # type: ignore[arg-type]
    _drop_what_compression_and_masking_use(writer)
    assert writer._send_lock is None and writer._background_tasks is None
    for opcode, payload in [
        (WSMsgType.TEXT, b"x" * 5),
        (WSMsgType.BINARY, os.urandom(70_000)),
        (WSMsgType.PING, b"p"),
        (WSMsgType.PONG, b"p"),
    ]:
        written.clear()
        await writer.send_frame(payload, opcode)
        assert b"".join(written) == frame_header(opcode, len(payload)) + payload, _broke(
            "WebSocketWriter._send_lock", f"an uncompressed {opcode.name} frame needs it"
        )
    await writer.close(1000, b"bye")
    assert written[-1].startswith(bytes([0x88])), _broke(
        "WebSocketWriter._send_lock", "the close frame needs it"
    )
    compressed = WebSocketWriter(_Protocol(), transport, compress=15)  # type: ignore[arg-type]
    _drop_what_compression_and_masking_use(compressed)
    assert compressed._send_lock is not None, "a compressing writer lost its lock"


# -- The server, its runner and the request ------------------------------------------------------


async def test_the_contract_runner_builds_its_handlers_as_aiohttp_does() -> None:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = ContractAppRunner(app)
    assert inspect.iscoroutinefunction(web.AppRunner._make_server), _broke(
        "AppRunner._make_server", "it is gone or no longer a coroutine"
    )
    await runner.setup()
    try:
        server = runner.server
        assert isinstance(server, ContractServer), _broke(
            "AppRunner._make_server", "setup() no longer makes the server with it"
        )
        for name in ("_kwargs", "_loop"):
            assert hasattr(server, name), _broke(f"Server.{name}", "it is gone")
        assert isinstance(server._kwargs, dict), _broke("Server._kwargs", "not a dict")
        handler = server()
        assert isinstance(handler, ContractRequestHandler)
        assert handler._request_count == 0, _broke("RequestHandler._request_count", "changed")
    finally:
        await runner.cleanup()


async def test_a_routed_request_has_its_match_info_in_the_private_slot(
    aiohttp_client: Any,
) -> None:
    async def hello(request: web.Request) -> web.Response:
        same = request._match_info is request.match_info
        return web.Response(text=f"{same} {request._match_info.route.resource.canonical}")

    app = web.Application()
    app.router.add_get("/users/{id}", hello)
    client: TestClient = await aiohttp_client(app)
    resp = await client.get("/users/7")
    assert await resp.text() == "True /users/{id}", _broke(
        "Request._match_info", "it no longer holds the matched route"
    )
