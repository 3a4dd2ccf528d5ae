"""Every route naming a suspended person or their things answers 404 to everyone else, and no
list names them, by the same visibility rule as blocks (mirrors tests/api/test_blocked_routes.py,
reading the same route table, so a route added later is checked too); all of it returns when
the suspension is lifted."""

from __future__ import annotations

import asyncpg

from tests.api.test_blocked_routes import (
    BODY_NAMED,
    NOT_HIDDEN,
    blockers_things,
    fill,
    list_paths,
    route_table,
)
from tests.support import Api

# A participant may still end an invitation with a suspended person (a real suspension has
# cancelled it already: test_actions.py); this test suspends in the database alone.
STILL_SERVED = {
    ("POST", "/invitations/{id}/cancel"),
    ("POST", "/invitations/{id}/finish"),
    ("POST", "/invitations/{id}/accept"),
    ("POST", "/invitations/{id}/decline"),
}


async def test_others_get_404_from_every_route_naming_a_suspended_person(
    api: Api, db: asyncpg.Connection
) -> None:
    suspended, other = await api.signup("suspended"), await api.signup("other")
    things = await blockers_things(api, suspended, other)
    named = [(m, p) for m, p in route_table() if "{" in p or (m, p) in BODY_NAMED]
    checked = [(m, p) for m, p in named if (m, p) not in NOT_HIDDEN | STILL_SERVED]
    reads = [
        (m, fill(p, things))
        for m, p in checked
        if m == "GET" and not p.startswith("/me/") and fill(p, things) is not None
    ]
    for _, path in reads:
        await api.call("GET", str(path), other, expect=200)

    await db.execute(
        "UPDATE users SET suspended_until = now() + interval '1 day' WHERE id = $1", suspended.id
    )
    answers = {}
    for method, template in checked:
        path = fill(template, things)
        assert path is not None, template
        json_body = None
        if (method, template) in BODY_NAMED:
            json_body = {BODY_NAMED[(method, template)]: suspended.id}
        elif method in ("POST", "PATCH", "PUT"):
            json_body = {}
        resp = await api.client.request(method, path, headers=other.headers, json=json_body)
        answers[f"{method} {template}"] = resp.status
    assert {route: status for route, status in answers.items() if status != 404} == {}

    for path in list_paths(suspended):
        resp = await api.client.get(path, headers=other.headers)
        assert resp.status == 200, path
        assert suspended.id not in await resp.text(), path

    await db.execute("UPDATE users SET suspended_until = NULL WHERE id = $1", suspended.id)
    for _, path in reads:
        await api.call("GET", str(path), other, expect=200)
