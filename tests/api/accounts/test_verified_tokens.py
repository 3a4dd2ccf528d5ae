"""Access tokens the API has verified once are looked up, not verified again (shared/tokens.py):
what the token proves stays proven, and nothing else is taken from the lookup."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiohttp.test_utils import TestClient

from services.api.web.authentication import verified_tokens_key
from shared.tokens import InvalidToken, VerifiedAccessTokens, issue_token
from tests.support import Api, assert_error

KEY = "a-test-key-of-at-least-thirty-two-bytes!"


def token(ttl_s: int = 60, key: str = KEY, kind: str = "access") -> str:
    return issue_token(key, uuid.uuid4(), kind, ttl_s, session_id=uuid.uuid4())[0]  # type: ignore[arg-type]


def test_a_verified_token_is_kept_with_its_claims() -> None:
    verified = VerifiedAccessTokens(KEY)
    access = token()
    first = verified.verify(access)
    assert verified.verify(access) is first
    assert access in verified and len(verified) == 1


@pytest.mark.parametrize(
    "bad",
    [
        "garbage",
        token(key="another-key-another-key-another-key-another"),
        token(kind="refresh"),
        token(ttl_s=-5),
    ],
    ids=["malformed", "another key", "refresh token", "expired"],
)
def test_a_token_that_fails_verification_is_not_kept(bad: str) -> None:
    verified = VerifiedAccessTokens(KEY)
    for _ in range(2):
        with pytest.raises(InvalidToken):
            verified.verify(bad)
    assert len(verified) == 0


def test_a_kept_token_with_one_byte_changed_is_verified_afresh() -> None:
    verified = VerifiedAccessTokens(KEY)
    access = token()
    verified.verify(access)
    header, payload, signature = access.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    with pytest.raises(InvalidToken):
        verified.verify(f"{header}.{payload}.{flipped}")
    assert len(verified) == 1


async def test_a_kept_token_is_refused_once_it_expires() -> None:
    verified = VerifiedAccessTokens(KEY)
    access = token(ttl_s=1)
    verified.verify(access)
    await asyncio.sleep(1.2)
    with pytest.raises(InvalidToken):
        verified.verify(access)
    assert access not in verified


def test_the_least_recently_used_token_goes_first() -> None:
    verified = VerifiedAccessTokens(KEY, kept=2)
    first, second, third = token(), token(), token()
    verified.verify(first)
    verified.verify(second)
    verified.verify(first)  # used again: now the second is the least recently used
    verified.verify(third)
    assert first in verified and third in verified
    assert second not in verified and len(verified) == 2


async def test_a_kept_token_of_an_ended_session_is_refused(
    api: Api, api_client: TestClient
) -> None:
    user = await api.signup()
    await api.call("GET", "/me", user, expect=200)
    assert user.token in api_client.app[verified_tokens_key]
    await api.call("POST", "/auth/logout", expect=204, json={"refresh_token": user.refresh_token})
    body = await api.call("GET", "/me", user, expect=401)
    assert_error(body, "unauthorized")


async def test_the_api_keeps_what_it_verified_under_its_own_key(
    api: Api, api_client: TestClient
) -> None:
    user = await api.signup()
    await api.call("GET", "/me", user, expect=200)
    forged = token(key="another-key-another-key-another-key-another")
    await api.call("GET", "/me", expect=401, headers={"Authorization": f"Bearer {forged}"})
    kept = api_client.app[verified_tokens_key]
    assert user.token in kept and forged not in kept
