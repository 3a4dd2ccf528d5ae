"""`make run`'s start-up report (tools/devstack.py), and its development secret warned of once."""

from __future__ import annotations

import logging
import secrets

import pytest

from shared.settings import Settings
from tools.devstack import _startup_report


def test_the_report_names_each_service_and_where_it_answers() -> None:
    env = {"HOST": "127.0.0.1", "API_PORT": "8000", "REALTIME_PORT": "8001"}
    origins = {"postgres": "embedded, data in .data/postgres", "redis": "from REDIS_URL"}
    lines = _startup_report(env, origins).splitlines()
    assert lines[0].startswith("withbowwow is running")
    by_name = {line.split("  ")[1].strip(): line for line in lines[1:]}
    assert "http://127.0.0.1:8000" in by_name["REST API"]
    assert "ws://127.0.0.1:8001/ws/walk-together/{invitation_id}" in by_name["walk together"]
    assert "not sent" in by_name["push worker"]
    assert "embedded" in by_name["PostgreSQL"] and "REDIS_URL" in by_name["Redis"]
    with_fcm = _startup_report({**env, "FCM_PROJECT_ID": "p", "FCM_CREDENTIALS_FILE": "f"}, origins)
    assert "FCM project p" in with_fcm


def test_the_report_says_where_emails_go_and_never_the_smtp_login() -> None:
    origins = {"postgres": "from DATABASE_URL", "redis": "from REDIS_URL"}
    files = _startup_report({"MAIL_DIR": "/tmp/wb-mail"}, origins)
    assert "written as .eml files under /tmp/wb-mail" in files
    smtp = _startup_report({"SMTP_URL": "smtp://user:pa55@mail.example.com:587"}, origins)
    assert "SMTP server mail.example.com:587" in smtp and "pa55" not in smtp


def test_services_do_not_repeat_the_warning_for_make_runs_strong_development_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`make run` warns once itself; each of its three processes used to warn again."""
    with caplog.at_level(logging.WARNING):
        Settings(_env_file=None, app_env="development", jwt_secret=secrets.token_urlsafe(48))  # type: ignore[call-arg]
    assert caplog.records == []
    with caplog.at_level(logging.WARNING):
        Settings(_env_file=None, app_env="development", jwt_secret="changeme")  # type: ignore[call-arg]
    assert "weak" in caplog.text
