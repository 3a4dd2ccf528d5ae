"""What a push looks like on the phone, and how FCM's answers are read."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from services.api.push_worker.backoff import retry_delay
from services.api.push_worker.fcm import Outcome, classify, parse_retry_after
from services.api.push_worker.messages import Lifetimes, PushNotification, build_message
from shared.jsonutil import dumps_bytes
from shared.settings import Settings

ACTOR = uuid.uuid4()
LIFETIMES = Lifetimes(invitation_s=2 * 3600, walk_s=4 * 3600)


def notification(
    type: str, data: dict[str, object], nickname: str | None = "초코"
) -> PushNotification:
    return PushNotification(uuid.uuid4(), type, ACTOR, nickname, data)


@pytest.mark.parametrize(
    ("type", "data", "body"),
    [
        ("invitation_received", {"invitation_id": "i"}, "초코님이 함께 산책을 제안했어요"),
        ("invitation_accepted", {"invitation_id": "i"}, "초코님이 함께 산책 제안을 수락했어요"),
        ("followed", {"follower_id": "f"}, "초코님이 회원님을 팔로우하기 시작했어요"),
        ("follow_requested", {"requester_id": "r"}, "초코님이 회원님을 팔로우하고 싶어 해요"),
        ("walk_liked", {"walk_id": "w"}, "초코님이 회원님의 산책을 좋아해요"),
        (
            "walk_commented",
            {"walk_id": "w", "comment_id": "c"},
            "초코님이 회원님의 산책에 댓글을 남겼어요",
        ),
        (
            "badge_earned",
            {"badge_code": "walks_10", "badge_name": "산책 10회"},
            "'산책 10회' 배지를 받았어요!",
        ),
        (
            "ranking_changed",
            {"rank": 3, "week_start": "2026-11-23"},
            "초코님이 회원님을 앞질렀어요. 지금 주간 3위예요.",
        ),
    ],
)
def test_each_type_has_korean_text_and_its_ids_as_string_data(
    type: str, data: dict[str, object], body: str
) -> None:
    n = notification(type, data)
    message = build_message(n, LIFETIMES)
    assert message["notification"]["body"] == body
    assert message["notification"]["title"]
    assert message["data"]["type"] == type
    assert message["data"]["notification_id"] == str(n.id)
    assert all(isinstance(v, str) for v in message["data"].values())
    for key, value in data.items():
        assert message["data"][key] == str(value)


def test_a_deleted_actor_still_reads_naturally() -> None:
    message = build_message(notification("walk_liked", {"walk_id": "w"}, nickname=None), LIFETIMES)
    assert message["notification"]["body"] == "누군가님이 회원님의 산책을 좋아해요"


def test_non_string_data_values_are_sent_as_strings() -> None:
    data = {"rank": 2, "on": True, "nested": {"a": 1}, "gone": None}
    message = build_message(notification("ranking_changed", data), LIFETIMES)
    assert message["data"]["rank"] == "2"
    assert message["data"]["on"] == "true"
    assert message["data"]["nested"] == '{"a":1}'
    assert "gone" not in message["data"]


def test_ranking_changes_collapse_and_others_do_not() -> None:
    ranking = build_message(notification("ranking_changed", {"rank": 1}), LIFETIMES)
    assert ranking["android"]["collapse_key"] == "ranking_changed"
    assert ranking["apns"]["headers"]["apns-collapse-id"] == "ranking_changed"
    like = build_message(notification("walk_liked", {"walk_id": "w"}), LIFETIMES)
    assert "collapse_key" not in like["android"]
    assert "apns-collapse-id" not in like["apns"]["headers"]


def test_invitations_are_urgent_and_expire_with_the_invitation() -> None:
    now = 1_800_000_000.0
    invite = build_message(
        notification("invitation_received", {"invitation_id": "i"}), LIFETIMES, now=now
    )
    assert invite["android"]["priority"] == "HIGH"
    assert invite["android"]["ttl"] == "7200s"
    assert invite["apns"]["headers"]["apns-priority"] == "10"
    assert invite["apns"]["headers"]["apns-expiration"] == str(int(now + 7200))
    like = build_message(notification("walk_liked", {"walk_id": "w"}), LIFETIMES, now=now)
    assert like["android"]["priority"] == "NORMAL"
    assert like["apns"]["headers"]["apns-priority"] == "5"


def test_invitation_lifetimes_follow_the_settings(settings: Settings) -> None:
    lifetimes = Lifetimes.of(
        settings.model_copy(update={"invitation_ttl_s": 900, "max_walk_duration_s": 5400})
    )
    invite = build_message(notification("invitation_received", {"invitation_id": "i"}), lifetimes)
    accepted = build_message(notification("invitation_accepted", {"invitation_id": "i"}), lifetimes)
    assert invite["android"]["ttl"] == "900s"
    assert invite["webpush"]["headers"]["TTL"] == "900"
    assert accepted["android"]["ttl"] == "5400s"
    like = build_message(notification("walk_liked", {"walk_id": "w"}), lifetimes)
    assert like["android"]["ttl"] == f"{24 * 3600}s"


def _error(status: int, code: str | None, rpc: str) -> bytes:
    details = (
        [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": code}]
        if code
        else []
    )
    return dumps_bytes({"error": {"code": status, "status": rpc, "details": details}})


@pytest.mark.parametrize(
    ("status", "code", "rpc", "outcome"),
    [
        (404, "UNREGISTERED", "NOT_FOUND", Outcome.UNREGISTERED),
        (404, None, "NOT_FOUND", Outcome.UNREGISTERED),
        (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", Outcome.REJECTED),
        (403, "SENDER_ID_MISMATCH", "PERMISSION_DENIED", Outcome.REJECTED),
        (401, "THIRD_PARTY_AUTH_ERROR", "UNAUTHENTICATED", Outcome.REJECTED),
        (401, None, "UNAUTHENTICATED", Outcome.RETRY),
        (429, "QUOTA_EXCEEDED", "RESOURCE_EXHAUSTED", Outcome.RETRY),
        (500, "INTERNAL", "INTERNAL", Outcome.RETRY),
        (503, "UNAVAILABLE", "UNAVAILABLE", Outcome.RETRY),
        (502, None, "", Outcome.RETRY),
    ],
)
def test_fcm_errors_are_classified_as_google_documents(
    status: int, code: str | None, rpc: str, outcome: Outcome
) -> None:
    assert classify(status, _error(status, code, rpc), None).outcome is outcome


def test_retry_after_is_read_as_seconds_or_http_date() -> None:
    now = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after("Thu, 26 Nov 2026 12:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("nonsense") is None
    assert parse_retry_after(None) is None


def test_backoff_grows_is_capped_and_never_undercuts_retry_after() -> None:
    delays = [retry_delay(a, None, base_s=1.0, cap_s=8.0) for a in (1, 2, 3, 4, 5, 6)]
    assert 0.5 <= delays[0] <= 1.0
    assert 2.0 <= delays[2] <= 4.0
    assert all(4.0 <= d <= 8.0 for d in delays[3:])
    assert retry_delay(1, 30.0, base_s=1.0, cap_s=8.0) == 30.0
