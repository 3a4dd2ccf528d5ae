"""Reading the specs in docs/ (openapi.yaml, asyncapi.yaml) the way their tests need."""

from __future__ import annotations

from typing import Any


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s (`#/components/...`) in `spec` to what they name."""
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node
