"""What a notification looks like on a phone: Korean text per type, `data` for the app to open
the right screen (FCM requires every value to be a string), and Android / APNs delivery options."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from shared.jsonutil import dumps
from shared.settings import Settings

SOMEONE = "누군가"
DEFAULT_TTL_S = 24 * 3600
RANKING_TTL_S = 6 * 3600
URGENT_TYPES = frozenset({"invitation_received", "invitation_accepted"})
# Only the latest ranking matters: a newer one replaces an undelivered or displayed older one.
COLLAPSING_TYPES = frozenset({"ranking_changed"})


@dataclass(frozen=True, slots=True)
class PushNotification:
    id: uuid.UUID
    type: str
    actor_id: uuid.UUID | None
    actor_nickname: str | None
    data: dict[str, Any]
    # How many notifications this push announces: more than 1 when later ones of its thread
    # were folded into it (services/api/notifications/notify.py, docs/push.md).
    count: int = 1


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """How long FCM keeps trying a push before it is not worth showing any more."""

    invitation_s: int  # an invitation can be answered until it expires (INVITATION_TTL_S)
    walk_s: int  # an accepted one finishes by itself after this (MAX_WALK_DURATION_S)

    @classmethod
    def of(cls, settings: Settings) -> Lifetimes:
        return cls(settings.invitation_ttl_s, settings.max_walk_duration_s)

    def ttl_s(self, type: str) -> int:
        match type:
            case "invitation_received":
                return self.invitation_s
            case "invitation_accepted":
                return self.walk_s
            case "ranking_changed":
                return RANKING_TTL_S
            case _:
                return DEFAULT_TTL_S


def title_and_body(n: PushNotification) -> tuple[str, str]:
    actor = n.actor_nickname or SOMEONE
    match n.type:
        case "invitation_received":
            return "함께 산책 제안", f"{actor}님이 함께 산책을 제안했어요"
        case "invitation_accepted":
            return "함께 산책", f"{actor}님이 함께 산책 제안을 수락했어요"
        case "followed":
            return "새 팔로워", f"{actor}님이 회원님을 팔로우하기 시작했어요"
        case "follow_requested":
            return "팔로우 요청", f"{actor}님이 회원님을 팔로우하고 싶어 해요"
        case "walk_liked":
            return "좋아요", f"{actor}님이 회원님의 산책을 좋아해요"
        case "walk_commented" if n.count > 1:
            return f"새 댓글 {n.count}개", f"회원님의 산책에 새 댓글이 {n.count}개 달렸어요"
        case "walk_commented":
            return "새 댓글", f"{actor}님이 회원님의 산책에 댓글을 남겼어요"
        case "badge_earned":
            badge = n.data.get("badge_name") or "새"
            return "새 배지", f"'{badge}' 배지를 받았어요!"
        case "ranking_changed":
            rank = n.data.get("rank")
            where = f" 지금 주간 {rank}위예요." if rank is not None else ""
            if n.actor_nickname:
                return "주간 랭킹", f"{n.actor_nickname}님이 회원님을 앞질렀어요.{where}"
            return "주간 랭킹", f"주간 랭킹이 바뀌었어요.{where}"
        case "report_resolved":
            return "신고 처리", "회원님의 신고가 처리되었어요"
        case "content_hidden":
            return "게시물 숨김", "운영 정책에 따라 회원님의 게시물이 숨겨졌어요"
        case _:
            return "멍이랑", "새 알림이 있어요"


def _as_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | uuid.UUID):
        return str(value)
    return dumps(value)


def data_payload(n: PushNotification) -> dict[str, str]:
    data = {key: _as_string(value) for key, value in n.data.items() if value is not None}
    if n.actor_id is not None:
        data["actor_id"] = str(n.actor_id)
    data["type"] = n.type
    data["notification_id"] = str(n.id)
    if n.count > 1:
        data["count"] = str(n.count)
    return data


def build_message(
    n: PushNotification, lifetimes: Lifetimes, *, now: float | None = None
) -> dict[str, Any]:
    """The FCM v1 `message` for every device of the recipient, minus its `token`."""
    title, body = title_and_body(n)
    ttl_s = lifetimes.ttl_s(n.type)
    urgent = n.type in URGENT_TYPES
    android_notification: dict[str, Any] = {"sound": "default"}
    apns_headers = {
        "apns-push-type": "alert",
        "apns-priority": "10" if urgent else "5",
        "apns-expiration": str(int((now if now is not None else time.time()) + ttl_s)),
    }
    android: dict[str, Any] = {"priority": "HIGH" if urgent else "NORMAL", "ttl": f"{ttl_s}s"}
    if n.type in COLLAPSING_TYPES:
        android["collapse_key"] = n.type
        android_notification["tag"] = n.type
        apns_headers["apns-collapse-id"] = n.type
    android["notification"] = android_notification
    return {
        "notification": {"title": title, "body": body},
        "data": data_payload(n),
        "android": android,
        "apns": {
            "headers": apns_headers,
            "payload": {"aps": {"sound": "default", "thread-id": n.type}},
        },
        "webpush": {"headers": {"TTL": str(ttl_s), "Urgency": "high" if urgent else "normal"}},
    }


def for_device(message: dict[str, Any], token: str) -> dict[str, Any]:
    return {"token": token, **message}
