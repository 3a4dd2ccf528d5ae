"""The API's domains depend on each other one way, in the order below (read bottom-up: a package
may import only those listed before it); the two services share code only through `shared/`.

A later import against the order fails here, naming the module and the import, so the house
stays one whose rooms can be read from the bottom floor up.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API = ROOT / "services" / "api"

# Each entry is one floor; names on one floor do not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("web", "visibility", "migrate"),
    ("filtering",),
    ("consents",),
    ("notifications",),
    ("email",),
    ("rankings",),
    ("together",),
    ("walks",),
    ("social",),
    ("accounts",),
    ("location_rights",),
    ("moderation",),
    ("export",),
    ("pages",),
    ("push_worker", "staff"),
    ("routes",),
    ("app",),
    ("__main__",),
)
FLOOR = {name: floor for floor, names in enumerate(LAYERS) for name in names}


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def _part(module: str, service: str) -> str | None:
    """`services.api.walks.queries` → `walks` (for service `api`); None outside the service."""
    parts = module.split(".")
    if parts[:2] != ["services", service] or len(parts) < 3:
        return None
    return parts[2]


def _package_of(path: Path) -> str:
    first = path.relative_to(API).parts[0]
    return first.removesuffix(".py")


def test_every_api_package_has_a_floor() -> None:
    packages = {
        _package_of(path)
        for path in API.rglob("*.py")
        if path.relative_to(API).parts[0] != "__init__.py"
    }
    unplaced = sorted(packages - FLOOR.keys())
    assert not unplaced, f"add these to LAYERS in {Path(__file__).name}: {unplaced}"


def test_api_domains_import_only_the_floors_below_them() -> None:
    wrong = []
    for path in sorted(API.rglob("*.py")):
        if path.name == "__init__.py" and path.parent == API:
            continue
        importer = _package_of(path)
        for line, module in _imports(path):
            imported = _part(module, "api")
            if imported is None or imported == importer or imported not in FLOOR:
                continue
            if FLOOR[imported] >= FLOOR.get(importer, len(LAYERS)):
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "imports against the domains' order:\n" + "\n".join(wrong)


def test_the_services_share_code_only_through_shared() -> None:
    crossing = []
    for service, other in (("api", "realtime"), ("realtime", "api")):
        for path in sorted((ROOT / "services" / service).rglob("*.py")):
            crossing += [
                f"{path.relative_to(ROOT)}:{line} imports {module}"
                for line, module in _imports(path)
                if _part(module, other) is not None or module == f"services.{other}"
            ]
    for path in sorted((ROOT / "shared").rglob("*.py")):
        crossing += [
            f"{path.relative_to(ROOT)}:{line} imports {module}"
            for line, module in _imports(path)
            if module.startswith("services")
        ]
    assert not crossing, "\n".join(crossing)
