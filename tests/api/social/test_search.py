"""`GET /users?query=` (CONTRACT section 3, User search)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.support import Api, User, assert_error


async def _search(api: Api, user: User, query: str, **params: Any) -> Any:
    return await api.call("GET", "/users", user, expect=200, params={"query": query, **params})


async def _all_pages(api: Api, user: User, query: str, limit: int) -> list[str]:
    """Every nickname the search lists, page after page."""
    nicknames: list[str] = []
    params: dict[str, Any] = {"limit": str(limit)}
    while True:
        body = await _search(api, user, query, **params)
        assert len(body["items"]) <= limit
        nicknames += [item["nickname"] for item in body["items"]]
        if body["next_cursor"] is None:
            return nicknames
        params["before"] = body["next_cursor"]


async def test_hangul_text_is_found_anywhere_in_a_nickname(api: Api) -> None:
    me = await api.signup("searcher")
    for nickname in ("초코아빠", "xx초코", "초코", "콩이맘", "초콜릿"):
        await api.signup(nickname)
    body = await _search(api, me, "초코")
    assert [item["nickname"] for item in body["items"]] == ["초코", "초코아빠", "xx초코"]
    assert body["next_cursor"] is None


async def test_exact_then_prefix_then_contains_case_insensitively(api: Api) -> None:
    me = await api.signup("searcher")
    for nickname in ("my_Bori", "BoriDad", "bori", "Bori", "boribori", "sabo", "b-o-r-i"):
        await api.signup(nickname)
    nicknames = await _all_pages(api, me, "BORI", limit=20)
    assert nicknames[:2] == ["Bori", "bori"] or nicknames[:2] == ["bori", "Bori"]
    assert nicknames[2:4] == ["boribori", "BoriDad"]
    assert nicknames[4:] == ["my_Bori"]


async def test_items_have_the_contract_shape_and_say_who_i_follow(api: Api) -> None:
    me = await api.signup("searcher")
    followed = await api.signup("dubu1")
    other = await api.signup("dubu2")
    await api.follow(me, followed)
    body = await _search(api, me, "dubu")
    assert body["items"] == [
        {"id": followed.id, "nickname": "dubu1", "profile_image_url": None, "followed_by_me": True},
        {"id": other.id, "nickname": "dubu2", "profile_image_url": None, "followed_by_me": False},
    ]


async def test_pages_are_stable_across_the_tiers(api: Api, db: asyncpg.Connection) -> None:
    me = await api.signup("searcher")
    # Three of each tier: pages of two straddle every seam between tiers.
    names = ["kong", "Kong", "KONG", "kong1", "kongi", "Kong2", "a_kong", "bkong", "ckong!"]
    for nickname in names:
        await api.signup(nickname)
    nicknames = await _all_pages(api, me, "kong", limit=2)
    assert sorted(nicknames[:3]) == ["KONG", "Kong", "kong"]
    assert nicknames[3:6] == ["kong1", "Kong2", "kongi"]
    # The rest: where "kong" occurs first, then alphabetically.
    assert nicknames[6:] == ["bkong", "ckong!", "a_kong"]
    # Every page size lists the same users in the same order.
    for limit in (1, 4, 100):
        assert await _all_pages(api, me, "kong", limit=limit) == nicknames


async def test_one_character_query_finds_every_nickname_holding_it(api: Api) -> None:
    me = await api.signup("searcher")
    for nickname in ("콩", "콩이", "두콩", "두부"):
        await api.signup(nickname)
    assert await _all_pages(api, me, "콩", limit=20) == ["콩", "콩이", "두콩"]


async def test_pairs_of_the_query_must_be_adjacent_in_the_nickname(api: Api) -> None:
    """`bcab` holds both pairs of `abc` (ab, bc) but not `abc` itself: the index only narrows."""
    me = await api.signup("searcher")
    await api.signup("bcab")  # holds "ab" and "bc", not "abc"
    await api.signup("xabc")
    assert await _all_pages(api, me, "abc", limit=20) == ["xabc"]


async def test_a_nickname_holding_the_text_twice_is_listed_once_at_its_first(api: Api) -> None:
    me = await api.signup("searcher")
    for nickname in ("yybo", "xbobo", "zbo", "bobo"):
        await api.signup(nickname)
    for limit in (1, 20):
        # `xbobo` at 2 (not again at 4), `bobo` in the prefix tier only.
        assert await _all_pages(api, me, "bo", limit=limit) == ["bobo", "xbobo", "zbo", "yybo"]


async def test_a_longer_text_ranks_where_it_occurs_not_where_its_first_pair_does(
    api: Api,
) -> None:
    """`xabxabc` holds `ab` at 2 but `abc` only at 5; `abxabc` starts with `ab`, not `abc`."""
    me = await api.signup("searcher")
    for nickname in ("xabxabc", "yyyabc", "abxabc", "zzabc", "abab"):
        await api.signup(nickname)
    for limit in (1, 3, 20):
        assert await _all_pages(api, me, "abc", limit=limit) == [
            "zzabc",
            "abxabc",
            "yyyabc",
            "xabxabc",
        ]


async def test_renamed_and_deleted_users_move_in_the_contains_tier(
    api: Api, db: asyncpg.Connection
) -> None:
    me = await api.signup("searcher")
    await api.signup("x_dubu")
    renamed = await api.signup("xx_dubu")
    renamed_away = await api.signup("yy_dubu")
    leaver = await api.signup("z_dubu")
    await api.call("PATCH", "/me", renamed, expect=200, json={"nickname": "xxxx_dubu"})
    await api.call("PATCH", "/me", renamed_away, expect=200, json={"nickname": "yy_tofu"})
    await api.call("DELETE", "/me", leaver, expect=204, json={"password": "correct horse"})
    assert await _all_pages(api, me, "dubu", limit=1) == ["x_dubu", "xxxx_dubu"]
    assert await _all_pages(api, me, "tofu", limit=1) == ["yy_tofu"]
    # The positions are exactly those of the nicknames there are now, no more, no fewer.
    stale = await db.fetch(
        """(TABLE nickname_positions
            EXCEPT SELECT g.gram, g.start, u.nickname_key, u.id
                   FROM users u, nickname_grams_at(u.nickname_key) g)
           UNION ALL
           (SELECT g.gram, g.start, u.nickname_key, u.id
            FROM users u, nickname_grams_at(u.nickname_key) g
            EXCEPT TABLE nickname_positions)"""
    )
    assert stale == []


async def test_never_lists_the_caller(api: Api) -> None:
    me = await api.signup("choco")
    other = await api.signup("chocolate")
    body = await _search(api, me, "choco")
    assert [item["id"] for item in body["items"]] == [other.id]


async def test_query_is_trimmed_and_limited_to_fifty_characters(api: Api) -> None:
    me = await api.signup("searcher")
    await api.signup("bori")
    body = await _search(api, me, "  bori  ")
    assert [item["nickname"] for item in body["items"]] == ["bori"]
    assert (await _search(api, me, "b" * 50))["items"] == []


@pytest.mark.parametrize("params", [{}, {"query": ""}, {"query": "   "}, {"query": "b" * 51}])
async def test_missing_blank_or_long_query_is_422(api: Api, params: dict[str, str]) -> None:
    me = await api.signup("searcher")
    body = await api.call("GET", "/users", me, expect=422, params=params)
    assert_error(body, "validation_error")
    assert body["error"]["details"][0]["field"] == "query"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"query": "a\x00b"}, "query"),
        ({"query": "bori", "before": "not-a-cursor"}, "before"),
        ({"query": "bori", "before": "WzksImEiLCJ4Il0"}, "before"),  # [9,"a","x"]
        ({"query": "bori", "limit": "0"}, "limit"),
    ],
)
async def test_bad_parameters_are_422(api: Api, params: dict[str, str], field: str) -> None:
    me = await api.signup("searcher")
    body = await api.call("GET", "/users", me, expect=422, params=params)
    assert_error(body, "validation_error")
    assert body["error"]["details"][0]["field"] == field


async def test_search_needs_a_token(api: Api) -> None:
    assert_error(await api.call("GET", "/users", params={"query": "x"}, expect=401), "unauthorized")


async def test_renamed_user_is_found_by_the_new_nickname_only(api: Api) -> None:
    me = await api.signup("searcher")
    user = await api.signup("maru")
    await api.call("PATCH", "/me", user, expect=200, json={"nickname": "haru"})
    assert (await _search(api, me, "maru"))["items"] == []
    assert [i["id"] for i in (await _search(api, me, "haru"))["items"]] == [user.id]


async def test_contains_tier_reads_a_page_from_the_positions_index(
    db: asyncpg.Connection,
) -> None:
    """The contains tier walks `nickname_positions`' btree in its own order: no sort, whatever
    the table's size (the GIN index it used to read, and sort every match from, is gone)."""
    await db.execute("SET enable_seqscan = off")
    plan = "\n".join(
        r[0]
        for r in await db.fetch(
            "EXPLAIN SELECT np.user_id FROM nickname_positions np"
            " WHERE np.gram = '초코' AND np.position > 1"
            " AND (np.position, np.key, np.user_id) > (2, '', gen_random_uuid())"
            " ORDER BY np.position, np.key, np.user_id LIMIT 20"
        )
    )
    assert "nickname_positions_pkey" in plan
    assert "Sort" not in plan
    assert await db.fetchval("SELECT to_regclass('users_nickname_grams_idx')") is None
