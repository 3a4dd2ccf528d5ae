"""Service-account tokens: minted against the file's token_uri, cached, refreshed one at a time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from services.api.push_worker.oauth import AccessTokens, ServiceAccount, TokenError
from tests.push.fake_google import FakeGoogle


async def test_token_is_minted_from_the_service_account_and_cached(
    fake_google: FakeGoogle, service_account_file: Path
) -> None:
    account = ServiceAccount.from_file(service_account_file)
    assert account.token_uri == fake_google.token_uri
    async with aiohttp.ClientSession() as session:
        tokens = AccessTokens(session, account, timeout_s=5)
        first = await tokens.get()
        again = await tokens.get()
    assert first == again
    assert first in fake_google.issued
    assert fake_google.token_requests == 1


async def test_concurrent_senders_share_one_refresh(
    fake_google: FakeGoogle, service_account_file: Path
) -> None:
    async with aiohttp.ClientSession() as session:
        tokens = AccessTokens(session, ServiceAccount.from_file(service_account_file), timeout_s=5)
        got = await asyncio.gather(*(tokens.get() for _ in range(50)))
    assert len(set(got)) == 1
    assert fake_google.token_requests == 1


async def test_a_failed_refresh_is_an_error_and_the_next_call_tries_again(
    fake_google: FakeGoogle, service_account_file: Path
) -> None:
    fake_google.fail_token_endpoint(times=1)
    async with aiohttp.ClientSession() as session:
        tokens = AccessTokens(session, ServiceAccount.from_file(service_account_file), timeout_s=5)
        with pytest.raises(TokenError):
            await tokens.get()
        token = await tokens.get()
    assert token in fake_google.issued
    assert fake_google.token_requests == 2


async def test_an_invalidated_token_is_replaced(
    fake_google: FakeGoogle, service_account_file: Path
) -> None:
    async with aiohttp.ClientSession() as session:
        tokens = AccessTokens(session, ServiceAccount.from_file(service_account_file), timeout_s=5)
        first = await tokens.get()
        tokens.invalidate(first)
        second = await tokens.get()
    assert second != first
    assert fake_google.token_requests == 2


def test_a_file_without_a_private_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"client_email": "x@example.com"}')
    with pytest.raises(ValueError, match="private_key"):
        ServiceAccount.from_file(path)
