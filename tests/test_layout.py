"""Where the API's HTTP handlers live (issue 19): every function registered as a route is in a
module named `<what it serves>_handlers.py`, and every such module serves routes; what other
modules import (queries, rules) lives in plainly named modules beside it. So a URL leads from
services/api/routes.py to one file, and a file's name says whether it answers requests.

The route table is read from `create_app(...)` without starting the app, so no store is needed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from aiohttp import web

from services.api import routes
from services.api.app import create_app
from shared.health import healthz
from tests.support import make_settings

ROOT = Path(__file__).resolve().parent.parent
API = ROOT / "services" / "api"
ROUTES = API / "routes.py"
RULE = "an HTTP handler lives in a module named <what it serves>_handlers.py"
# Handlers that are not functions of services.api: the health check both services share.
SHARED_HANDLERS = frozenset({healthz})


def _registered() -> Iterator[tuple[str, object]]:
    """(method and path, handler) of every route the API serves but its static files."""
    settings = make_settings("postgresql://unused@127.0.0.1:1/unused", "redis://127.0.0.1:1/0")
    for route in create_app(settings).router.routes():
        if isinstance(route.resource, web.StaticResource):
            continue  # aiohttp serves the files itself: no function of ours
        name = route.resource.canonical if route.resource is not None else "?"
        yield f"{route.method} {name}", route.handler


def _module(handler: object) -> str:
    return str(getattr(handler, "__module__", ""))


def _handler_modules() -> set[str]:
    return {
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in API.rglob("*_handlers.py")
    }


def test_every_registered_handler_lives_in_a_handlers_module() -> None:
    wrong = sorted(
        f"{route}: {_module(handler)}.{getattr(handler, '__name__', '?')}"
        for route, handler in _registered()
        if handler not in SHARED_HANDLERS
        and not (
            _module(handler).startswith("services.api.") and _module(handler).endswith("_handlers")
        )
    )
    assert not wrong, f"{RULE}; these are not:\n" + "\n".join(wrong)


def test_every_handlers_module_serves_a_route() -> None:
    serving = {_module(handler) for _, handler in _registered()}
    idle = sorted(_handler_modules() - serving)
    assert not idle, (
        f"{RULE}, and only handlers do: these serve no route; move what they hold to a plainly "
        "named module (or register their handlers in services/api/routes.py):\n" + "\n".join(idle)
    )


def test_the_route_tables_comments_name_the_module_below_them() -> None:
    """Each `# <package>/<module>.py` comment in routes.py heads the routes of that module."""
    wrong = []
    named = None
    for number, line in enumerate(ROUTES.read_text().splitlines(), 1):
        if comment := re.match(r"\s*# (\w+/\w+)\.py\b", line):
            named = "services.api." + comment.group(1).replace("/", ".")
            continue
        for alias in re.findall(r"\b(\w+_handlers)\.\w+", line):
            module = getattr(routes, alias).__name__
            if module != named:
                wrong.append(f"routes.py:{number}: a handler of {module} under the comment {named}")
    assert not wrong, "\n".join(wrong)
