"""docker-compose.yml, the Dockerfiles and .env.example, checked without a Docker engine.

The structure is parsed and asserted; the healthcheck commands that run inside the app images
(plain Python) are executed here against a real API and a real Redis.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import sys
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from pydantic import ValidationError

from services.api.app import create_app
from services.realtime.limits import GatewayLimits
from shared.settings import Settings
from tests.push.conftest import running_worker
from tests.support import make_settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]

APP_COMMANDS = {
    "migrate": "services.api.migrate",
    "api": "services.api",
    "push-worker": "services.api.push_worker",
    "realtime": "services.realtime",
}
LONG_RUNNING_APPS = ("api", "push-worker", "realtime")
CONTRACT_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "JWT_SECRET",
    "HOST",
    "API_PORT",
    "REALTIME_PORT",
    "FCM_PROJECT_ID",
    "FCM_CREDENTIALS_FILE",
    "FCM_BASE_URL",
)
PROBE_TIMEOUT_S = 30
METRICS_PORT_VALUES = {"9100", "9101", "9102"}


def _dockerfile(service: str) -> Path:
    build = SERVICES[service]["build"]
    return ROOT / build["context"] / build["dockerfile"]


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _env_example() -> dict[str, str]:
    """Every `NAME=value` line of .env.example, commented out (a default) or not."""
    found = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        match = re.fullmatch(r"#?\s*([A-Z][A-Z0-9_]*)=(.*)", line.strip())
        if match:
            found[match[1]] = match[2]
    return found


def _active_env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    pairs = (line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def _container_port(service: str) -> int:
    (mapping,) = SERVICES[service]["ports"]
    return int(str(mapping).rsplit(":", 1)[1])


async def _run_probe(service: str, env: dict[str, str]) -> int:
    """Run `service`'s healthcheck command here, as the container would; its exit status."""
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[0] == "CMD", test
    argv = [sys.executable if test[1] == "python" else test[1], *test[2:]]
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(proc.wait(), PROBE_TIMEOUT_S)


def test_compose_defines_the_stores_the_migration_and_the_three_processes() -> None:
    assert set(SERVICES) == {"postgres", "redis", "migrate", "api", "push-worker", "realtime"}
    assert SERVICES["postgres"]["image"].startswith("postgres:16")
    assert SERVICES["redis"]["image"].startswith("redis:7")


@pytest.mark.parametrize("service", sorted(APP_COMMANDS))
def test_app_service_runs_the_contract_module(service: str) -> None:
    module = APP_COMMANDS[service]
    assert SERVICES[service]["command"] == ["python", "-m", module]
    spec = importlib.util.find_spec(module)
    assert spec is not None, f"{module} does not exist"
    if spec.submodule_search_locations is not None:  # a package runs its __main__
        assert importlib.util.find_spec(f"{module}.__main__") is not None, (
            f"{module} has no __main__"
        )


def test_every_service_has_a_healthcheck_and_only_the_one_shot_disables_it() -> None:
    for name, service in SERVICES.items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        if name == "migrate":
            assert check == {"disable": True}
            assert service["restart"] == "no"
        else:
            assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
            assert check.get("retries", 0) >= 3, name


def test_every_dependency_waits_for_a_condition_that_can_be_met() -> None:
    for name, service in SERVICES.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert isinstance(rule, dict), f"{name} -> {dependency} has no condition"
            if dependency == "migrate":
                assert rule["condition"] == "service_completed_successfully", name
            else:
                assert rule["condition"] == "service_healthy", (name, dependency)
                assert not SERVICES[dependency]["healthcheck"].get("disable"), dependency


def test_processes_start_after_the_stores_are_healthy_and_migrated() -> None:
    assert set(SERVICES["migrate"]["depends_on"]) == {"postgres"}
    for name in LONG_RUNNING_APPS:
        assert set(SERVICES[name]["depends_on"]) == {"postgres", "redis", "migrate"}, name
        assert SERVICES[name]["restart"] == "unless-stopped", name


@pytest.mark.parametrize("service", sorted(APP_COMMANDS))
def test_app_environment_is_production_with_a_required_secret(service: str) -> None:
    env = SERVICES[service]["environment"]
    assert env["APP_ENV"] == "production"
    assert env["HOST"] == "0.0.0.0"
    # `${VAR:?message}`: compose refuses to start without it, so no default secret exists.
    assert env["JWT_SECRET"].startswith("${JWT_SECRET:?"), env["JWT_SECRET"]
    assert (
        env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
    )
    assert env["REDIS_URL"].startswith("redis://redis:6379/")
    assert (env["API_PORT"], env["REALTIME_PORT"]) == ("8000", "8001")
    assert SERVICES[service]["env_file"] == [{"path": ".env", "required": False}]


def test_push_worker_gets_the_fcm_settings_and_a_read_only_secrets_mount() -> None:
    worker = SERVICES["push-worker"]
    assert set(CONTRACT_VARIABLES) <= set(worker["environment"])
    assert worker["environment"]["FCM_BASE_URL"].endswith(":-https://fcm.googleapis.com}")
    assert any(v.endswith(":/run/secrets:ro") for v in worker["volumes"])


def test_published_ports_are_the_ones_the_containers_listen_on() -> None:
    assert _container_port("api") == int(SERVICES["api"]["environment"]["API_PORT"])
    assert _container_port("realtime") == int(SERVICES["realtime"]["environment"]["REALTIME_PORT"])


def test_push_worker_and_migration_run_from_the_api_image() -> None:
    api_build = SERVICES["api"]["build"]
    assert api_build == {"context": ".", "dockerfile": "services/api/Dockerfile"}
    for name in ("push-worker", "migrate"):
        assert SERVICES[name]["build"] == api_build, name
        assert SERVICES[name]["image"] == SERVICES["api"]["image"], name
    assert SERVICES["realtime"]["build"]["dockerfile"] == "services/realtime/Dockerfile"


@pytest.mark.parametrize(
    ("service", "module"), [("api", "services.api"), ("realtime", "services.realtime")]
)
def test_dockerfile_builds_a_slim_non_root_image_without_dev_extras(
    service: str, module: str
) -> None:
    dockerfile = _dockerfile(service)
    assert dockerfile.is_file(), dockerfile
    steps = _instructions(dockerfile)
    bases = [args.split()[0] for kind, args in steps if kind == "FROM"]
    assert bases and all(base == "python:3.11-slim" for base in bases), bases
    users = [args for kind, args in steps if kind == "USER"]
    assert users, "no USER: the image would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert ("STOPSIGNAL", "SIGTERM") in steps
    assert ("EXPOSE", str(_container_port(service))) in steps
    assert ("CMD", f'["python", "-m", "{module}"]') in steps
    runs = " ".join(args for kind, args in steps if kind == "RUN")
    assert "pip install" in runs and "[dev]" not in runs


def test_app_containers_stop_gracefully_before_they_are_killed() -> None:
    shutdown_s = Settings.model_fields["shutdown_timeout_s"].default
    # The gateway drains its sockets first, then waits for the last close handshakes.
    drain_s = Settings.model_fields["shutdown_drain_s"].default + GatewayLimits().close_timeout_s
    for name in LONG_RUNNING_APPS:
        grace = SERVICES[name]["stop_grace_period"]
        needed = shutdown_s + (drain_s if name == "realtime" else 0)
        assert grace.endswith("s") and int(grace[:-1]) > needed, (name, grace, needed)


def _http_app(service: str, settings: Settings) -> web.Application:
    """The app the service's container runs (imported late: each service is its own module)."""
    if service == "realtime":
        from services.realtime.app import create_app as create_realtime_app

        return create_realtime_app(settings)
    return create_app(settings)


HTTP_PROBES = [("api", "API_PORT"), ("realtime", "REALTIME_PORT")]


@pytest.mark.parametrize(("service", "port_variable"), HTTP_PROBES)
async def test_http_healthcheck_passes_while_healthz_answers_200(
    service: str, port_variable: str, settings: Settings, aiohttp_server: Any
) -> None:
    server = await aiohttp_server(_http_app(service, settings))
    assert await _run_probe(service, {port_variable: str(server.port)}) == 0


async def test_http_healthcheck_fails_while_healthz_answers_503(
    database_url: str, aiohttp_server: Any
) -> None:
    # The API starts without Redis and answers 503 (the gateway needs Redis to start at all).
    settings = make_settings(database_url, "redis://127.0.0.1:1/0")
    server = await aiohttp_server(create_app(settings))
    assert await _run_probe("api", {"API_PORT": str(server.port)}) != 0


@pytest.mark.parametrize(("service", "port_variable"), HTTP_PROBES)
async def test_http_healthcheck_fails_when_nothing_listens(
    service: str, port_variable: str, unused_tcp_port: int
) -> None:
    assert await _run_probe(service, {port_variable: str(unused_tcp_port)}) != 0


async def test_worker_healthcheck_asks_the_workers_internal_listener(
    settings: Settings, unused_tcp_port: int
) -> None:
    async with running_worker(settings) as worker:
        port = worker.metrics.port
        assert await _run_probe("push-worker", {"PUSH_METRICS_PORT": str(port)}) == 0
    assert await _run_probe("push-worker", {"PUSH_METRICS_PORT": str(port)}) != 0


METRICS_PORTS = {
    "api": "API_METRICS_PORT",
    "realtime": "REALTIME_METRICS_PORT",
    "push-worker": "PUSH_METRICS_PORT",
}


@pytest.mark.parametrize(("service", "variable"), sorted(METRICS_PORTS.items()))
def test_metrics_ports_are_set_exposed_on_the_network_and_never_published(
    service: str, variable: str
) -> None:
    port = SERVICES[service]["environment"][variable]
    assert SERVICES[service]["expose"] == [port]
    published = [str(mapping).rsplit(":", 1)[-1] for mapping in SERVICES[service].get("ports", [])]
    assert port not in published
    assert not any(
        str(mapping).rsplit(":", 1)[-1] in METRICS_PORT_VALUES
        for other in SERVICES.values()
        for mapping in other.get("ports", [])
    )


def test_every_long_running_service_checks_a_real_health_endpoint() -> None:
    for name in LONG_RUNNING_APPS:
        command = " ".join(SERVICES[name]["healthcheck"]["test"])
        assert "/healthz" in command, name


def test_env_example_documents_every_setting_and_compose_variable() -> None:
    documented = set(_env_example())
    settings_names = {name.upper() for name in Settings.model_fields}
    assert settings_names - documented == set()
    assert set(CONTRACT_VARIABLES) - documented == set()
    assert "LOG_LEVEL" in documented
    compose_text = (ROOT / "docker-compose.yml").read_text()
    interpolated = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", compose_text))
    assert interpolated - documented == set()


@pytest.mark.parametrize("app_env", ["production", "test"])
def test_env_example_secret_is_refused_outside_development(app_env: str) -> None:
    placeholder = _active_env_example()["JWT_SECRET"]
    with pytest.raises(ValidationError, match="JWT_SECRET"):
        Settings(_env_file=None, app_env=app_env, jwt_secret=placeholder)  # type: ignore[call-arg]
    accepted = Settings(_env_file=None, app_env="development", jwt_secret=placeholder)  # type: ignore[call-arg]
    assert accepted.jwt_key == placeholder


def test_env_example_leaves_the_database_password_to_be_chosen() -> None:
    assert _active_env_example()["POSTGRES_PASSWORD"] == ""
    assert "${POSTGRES_PASSWORD:?" in SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"]


def test_secrets_stay_out_of_git_and_out_of_build_contexts() -> None:
    gitignored = (ROOT / ".gitignore").read_text().split()
    dockerignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", "secrets/"} <= set(gitignored)
    assert {".env", "secrets", ".git", ".venv", ".data"} <= set(dockerignored)


def test_trusted_proxies_are_the_compose_networks_containers_not_its_gateway() -> None:
    """A reverse proxy container is believed; Docker's userland proxy, which connects from the
    network's gateway and passes on any client's forged X-Forwarded-For, is not."""
    (network,) = COMPOSE["networks"]["default"]["ipam"]["config"]
    subnet, containers = ip_network(network["subnet"]), ip_network(network["ip_range"])
    gateway = ip_address(network["gateway"])
    assert containers.subnet_of(subnet) and gateway in subnet
    for name in ("api", "realtime"):
        value = SERVICES[name]["environment"]["TRUSTED_PROXIES"]
        match = re.fullmatch(r"\$\{TRUSTED_PROXIES:-(.+)\}", value)
        assert match, value  # .env may name another proxy
        parsed = make_settings("postgresql://unused", "redis://unused", trusted_proxies=match[1])
        trusted_networks = parsed.trusted_proxies
        assert trusted_networks, value
        assert all(n.subnet_of(containers) for n in trusted_networks), trusted_networks
        assert not any(gateway in n for n in trusted_networks)
