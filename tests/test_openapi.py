"""docs/openapi.yaml describes exactly the routes the API serves, and is valid OpenAPI 3.1.

The route table is read from `create_app(...)` without starting the app, so no store is needed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_spec_validator import OpenAPIV31SpecValidator

from services.api.app import create_app
from services.api.auth import PUBLIC_PATHS
from shared.errors import _CODES as HTTP_ERROR_CODES
from tests.conftest import make_settings

SPEC_PATH = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}
POLLS = ("/feed", "/walks/{id}/interactions")


def _app_routes() -> set[tuple[str, str]]:
    # Never started, so the URLs only have to parse.
    settings = make_settings("postgresql://unused@127.0.0.1:1/unused", "redis://127.0.0.1:1/0")
    app = create_app(settings)
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method not in IGNORED_METHODS and route.resource is not None
    }


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in SPEC["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (`#/components/...`) to what it names."""
    while "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _parameters(path: str, operation: dict[str, Any]) -> list[dict[str, Any]]:
    shared = SPEC["paths"][path].get("parameters", [])
    return [_resolve(p) for p in [*shared, *operation.get("parameters", [])]]


def test_spec_is_a_valid_openapi_3_1_document() -> None:
    assert SPEC["openapi"].startswith("3.1.")
    errors = [f"{list(e.path)}: {e.message}" for e in OpenAPIV31SpecValidator(SPEC).iter_errors()]
    assert errors == []


def _listing(routes: set[tuple[str, str]]) -> str:
    return "\n".join(f"  {method} {path}" for method, path in sorted(routes, key=lambda r: r[::-1]))


def test_every_route_the_app_serves_is_in_the_spec() -> None:
    spec_routes = {(method, path) for method, path, _ in _operations()}
    undocumented = _app_routes() - spec_routes
    assert not undocumented, "served but not in docs/openapi.yaml:\n" + _listing(undocumented)


def test_every_route_in_the_spec_is_served_by_the_app() -> None:
    spec_routes = {(method, path) for method, path, _ in _operations()}
    unserved = spec_routes - _app_routes()
    assert not unserved, "in docs/openapi.yaml but not served:\n" + _listing(unserved)


def test_path_parameters_are_declared_with_the_routes_names() -> None:
    for method, path, operation in _operations():
        in_template = set(re.findall(r"\{([^}]+)\}", path))
        declared = {p["name"] for p in _parameters(path, operation) if p["in"] == "path"}
        assert declared == in_template, (method, path)


def test_ids_in_paths_are_uuids() -> None:
    for method, path, operation in _operations():
        for param in _parameters(path, operation):
            if param["in"] == "path" and (param["name"] == "id" or param["name"].endswith("_id")):
                assert param["schema"]["format"] == "uuid", (method, path, param["name"])


def test_only_the_public_routes_skip_the_bearer_token() -> None:
    assert SPEC["security"] == [{"bearerAuth": []}]
    assert SPEC["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for method, path, operation in _operations():
        public = operation.get("security") == []
        assert public == (path in PUBLIC_PATHS), (method, path)
        if not public:
            assert "401" in operation["responses"], (method, path)


def test_every_error_response_has_the_contract_shape() -> None:
    error_ref = {"$ref": "#/components/schemas/Error"}
    for method, path, operation in _operations():
        for status, response in operation["responses"].items():
            if int(status) >= 400 and path != "/healthz":
                schema = _resolve(response)["content"]["application/json"]["schema"]
                assert schema == error_ref, (method, path, status)


def test_error_codes_cover_what_the_error_middleware_can_answer() -> None:
    documented = set(
        SPEC["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    )
    contract_codes = {
        "invalid_json",
        "unauthorized",
        "forbidden",
        "not_found",
        "conflict",
        "too_large",
        "validation_error",
        "rate_limited",
        "internal",
    }
    assert contract_codes | set(HTTP_ERROR_CODES.values()) <= documented


def test_requests_with_a_body_document_bad_json_and_validation_errors() -> None:
    for method, path, operation in _operations():
        if "requestBody" in operation:
            assert {"400", "413", "422"} <= set(operation["responses"]), (method, path)


@pytest.mark.parametrize("path", POLLS)
def test_polls_document_etag_304_and_the_poll_interval(path: str) -> None:
    operation = SPEC["paths"][path]["get"]
    names = {p["name"] for p in _parameters(path, operation)}
    assert {"since", "If-None-Match"} <= names
    ok = operation["responses"]["200"]
    assert {"ETag", "X-Poll-Interval"} <= set(ok["headers"])
    not_modified = _resolve(operation["responses"]["304"])
    assert {"ETag", "X-Poll-Interval"} <= set(not_modified["headers"])
    assert "content" not in not_modified


def test_lists_take_the_cursor_parameters() -> None:
    page_schemas = {
        "WalkPage",
        "FeedPage",
        "FollowPage",
        "DogPage",
        "InvitationPage",
        "NotificationPage",
    }
    for method, path, operation in _operations():
        schema = operation["responses"].get("200", {}).get("content", {})
        refs = re.findall(r"#/components/schemas/(\w+)", str(schema))
        if page_schemas & set(refs):
            names = {p["name"] for p in _parameters(path, operation)}
            assert {"limit", "before"} <= names, (method, path)


def test_idempotent_creates_document_both_outcomes() -> None:
    for method, path in [
        ("post", "/users/{id}/follow"),
        ("post", "/walks/{id}/likes"),
        ("post", "/devices"),
    ]:
        assert {"200", "201"} <= set(SPEC["paths"][path][method]["responses"]), path


def test_times_and_ids_in_schemas_are_typed() -> None:
    """Every property named `*_at` is a date-time and every `id`/`*_id` a uuid."""
    for name, schema in SPEC["components"]["schemas"].items():
        for prop, spec in schema.get("properties", {}).items():
            spec = _resolve(spec)
            if prop.endswith("_at"):
                assert spec.get("format") == "date-time", (name, prop)
            if prop == "id" or (prop.endswith("_id") and "items" not in spec):
                assert spec.get("format") == "uuid", (name, prop)
