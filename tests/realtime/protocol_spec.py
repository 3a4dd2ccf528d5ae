"""docs/asyncapi.yaml, and the check that a frame is one of the messages it documents.

tests/realtime/conftest.py holds every frame the tests receive from the gateway to it, so the
document and the gateway cannot drift apart; tests/realtime/test_asyncapi.py checks the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

from tests import spec_refs

SPEC_PATH = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    return spec_refs.resolve(SPEC, node)


def validator(payload: dict[str, Any]) -> Draft7Validator:
    """AsyncAPI 3's default schema format is a superset of JSON Schema draft 7."""
    schema = {**payload, "components": SPEC["components"]}
    return Draft7Validator(schema, format_checker=Draft7Validator.FORMAT_CHECKER)


def messages(action: str) -> list[dict[str, Any]]:
    """The messages of the operations with this action (`send`: the gateway's)."""
    return [
        resolve(message)
        for operation in SPEC["operations"].values()
        if operation["action"] == action
        for message in operation["messages"]
    ]


def _by_type(action: str) -> dict[str, Draft7Validator]:
    kinds = {}
    for message in messages(action):
        payload = resolve(message["payload"])
        kinds[payload["properties"]["type"]["const"]] = validator(message["payload"])
    return kinds


SERVER_FRAMES = _by_type("send")
CLIENT_LOCATION = validator(resolve(messages("receive")[0])["payload"])


def problems(validate: Draft7Validator, frame: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}" for e in validate.iter_errors(frame)]


def check_server_frame(frame: Any) -> None:
    """Fail unless `frame` is one of the gateway's documented messages, exactly."""
    kind = frame.get("type") if isinstance(frame, dict) else None
    assert kind in SERVER_FRAMES, f"a frame of no documented type: {frame}"
    found = problems(SERVER_FRAMES[kind], frame)
    assert found == [], f"{kind} frame not as docs/asyncapi.yaml says: {found} in {frame}"
