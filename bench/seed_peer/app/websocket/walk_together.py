# Copied unchanged from the design note ../shared/seed/06_realtime.ko.md, section 2.2: the
# reference bench/peers.py measures the gateway against (bench/seed_peer/README.md). Not
# project code; do not fix it here.

# app/websocket/walk_together.py
from fastapi import WebSocket, WebSocketDisconnect
from jose import jwt, JWTError
import json


class WalkTogetherManager:
    """함께 산책 WebSocket 연결 관리"""

    def __init__(self):
        # invitation_id → {user_id: WebSocket}
        self.rooms: dict[str, dict[str, WebSocket]] = {}

    async def connect(self, invitation_id: str, user_id: str, websocket: WebSocket):
        await websocket.accept()
        if invitation_id not in self.rooms:
            self.rooms[invitation_id] = {}
        self.rooms[invitation_id][user_id] = websocket

    def disconnect(self, invitation_id: str, user_id: str):
        if invitation_id in self.rooms:
            self.rooms[invitation_id].pop(user_id, None)
            if not self.rooms[invitation_id]:
                del self.rooms[invitation_id]

    async def broadcast_location(
        self, invitation_id: str, sender_id: str, data: dict
    ):
        """상대방에게 위치 브로드캐스트"""
        room = self.rooms.get(invitation_id, {})
        for user_id, ws in room.items():
            if user_id != sender_id:
                try:
                    await ws.send_json(data)
                except Exception:
                    pass


manager = WalkTogetherManager()
