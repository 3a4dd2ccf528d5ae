"""docs/openapi.yaml describes exactly the routes the API serves, and is valid OpenAPI 3.1.

The route table is read from `create_app(...)` without starting the app, so no store is needed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import re
import uuid
import zipfile
from pathlib import Path
from typing import Any, get_args
from urllib.parse import quote

import asyncpg
import pytest
import yaml
from aiohttp import web
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import OpenAPIV31SpecValidator

from services.api.app import create_app
from services.api.notifications.notify import NotificationType
from services.api.notifications.push_settings import PushSettings
from services.api.web.authentication import PUBLIC_PATHS
from shared.errors import _CODES as HTTP_ERROR_CODES
from shared.protocol_errors import ContractAppRunner
from shared.request_id import REQUEST_ID_HEADER
from shared.settings import Settings
from tests.email.conftest import token_of
from tests.push.conftest import eventually
from tests.spec_refs import resolve
from tests.support import CONSENTS, WEB_PAGES, Api, User, make_settings

SPEC_PATH = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}
POLLS = ("/feed", "/walks/{id}/interactions")
REQUEST_ID_REF = {"$ref": "#/components/headers/XRequestId"}
# Query parameters whose empty value (`?limit=`) is taken as absent (web/pagination.py).
EMPTY_IS_ABSENT = {"limit", "before", "since"}
# The web pages of CONTRACT section 7 (HTML and the files they load) are for browsers, not part
# of the API a client is generated from: tests/api/moderation/test_console_browser.py holds them.
CONSOLE_PAGES = frozenset({"/admin/", "/admin/console.js", "/admin/console.css"})


def _app_routes() -> set[tuple[str, str]]:
    # Never started, so the URLs only have to parse.
    settings = make_settings("postgresql://unused@127.0.0.1:1/unused", "redis://127.0.0.1:1/0")
    app = create_app(settings)
    return {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method not in IGNORED_METHODS
        and route.resource is not None
        and route.resource.canonical not in CONSOLE_PAGES
        and not route.resource.canonical.startswith(WEB_PAGES)
    }


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in SPEC["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    return resolve(SPEC, node)


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
        if path.startswith("/admin/"):  # the console: the staff session, or its sign-in page
            staff = operation.get("security") == [{"staffSession": []}]
            signing_in = (method, path) == ("POST", "/admin/api/session")
            assert staff == (path.startswith("/admin/api/") and not signing_in), (method, path)
            assert public or staff, (method, path)
            continue
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


def test_every_operation_documents_the_400_of_a_request_that_cannot_be_parsed() -> None:
    """Any request can be one the server cannot parse (shared/protocol_errors.py): a client's
    error type must include it, in the Error shape, whatever the operation."""
    bad_request = {"$ref": "#/components/responses/BadRequest"}
    invalid_json = {"$ref": "#/components/responses/InvalidJson"}
    for method, path, operation in _operations():
        documented = operation["responses"].get("400")
        expected = invalid_json if "requestBody" in operation else bad_request
        assert documented == expected, (method, path)
    for name in ("BadRequest", "InvalidJson"):
        assert "bad_request" in SPEC["components"]["responses"][name]["description"], name


def test_every_answer_documents_its_request_id() -> None:
    header = SPEC["components"]["headers"]["XRequestId"]
    assert header["required"] is True and header["schema"]["maxLength"] == 128
    for method, path, operation in _operations():
        for status, response in operation["responses"].items():
            headers = _resolve(response).get("headers", {})
            assert headers.get(REQUEST_ID_HEADER) == REQUEST_ID_REF, (method, path, status)


def test_a_query_parameter_whose_empty_value_is_absent_says_so() -> None:
    for method, path, operation in _operations():
        for param in _parameters(path, operation):
            if param["in"] == "query":
                empty_is_absent = param["name"] in EMPTY_IS_ABSENT
                assert param.get("allowEmptyValue", False) == empty_is_absent, (method, path)


def _schemas_under(node: Any, seen: set[str]) -> list[dict[str, Any]]:
    """Every schema object reachable from `node`, following `$ref`s once each."""
    found: list[dict[str, Any]] = []
    if isinstance(node, list):
        for item in node:
            found += _schemas_under(item, seen)
    elif isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref not in seen:
                seen.add(ref)
                found += _schemas_under(_resolve(node), seen)
            return found
        found.append(node)
        for value in node.values():
            found += _schemas_under(value, seen)
    return found


def _flattened(schema: dict[str, Any]) -> dict[str, Any]:
    """An object schema with its `allOf` parts merged: required and properties."""
    schema = _resolve(schema)
    required = set(schema.get("required", []))
    properties = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        merged = _flattened(part)
        required |= set(merged["required"])
        properties.update(merged["properties"])
    return {"required": required, "properties": properties}


def _extends(schema: dict[str, Any], name: str) -> bool:
    """Whether `schema` is built on the component `name` through `allOf`, at any depth."""
    ref = f"#/components/schemas/{name}"
    return any(
        part.get("$ref") == ref or _extends(_resolve(part), name)
        for part in schema.get("allOf", [])
    )


def _response_schemas() -> list[dict[str, Any]]:
    seen: set[str] = set()
    roots = [
        _resolve(response).get("content", {}).get("application/json", {}).get("schema", {})
        for _, _, operation in _operations()
        for response in operation["responses"].values()
    ]
    return _schemas_under(roots, seen)


def test_every_union_of_objects_in_an_answer_has_a_discriminator() -> None:
    """A generated client tells the variants apart by one property (`status`, `kind`, `type`)
    that each variant requires with its own constant value: no cast and no `in` check."""
    unions = 0
    for schema in _response_schemas():
        variants = [v for v in schema.get("oneOf", []) if v != {"type": "null"}]
        objects = [v for v in variants if "$ref" in v or _resolve(v).get("type") == "object"]
        if len(objects) < 2:
            continue
        unions += 1
        discriminator = schema.get("discriminator")
        assert discriminator, f"a oneOf of {[v.get('$ref') for v in objects]} has no discriminator"
        name, mapping = discriminator["propertyName"], discriminator["mapping"]
        assert sorted(mapping.values()) == sorted(v["$ref"] for v in objects)
        for value, ref in mapping.items():
            variant = _flattened({"$ref": ref})
            assert name in variant["required"], (ref, name)
            assert _resolve(variant["properties"][name]).get("const") == value, (ref, name)
    assert unions >= 3  # the notifications, the follow outcome and the feed


def test_the_success_answers_of_one_operation_share_one_schema() -> None:
    """openapi-fetch types `data` as the union of every 2xx body, which a status code cannot
    narrow: each operation's success answers say one type (a discriminated union if need be)."""
    for method, path, operation in _operations():
        schemas = {
            str(response["content"])
            for status, response in operation["responses"].items()
            if status.startswith("2") and "content" in response
        }
        assert len(schemas) <= 1, (method, path, schemas)


def test_each_page_declares_its_own_required_items() -> None:
    schemas = SPEC["components"]["schemas"]
    assert "items" not in schemas["Page"]["properties"], "a shared `items` types every page's"
    assert "items" not in schemas["Page"]["required"]
    pages = [name for name, schema in schemas.items() if _extends(schema, "Page")]
    assert {"WalkPage", "FeedPage", "NotificationPage", "BlockPage"} <= set(pages)
    for name in pages:
        page = _flattened(schemas[name])
        assert "items" in page["required"], name
        items = page["properties"]["items"]
        assert items["type"] == "array" and "$ref" in items["items"], name


def test_push_settings_list_each_type_as_a_property() -> None:
    """openapi-typescript drops `propertyNames`: a map keyed by type would type as any string."""
    pushed = set(PushSettings().as_json()["push"])
    schemas = SPEC["components"]["schemas"]
    answer = schemas["NotificationSettings"]["properties"]["push"]
    patch = schemas["NotificationSettingsPatch"]["properties"]["push"]
    assert set(answer["properties"]) == set(answer["required"]) == pushed
    assert set(patch["properties"]) == pushed and "required" not in patch
    for push in (answer, patch):
        assert push["additionalProperties"] is False
        assert "propertyNames" not in push
        assert all(p == {"type": "boolean"} for p in push["properties"].values())


async def test_a_request_that_cannot_be_parsed_answers_as_documented(settings: Settings) -> None:
    runner = ContractAppRunner(create_app(settings))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", runner.addresses[0][1])
        writer.write(b"GET /me?pad=" + b"x" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        raw = await reader.read()
        writer.close()
    finally:
        await runner.cleanup()
    head, _, text = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    assert status_line.split()[1] == "400"
    response = SPEC["components"]["responses"]["BadRequest"]
    for header in response["headers"]:
        assert headers.get(header.lower()), header
    schema = {**response["content"]["application/json"]["schema"], "components": SPEC["components"]}
    body = json.loads(text)
    assert list(OAS31Validator(schema).iter_errors(body)) == []
    assert body["error"]["code"] == "bad_request"


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
        "BlockPage",
        "FollowRequestPage",
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
        ("post", "/users/{id}/block"),
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


def test_each_notification_type_has_its_own_documented_data() -> None:
    schemas = SPEC["components"]["schemas"]
    mapping = schemas["Notification"]["discriminator"]["mapping"]
    assert (
        set(mapping) == set(get_args(NotificationType)) == set(schemas["NotificationType"]["enum"])
    )
    for type_name, ref in mapping.items():
        variant = _resolve({"$ref": ref})["allOf"][1]
        assert variant["properties"]["type"]["const"] == type_name
        assert variant["properties"]["data"]["required"], type_name


class Conformance:
    """Calls the API and checks each answer against the operation that documents it."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.exercised: set[tuple[str, str]] = set()

    async def call(
        self, method: str, template: str, status: int, user: User | None = None, **kwargs: Any
    ) -> Any:
        params = kwargs.pop("path", {})
        url = template.format(**params)
        headers = dict(kwargs.pop("headers", {}))
        if user is not None:
            headers.update(user.headers)
        resp = await self.api.client.request(method, url, headers=headers, **kwargs)
        raw = await resp.read()
        text = raw.decode(errors="replace")
        assert resp.status == status, f"{method} {url}: {resp.status} {text}"
        operation = SPEC["paths"][template][method.lower()]
        documented = operation["responses"].get(str(status))
        assert documented is not None, f"{method} {template} does not document {status}"
        response = _resolve(documented)
        for header in response.get("headers", {}):
            if header in {"ETag", "X-Poll-Interval", "WWW-Authenticate", REQUEST_ID_HEADER}:
                assert header in resp.headers, f"{method} {template} {status} lacks {header}"
        self.exercised.add((method, template))
        if "content" not in response:
            assert text == "", f"{method} {template} {status} has an undocumented body"
            return None
        (media_type,) = response["content"]
        if media_type != "application/json":  # a file (the export's ZIP): its type and bytes
            assert resp.content_type == media_type, f"{method} {template}: {resp.content_type}"
            return raw
        body = json.loads(text)
        schema = {
            **response["content"]["application/json"]["schema"],
            "components": SPEC["components"],
        }
        validator = OAS31Validator(schema, format_checker=OAS31Validator.FORMAT_CHECKER)
        problems = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
        assert problems == [], f"{method} {template} {status}: {problems}"
        return body


async def test_every_documented_operation_answers_as_documented(
    api: Api, db: asyncpg.Connection, database_url: str
) -> None:
    check = Conformance(api)
    await check.call("GET", "/healthz", 200)
    await check.call("GET", "/legal", 200)

    email, password = "spec-owner@example.com", "correct horse"
    signup = {"email": email, "password": password, "nickname": "owner", "consents": CONSENTS}
    tokens = await check.call("POST", "/auth/signup", 201, json=signup)
    login = await check.call(
        "POST", "/auth/login", 200, json={"email": email, "password": password}
    )
    await check.call("POST", "/auth/refresh", 200, json={"refresh_token": login["refresh_token"]})
    await check.call("POST", "/auth/login", 401, json={"email": email, "password": "wrong one"})
    owner = User(
        tokens["user"]["id"], tokens["access_token"], tokens["refresh_token"], "owner", email
    )
    friend = await api.signup("friend")
    owner_id, friend_id = {"id": owner.id}, {"id": friend.id}

    await check.call("GET", "/me", 200, owner)
    await check.call("GET", "/me", 401)
    await check.call("POST", "/me/email-verification", 202, owner)
    await check.call("POST", "/me/email-verification", 401)
    verify = await token_of(db, "verify", email)
    await check.call("POST", "/auth/verify-email", 200, json={"token": verify})
    await check.call("POST", "/auth/verify-email", 401, json={"token": verify})
    await check.call("POST", "/auth/verify-email", 422, json={})
    await check.call(
        "PATCH", "/me", 200, owner, json={"profile_image_url": "https://example.com/a.png"}
    )
    await check.call(
        "PATCH", "/me", 400, owner, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    await check.call("GET", "/users/{id}", 200, friend, path=owner_id)
    await check.call("GET", "/users/{id}", 404, friend, path={"id": str(uuid.uuid4())})
    await check.call("POST", "/users/{id}/follow", 201, friend, path=owner_id)
    await check.call("POST", "/users/{id}/follow", 200, friend, path=owner_id)
    await check.call("POST", "/users/{id}/follow", 422, owner, path=owner_id)
    await check.call("GET", "/users/{id}/followers", 200, friend, path=owner_id)
    await check.call("GET", "/users/{id}/following", 200, friend, path=friend_id)
    await check.call(
        "GET", "/users/{id}/following", 422, friend, path=friend_id, params={"limit": "0"}
    )
    await check.call("GET", "/users", 200, owner, params={"query": "FRI"})
    await check.call("GET", "/users", 422, owner, params={"query": " "})

    dog = await check.call(
        "POST", "/me/dogs", 201, owner, json={"name": "보리", "birth_date": "2020-05-01"}
    )
    spare = await check.call("POST", "/me/dogs", 201, owner, json={"name": "콩"})
    await check.call("GET", "/users/{id}/dogs", 200, friend, path=owner_id)
    await check.call("DELETE", "/me/dogs/{id}", 204, owner, path={"id": spare["id"]})
    await check.call("DELETE", "/me/dogs/{id}", 404, owner, path={"id": spare["id"]})

    zone_in = {"lat": 37.5, "lng": 127.0, "radius_m": 300}
    zone = await check.call("POST", "/me/privacy-zones", 201, owner, json=zone_in)
    await check.call("POST", "/me/privacy-zones", 422, owner, json={**zone_in, "radius_m": 50})
    await check.call("GET", "/me/privacy-zones", 200, owner)
    await check.call("DELETE", "/me/privacy-zones/{id}", 404, friend, path={"id": zone["id"]})
    await check.call("DELETE", "/me/privacy-zones/{id}", 204, owner, path={"id": zone["id"]})

    await check.call("GET", "/me/notification-settings", 200, owner)
    quiet = {"quiet_hours": {"start": "22:00", "end": "07:00"}, "push": {"walk_liked": False}}
    await check.call("PATCH", "/me/notification-settings", 200, owner, json=quiet)
    await check.call("PATCH", "/me/notification-settings", 422, owner, json={"push": {"x": True}})
    await check.call("PATCH", "/me/notification-settings", 200, owner, json={"quiet_hours": None})

    ended = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)  # this week: ranked, badged
    started = ended - dt.timedelta(minutes=40)
    walk_in = {
        "started_at": started.isoformat(),
        "ended_at": ended.isoformat(),
        "distance_m": 2500.5,
        "dog_ids": [dog["id"]],
        "memo": "아침 산책",
        "path": [
            {"lat": 37.5, "lng": 127.0, "t": started.isoformat()},
            {"lat": 37.51, "lng": 127.0, "t": 1_700_000_000.5},
        ],
    }
    feed_head = await check.call("GET", "/feed", 200, friend)
    walk = await check.call("POST", "/walks", 201, owner, json=walk_in)
    await check.call("POST", "/walks", 422, owner, json={})
    await check.call("POST", "/walks", 413, owner, data=b"[" + b" " * (2 << 20) + b"]")
    walk_id = {"id": walk["id"]}
    await check.call("GET", "/walks/{id}", 200, friend, path=walk_id)
    await check.call("GET", "/users/{id}/walks", 200, friend, path=owner_id)
    poll = await check.call(
        "GET", "/feed", 200, friend, params={"since": feed_head["latest_cursor"]}
    )
    assert poll["new_count"] == 1
    await check.call("GET", "/feed", 422, friend, params={"before": "not a cursor"})

    await check.call("POST", "/walks/{id}/likes", 201, friend, path=walk_id)
    await check.call("POST", "/walks/{id}/likes", 200, friend, path=walk_id)
    await check.call("DELETE", "/walks/{id}/likes", 200, friend, path=walk_id)
    comment = await check.call(
        "POST", "/walks/{id}/comments", 201, friend, path=walk_id, json={"body": "멋져요"}
    )
    await check.call("POST", "/walks/{id}/comments", 422, friend, path=walk_id, json={"body": ""})
    comment_path = {"id": walk["id"], "comment_id": comment["id"]}
    resp = await api.client.get(f"/walks/{walk['id']}/interactions", headers=friend.headers)
    await check.call("GET", "/walks/{id}/interactions", 200, friend, path=walk_id)
    await check.call(
        "GET",
        "/walks/{id}/interactions",
        304,
        friend,
        path=walk_id,
        headers={"If-None-Match": resp.headers["ETag"]},
    )
    await check.call("DELETE", "/walks/{id}/comments/{comment_id}", 204, owner, path=comment_path)
    await check.call("DELETE", "/walks/{id}", 403, friend, path=walk_id)

    invitation_in = {"invitee_id": friend.id, "message": "같이 걸어요"}
    invitation = await check.call("POST", "/invitations", 201, owner, json=invitation_in)
    await check.call("POST", "/invitations", 409, owner, json=invitation_in)
    invitation_id = {"id": invitation["id"]}
    await check.call(
        "GET", "/invitations", 200, friend, params={"box": "received", "status": "pending"}
    )
    await check.call("GET", "/invitations/{id}", 200, friend, path=invitation_id)
    await check.call("POST", "/invitations/{id}/accept", 403, owner, path=invitation_id)
    await check.call("POST", "/invitations/{id}/accept", 200, friend, path=invitation_id)
    await check.call("POST", "/invitations/{id}/decline", 409, friend, path=invitation_id)
    ticket_in = {"invitation_id": invitation["id"]}
    await check.call("POST", "/realtime/tickets", 201, friend, json=ticket_in)
    await check.call(
        "POST", "/realtime/tickets", 404, owner, json={"invitation_id": str(uuid.uuid4())}
    )
    await check.call("POST", "/realtime/tickets", 422, owner, json={})
    await check.call("POST", "/invitations/{id}/finish", 200, owner, path=invitation_id)
    await check.call("POST", "/realtime/tickets", 409, owner, json=ticket_in)
    await check.call("POST", "/invitations/{id}/cancel", 409, owner, path=invitation_id)
    declined = await check.call("POST", "/invitations", 201, owner, json=invitation_in)
    await check.call("POST", "/invitations/{id}/decline", 200, friend, path={"id": declined["id"]})
    cancelled = await check.call("POST", "/invitations", 201, owner, json=invitation_in)
    await check.call("POST", "/invitations/{id}/cancel", 200, owner, path={"id": cancelled["id"]})

    consents = await check.call("GET", "/me/consents", 200, owner)
    version = consents["current"]["terms"]
    await check.call("POST", "/me/consents", 200, owner, json={"marketing": version})
    await check.call("POST", "/me/consents", 422, owner, json={"terms": "1999-01-01"})
    await check.call("DELETE", "/me/consents/marketing", 204, owner)
    await check.call("POST", "/me/location-pause", 200, owner, json={"minutes": 30})
    await check.call("POST", "/me/location-pause", 200, owner)
    await check.call("POST", "/me/location-pause", 422, owner, json={"minutes": 0})
    await check.call("DELETE", "/me/location-pause", 204, owner)
    await check.call("DELETE", "/me/consents/location_terms", 204, owner)
    await check.call("POST", "/walks", 403, owner, json=walk_in)
    await check.call("POST", "/invitations", 403, owner, json=invitation_in)
    location = {"location_terms": CONSENTS["location_terms"]}
    await check.call("POST", "/me/consents", 200, owner, json=location)

    # The gateway writes the ledger (tests/realtime/test_location_ledger.py); here, one entry
    # naming the friend and one whose partner deleted their account.
    await db.execute(
        "INSERT INTO location_access_log"
        " (user_id, invitation_id, direction, partner_id, first_at, last_at, count)"
        " VALUES ($1, $2, 'provided', $3, now(), now(), 3),"
        " ($1, $4, 'received', NULL, now(), now(), 1)",
        uuid.UUID(owner.id),
        uuid.UUID(invitation["id"]),
        uuid.UUID(friend.id),
        uuid.UUID(declined["id"]),
    )
    ledger = await check.call("GET", "/me/location-log", 200, owner, params={"limit": "1"})
    await check.call(
        "GET", "/me/location-log", 200, owner, params={"before": ledger["next_cursor"]}
    )
    await check.call("GET", "/me/location-log", 422, owner, params={"limit": "0"})

    archive = await check.call("GET", "/me/export", 200, owner)
    assert zipfile.is_zipfile(io.BytesIO(archive))
    await check.call("GET", "/me/export", 401)

    notifications = await check.call("GET", "/notifications", 200, owner)
    assert notifications["items"], "the likes, comment and follow above notify the owner"
    await check.call("POST", "/notifications/read", 200, owner, json={"all": True})
    await check.call("POST", "/notifications/read", 422, owner, json={})

    device = {"token": "fcm-token/with:odd-chars", "platform": "android"}
    await check.call("POST", "/devices", 201, owner, json=device)
    await check.call("POST", "/devices", 200, owner, json=device)
    await check.call(
        "DELETE", "/devices/{token}", 204, owner, path={"token": quote(device["token"], safe="")}
    )

    ranking = await check.call("GET", "/rankings/weekly", 200, owner, params={"scope": "following"})
    assert ranking["items"] and ranking["me"], "the walk above ranks its owner this week"
    badges = await check.call("GET", "/users/{id}/badges", 200, friend, path=owner_id)
    assert badges, "the walk above earns first_walk"
    await check.call("DELETE", "/walks/{id}", 204, owner, path=walk_id)
    await check.call("GET", "/walks/{id}", 404, owner, path=walk_id)
    await check.call("DELETE", "/users/{id}/follow", 204, friend, path=owner_id)

    await check.call("POST", "/users/{id}/block", 201, owner, path=friend_id)
    await check.call("POST", "/users/{id}/block", 200, owner, path=friend_id)
    await check.call("POST", "/users/{id}/block", 422, owner, path=owner_id)
    await check.call("GET", "/me/blocks", 200, owner)
    await check.call("GET", "/users/{id}", 404, friend, path=owner_id)
    await check.call("DELETE", "/users/{id}/block", 204, owner, path=friend_id)
    await check.call("POST", "/users/{id}/block", 201, owner, path=friend_id)
    await check.call("POST", "/users/{id}/follow", 409, owner, path=friend_id)
    await check.call("DELETE", "/users/{id}/block", 204, owner, path=friend_id)

    await check.call("PATCH", "/me", 200, owner, json={"approve_followers": True})
    requested = await check.call("POST", "/users/{id}/follow", 202, friend, path=owner_id)
    assert requested == {"status": "requested"}
    await check.call("GET", "/me/follow-requests", 200, owner)
    friend_request = {"user_id": friend.id}
    await check.call(
        "POST", "/me/follow-requests/{user_id}/approve", 200, owner, path=friend_request
    )
    await check.call(
        "POST", "/me/follow-requests/{user_id}/approve", 404, owner, path=friend_request
    )
    await check.call("DELETE", "/users/{id}/follow", 204, friend, path=owner_id)
    await check.call("POST", "/users/{id}/follow", 202, friend, path=owner_id)
    await check.call(
        "POST", "/me/follow-requests/{user_id}/decline", 204, owner, path=friend_request
    )
    await check.call(
        "POST", "/me/follow-requests/{user_id}/decline", 404, owner, path=friend_request
    )

    await _exercise_moderation(check, api, database_url, owner, friend)

    # Sessions last: these end the owner's.
    await check.call(
        "POST",
        "/me/password",
        403,
        owner,
        json={"current_password": "not it", "new_password": "battery staple"},
    )
    changed = await check.call(
        "POST",
        "/me/password",
        200,
        owner,
        json={"current_password": password, "new_password": "battery staple"},
    )
    await check.call("POST", "/auth/logout", 204, json={"refresh_token": changed["refresh_token"]})
    await check.call("POST", "/auth/logout", 422, json={})
    await check.call("POST", "/auth/logout-all", 204, friend)
    await check.call("POST", "/auth/logout-all", 401, friend)

    leaver, stayer = await api.signup("leaver"), await api.signup("stayer")
    invitation = await check.call(
        "POST", "/invitations", 201, leaver, json={"invitee_id": stayer.id}
    )
    await check.call("DELETE", "/me", 403, leaver, json={"password": "not it"})
    await check.call("DELETE", "/me", 422, leaver, json={})
    await check.call("DELETE", "/me", 204, leaver, json={"password": "correct horse"})
    kept = await check.call("GET", "/invitations/{id}", 200, stayer, path={"id": invitation["id"]})
    assert kept["inviter"] is None

    # The emailed links: a reset (a new session), then a deletion (the account erased).
    linker = await api.signup("linker")
    await check.call("POST", "/auth/password-reset", 202, json={"email": linker.email})
    await check.call("POST", "/auth/password-reset", 202, json={"email": "none@example.com"})
    await check.call("POST", "/auth/password-reset", 422, json={"email": "not an email"})
    reset = await eventually(lambda: _newest_token(db, "reset"))
    confirm = {"token": reset, "new_password": "battery staple"}
    await check.call("POST", "/auth/password-reset/confirm", 200, json=confirm)
    await check.call("POST", "/auth/password-reset/confirm", 401, json=confirm)
    await check.call("POST", "/auth/password-reset/confirm", 422, json={"token": reset})
    await check.call("POST", "/auth/delete-request", 202, json={"email": linker.email})
    await check.call("POST", "/auth/delete-request", 422, json={})
    deletion = await eventually(lambda: _newest_token(db, "delete"))
    await check.call("POST", "/auth/delete-confirm", 204, json={"token": deletion})
    await check.call("POST", "/auth/delete-confirm", 401, json={"token": deletion})
    await check.call("POST", "/auth/delete-confirm", 400, data=b"{", headers=JSON)

    unexercised = {(method, path) for method, path, _ in _operations()} - check.exercised
    assert not unexercised, "documented but never checked here:\n" + _listing(unexercised)


async def _exercise_moderation(
    check: Conformance, api: Api, database_url: str, owner: User, friend: User
) -> None:
    """Reports, and the console's API with a staff session (tests/api/moderation)."""
    from tests.api.moderation.staff_support import grant

    walk = await api.call(
        "POST",
        "/walks",
        friend,
        expect=201,
        json={
            "started_at": "2026-11-20T07:00:00+09:00",
            "ended_at": "2026-11-20T07:30:00+09:00",
            "distance_m": 1000,
            "memo": "report me",
        },
    )
    target = {"type": "walk", "id": walk["id"]}
    report = await check.call(
        "POST", "/reports", 201, owner, json={"target": target, "reason": "spam"}
    )
    await check.call("POST", "/reports", 200, owner, json={"target": target, "reason": "spam"})
    await check.call("POST", "/reports", 422, owner, json={"target": target, "reason": "x"})
    await check.call(
        "POST",
        "/reports",
        404,
        owner,
        json={"target": {"type": "user", "id": str(uuid.uuid4())}, "reason": "spam"},
    )
    await check.call("GET", "/me/reports", 200, owner)

    admin = await grant(database_url, friend, "admin")
    await check.call("GET", "/admin/api/reports", 401)
    await check.call(
        "POST",
        "/admin/api/session",
        401,
        json={"email": friend.email, "password": "wrong one", "totp": admin.code()},
    )
    await check.call("POST", "/admin/api/session", 422, json={"email": friend.email})
    session = await check.call(
        "POST",
        "/admin/api/session",
        200,
        json={"email": friend.email, "password": "correct horse", "totp": admin.code()},
    )
    csrf = {"X-CSRF-Token": session["csrf_token"]}
    await check.call("GET", "/admin/api/session", 200)
    queue = await check.call("GET", "/admin/api/reports", 200, params={"status": "open"})
    assert queue["items"]
    await check.call("GET", "/admin/api/reports", 422, params={"status": "nope"})
    resolve = "/admin/api/reports/{id}/resolve"
    report_id = {"id": report["id"]}
    await check.call("POST", resolve, 403, path=report_id, json={"action": "hide"})
    await check.call("POST", resolve, 422, path=report_id, headers=csrf, json={"action": "x"})
    await check.call(
        "POST",
        resolve,
        404,
        path={"id": str(uuid.uuid4())},
        headers=csrf,
        json={"action": "dismiss"},
    )
    await check.call("POST", resolve, 200, path=report_id, headers=csrf, json={"action": "hide"})
    await check.call("POST", resolve, 409, path=report_id, headers=csrf, json={"action": "hide"})
    restore = "/admin/api/content/{type}/{id}/restore"
    await check.call("POST", restore, 200, path={"type": "walk", "id": walk["id"]}, headers=csrf)
    await check.call(
        "POST", restore, 404, path={"type": "walk", "id": str(uuid.uuid4())}, headers=csrf
    )
    await check.call("GET", "/admin/api/users/{id}", 200, path={"id": friend.id})
    await check.call("GET", "/admin/api/users/{id}", 404, path={"id": str(uuid.uuid4())})
    unsuspend = "/admin/api/users/{id}/unsuspend"
    await check.call("POST", unsuspend, 200, path={"id": owner.id}, headers=csrf, json={})
    await check.call("GET", "/admin/api/audit", 200, params={"limit": "2"})
    await check.call("DELETE", "/admin/api/session", 204, headers=csrf)
    moderator = await grant(database_url, owner, "moderator")
    await check.call(
        "POST",
        "/admin/api/session",
        200,
        json={"email": owner.email, "password": "correct horse", "totp": moderator.code()},
    )
    await check.call("GET", "/admin/api/audit", 403)
    api.client.session.cookie_jar.clear()


JSON = {"Content-Type": "application/json"}


async def _newest_token(db: asyncpg.Connection, kind: str) -> str | None:
    """The token of the newest email of this kind in the outbox, once there is one."""
    if not await db.fetchval("SELECT count(*) FROM email_outbox WHERE kind = $1", kind):
        return None
    return await token_of(db, kind)
