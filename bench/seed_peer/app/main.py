# The seed note's FastAPI app (../shared/seed/06_realtime.ko.md, section 2.3), for bench/peers.py.
# The route at the end is copied unchanged from the note; what the note leaves to the app around
# it (settings, the database session, the Invitation model) is stood in for here, first.

import json
import os
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import SimpleNamespace

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from jose import JWTError, jwt

app = FastAPI()

# The bench's JWT secret; the note's settings.JWT_ALGORITHM is HS256, as the gateway's.
settings = SimpleNamespace(JWT_SECRET_KEY=os.environ["JWT_SECRET"], JWT_ALGORITHM="HS256")


@dataclass
class Invitation:
    status: str
    inviter_id: str
    invitee_id: str


# The accepted invitations, {invitation id: [inviter id, invitee id]}, which the harness writes
# (SEED_PEER_INVITATIONS) instead of a PostgreSQL table: no database round trip at connect.
with open(os.environ["SEED_PEER_INVITATIONS"]) as f:
    _INVITATIONS = {
        key: Invitation("accepted", inviter, invitee) for key, (inviter, invitee) in json.load(f).items()
    }


class _Session:
    async def get(self, model, key):
        return _INVITATIONS.get(key)


@asynccontextmanager
async def get_async_session():
    yield _Session()


@app.get("/healthz")
async def healthz():
    return {"status": "ok"}


# ---- copied unchanged from the note, section 2.3 (its imports of FastAPI and jose above) ----
# app/main.py 또는 app/routers/websocket.py
from app.websocket.walk_together import manager


@app.websocket("/ws/walk-together/{invitation_id}")
async def walk_together_ws(websocket: WebSocket, invitation_id: str):
    # 1. JWT 인증 (query param으로 전달)
    token = websocket.query_params.get("token")
    if not token:
        await websocket.close(code=4001, reason="Missing token")
        return

    try:
        payload = jwt.decode(token, settings.JWT_SECRET_KEY, algorithms=[settings.JWT_ALGORITHM])
        user_id = payload["sub"]
    except JWTError:
        await websocket.close(code=4001, reason="Invalid token")
        return

    # 2. 초대 유효성 검증
    async with get_async_session() as db:
        invitation = await db.get(Invitation, invitation_id)
        if not invitation or invitation.status != "accepted":
            await websocket.close(code=4002, reason="Invalid invitation")
            return

        # 초대 참여자인지 확인
        if user_id not in [str(invitation.inviter_id), str(invitation.invitee_id)]:
            await websocket.close(code=4003, reason="Not a participant")
            return

    # 3. 연결
    await manager.connect(invitation_id, user_id, websocket)

    try:
        while True:
            # 클라이언트로부터 위치 데이터 수신
            data = await websocket.receive_json()

            # 위치 데이터 형식: {"lat": 37.5, "lng": 127.0, "timestamp": 1707750000}
            location_data = {
                "user_id": user_id,
                "lat": data["lat"],
                "lng": data["lng"],
                "timestamp": data.get("timestamp"),
            }

            # 상대방에게 브로드캐스트
            await manager.broadcast_location(invitation_id, user_id, location_data)

    except WebSocketDisconnect:
        manager.disconnect(invitation_id, user_id)
