"""The baseline: a bare in-process aiohttp WebSocket relay on uvloop (no auth, no Redis).

Same URL shape as the gateway; both partners of a walk must be on this process. It says hello
on connect and forwards each text frame, as is, to the partner: the least any relay does.
"""

from __future__ import annotations

import asyncio
import os
import sys

from aiohttp import WSMsgType, web

rooms_key = web.AppKey("rooms", dict[str, list[web.WebSocketResponse]])
HELLO = '{"type":"hello","interval_s":5}'


async def relay(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(compress=False, max_msg_size=4096)
    await ws.prepare(request)
    room = request.app[rooms_key].setdefault(request.match_info["walk"], [])
    room.append(ws)
    await ws.send_str(HELLO)
    try:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                for other in room:
                    if other is not ws:
                        await other.send_str(msg.data)
    finally:
        room.remove(ws)
        if not room:
            request.app[rooms_key].pop(request.match_info["walk"], None)
    return ws


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app() -> web.Application:
    app = web.Application()
    app[rooms_key] = {}
    app.router.add_get("/ws/walk-together/{walk}", relay)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    port = int(os.environ.get("REALTIME_PORT", sys.argv[1] if len(sys.argv) > 1 else "8101"))
    web.run_app(create_app(), host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    main()
