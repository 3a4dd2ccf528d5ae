"""What clients send and receive on `/ws/walk-together/{invitation_id}` (docs/realtime-protocol.md).

Outgoing frames are built as bytes with orjson and written as text frames; a location frame is
also the pub/sub message, so gateways forward it to the partner without re-encoding it.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.jsonutil import dumps_bytes, loads
from shared.walk_events import LOCATION

# Unix seconds; anything at or past 1e10 (year 2286) is a millisecond clock sent by mistake.
MAX_TIMESTAMP = 1e10


class LocationIn(BaseModel):
    """One location from a client. Unknown keys are ignored, so newer apps can add fields."""

    model_config = ConfigDict(extra="ignore", strict=True)

    type: Literal["location"] = "location"
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)
    timestamp: float | None = Field(default=None, ge=0, lt=MAX_TIMESTAMP, allow_inf_nan=False)
    accuracy: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    heading: float | None = Field(default=None, ge=0, le=360, allow_inf_nan=False)
    speed: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class InvalidMessage(Exception):
    """A client message we answer with `invalid_message`; `detail` is safe to show the client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def parse_location(text: str) -> LocationIn:
    try:
        return LocationIn.model_validate_json(text)
    except ValidationError as exc:
        raise InvalidMessage(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_context=False, include_input=False)
    if any(error["type"] in ("json_invalid", "model_type") for error in errors):
        return "message must be a JSON object"
    parts = [
        f"{'.'.join(str(p) for p in error['loc']) or 'message'}: {error['msg']}"
        for error in errors[:3]
    ]
    return "; ".join(parts)


def location_frame(user_id: str, location: LocationIn) -> bytes:
    """What the partner receives; a missing timestamp becomes the time the gateway got it."""
    timestamp = location.timestamp
    if timestamp is None:
        timestamp = round(time.time(), 3)
    return dumps_bytes(
        {
            "type": LOCATION,
            "user_id": user_id,
            "lat": location.lat,
            "lng": location.lng,
            "timestamp": timestamp,
            "accuracy": location.accuracy,
            "heading": location.heading,
            "speed": location.speed,
        }
    )


def hello_frame(
    *,
    invitation_id: str,
    user_id: str,
    partner_id: str,
    partner_online: bool,
    partner_last: bytes | None,
    interval_s: int,
) -> bytes:
    last: dict[str, Any] | None = None
    if partner_last is not None:
        last = loads(partner_last)
        last.pop("type", None)
    return dumps_bytes(
        {
            "type": "hello",
            "invitation_id": invitation_id,
            "user_id": user_id,
            "partner_id": partner_id,
            "partner_online": partner_online,
            "partner_last": last,
            "interval_s": interval_s,
        }
    )


def error_frame(detail: str) -> bytes:
    return dumps_bytes({"type": "error", "code": "invalid_message", "detail": detail})


def walk_ended_frame(status: str) -> bytes:
    return dumps_bytes({"type": "walk_ended", "status": status})
