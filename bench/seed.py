"""Fast seeder: users, follows, walks and accepted invitations written straight into Postgres.

Signing up 20,000 users over HTTP takes minutes (argon2 per signup); `generate_series` writes
100,000 users, 5,000,000 follows and 1,000,000 walks in about a minute. Ids are md5 of a counter,
so a load generator can name user n and invitation k (and mint their tokens) without a query.
The seed is recorded in `bench_seed` and skipped when the same sizes are already there.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import logging
import time
import uuid
from dataclasses import asdict, dataclass

import asyncpg

log = logging.getLogger("bench.seed")

# One argon2id hash for every bench user: nobody logs in over HTTP, tokens are minted directly.
PASSWORD_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$CydzQ7/jRfnfStF0VvSdCQ$"
    "J3WgKU+BRsBvzKTSWq9wBHI6OdsEkBC5kNTNtqRNbDM"
)


# Bumped when what the seed writes changes, so an older seed is rewritten. 2: nicknames as
# people choose them (mostly Hangul), for the user-search scenario.
SEED_VERSION = 2
# Nickname n: a dog's name, then who the walker is to the dog, sometimes a number; one in five
# in Latin letters. About 2,000 users per dog's name and 8,000 per suffix at 100,000 users.
_DOG_NAMES = [
    "초코",
    "보리",
    "콩이",
    "두부",
    "몽이",
    "해피",
    "코코",
    "밤이",
    "루루",
    "사랑",
    "하늘",
    "별이",
    "구름",
    "대박",
    "뭉치",
    "호두",
    "땅콩",
    "쿠키",
    "마루",
    "까미",
    "누리",
    "봄이",
    "여름",
    "가을",
    "겨울",
    "토리",
    "달이",
    "솜이",
    "망고",
    "자두",
    "레오",
    "모카",
    "라떼",
    "순심",
    "복실",
    "바둑",
    "차차",
    "행복",
    "나비",
    "단비",
]
_RELATIONS = ("아빠", "엄마", "맘", "누나", "언니", "형", "집사", "", "네", "랑")
_LATIN_NAMES = ("choco", "bori", "happy", "walker", "maru", "lucky", "coco", "sunny")
_LATIN_RELATIONS = ("dad", "mom", "lover", "daily", "walks")
NICKNAME_SQL = f"""CASE WHEN n % 5 = 4
    THEN (ARRAY{list(_LATIN_NAMES)})[1 + n % {len(_LATIN_NAMES)}] || '_'
         || (ARRAY{list(_LATIN_RELATIONS)})[1 + (n / {len(_LATIN_NAMES)}) % {len(_LATIN_RELATIONS)}]
         || (n % 1000)::text
    ELSE (ARRAY{list(_DOG_NAMES)})[1 + n % {len(_DOG_NAMES)}]
         || (ARRAY{list(_RELATIONS)})[1 + (n / {len(_DOG_NAMES)}) % {len(_RELATIONS)}]
         || CASE WHEN n % 3 = 0 THEN (n % 997)::text ELSE '' END
    END"""


@dataclass(frozen=True)
class SeedSize:
    users: int = 100_000
    walks: int = 1_000_000
    follows_per_user: int = 50
    invitations: int = 10_000  # pairs (user 2k, user 2k+1), accepted


def user_id(n: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"bench-user-{n}".encode()).hexdigest())


def invitation_id(k: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"bench-invitation-{k}".encode()).hexdigest())


def follow_step(size: SeedSize) -> int:
    """User u follows u + k*step (mod users), k = 1..follows: distinct and never u itself."""
    return max(1, (size.users - 1) // size.follows_per_user)


async def seed(conn: asyncpg.Connection, size: SeedSize) -> bool:
    """Write the seed unless the same one is there; True when it wrote."""
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS bench_seed (id int PRIMARY KEY, size jsonb NOT NULL)"
    )
    wanted = {**asdict(size), "version": SEED_VERSION}
    current = await conn.fetchval("SELECT size::text FROM bench_seed WHERE id = 1")
    if current is not None and _loads(current) == wanted:
        return False
    started = time.monotonic()
    await conn.execute("SET synchronous_commit = off; SET maintenance_work_mem = '256MB'")
    async with conn.transaction():
        # Skip the per-row foreign-key triggers (the seed is consistent by construction) and
        # build the follows indexes once, sorted, instead of row by row: 4 min -> ~1 min.
        await conn.execute("SET LOCAL session_replication_role = replica")
        rebuild = await _drop_indexes(conn, "follows")
        await conn.execute(
            "TRUNCATE users, follows, walks, invitations, notifications, devices, bench_seed "
            "CASCADE"
        )
        await conn.execute(
            f"""INSERT INTO users (id, email, password_hash, nickname, created_at)
               SELECT md5('bench-user-' || n)::uuid, 'bench' || n || '@example.com', $2,
                      {NICKNAME_SQL}, now() - interval '400 days'
               FROM generate_series(0, $1 - 1) AS n""",
            size.users,
            PASSWORD_HASH,
        )
        log.info("users: %d (%.0fs)", size.users, time.monotonic() - started)
        follows = min(size.follows_per_user, size.users - 1)
        await conn.execute(
            """INSERT INTO follows (follower_id, followee_id, created_at)
               SELECT md5('bench-user-' || u)::uuid,
                      md5('bench-user-' || ((u + k * $3) % $1))::uuid,
                      now() - interval '1 day' * k
               FROM generate_series(0, $1 - 1) AS u, generate_series(1, $2) AS k""",
            size.users,
            follows,
            follow_step(size),
        )
        for statement in rebuild:
            await conn.execute(statement)
        log.info("follows: %d (%.0fs)", size.users * follows, time.monotonic() - started)
        # Walks spread over a year, newest first by counter; 5% private, 15% followers-only.
        await conn.execute(
            """INSERT INTO walks (user_id, started_at, ended_at, distance_m, visibility,
                                  memo, updated_at, created_at)
               SELECT md5('bench-user-' || (i % $2))::uuid, t - interval '40 minutes', t,
                      500 + (i % 7000), CASE WHEN i % 20 = 0 THEN 'private'
                                             WHEN i % 20 < 4 THEN 'followers'
                                             ELSE 'public' END,
                      'walk ' || i, t, t
               FROM generate_series(0, $1 - 1) AS i,
                    LATERAL (SELECT now() - interval '365 days' * i / $1 AS t) AS ts""",
            size.walks,
            size.users,
        )
        log.info("walks: %d (%.0fs)", size.walks, time.monotonic() - started)
        await conn.execute(
            """INSERT INTO invitations (id, inviter_id, invitee_id, status, created_at,
                                        responded_at, expires_at)
               SELECT md5('bench-invitation-' || k)::uuid, md5('bench-user-' || 2 * k)::uuid,
                      md5('bench-user-' || 2 * k + 1)::uuid, 'accepted', now(), now(),
                      now() + interval '2 hours'
               FROM generate_series(0, $1 - 1) AS k""",
            min(size.invitations, size.users // 2),
        )
        await conn.execute(
            "INSERT INTO bench_seed (id, size) VALUES (1, $1::jsonb)", _dumps(wanted)
        )
    # What autovacuum would have done on a live database: statistics, and the visibility map
    # that lets the feed's index-only scans skip the table.
    await conn.execute("VACUUM ANALYZE")
    log.info("seeded in %.0fs", time.monotonic() - started)
    return True


async def _drop_indexes(conn: asyncpg.Connection, table: str) -> list[str]:
    """Drop `table`'s indexes and primary key; return the statements that recreate them."""
    rebuild = []
    constraints = await conn.fetch(
        """SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint
           WHERE conrelid = $1::regclass AND contype = 'p'""",
        table,
    )
    indexes = await conn.fetch(
        """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
           FROM pg_index i WHERE i.indrelid = $1::regclass AND NOT i.indisprimary""",
        table,
    )
    for c in constraints:
        await conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{c["conname"]}"')
        rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{c["conname"]}" {c["definition"]}')
    for i in indexes:
        await conn.execute(f"DROP INDEX {i['name']}")
        rebuild.append(i["definition"])
    return rebuild


async def refresh_invitations(conn: asyncpg.Connection) -> None:
    """Make every bench walk-together accepted and fresh (a sweeper may have finished them)."""
    await conn.execute(
        """UPDATE invitations SET status = 'accepted', responded_at = now(), ended_at = NULL,
                                  expires_at = now() + interval '2 hours'"""
    )


def _dumps(value: object) -> str:
    import orjson

    return orjson.dumps(value).decode()


def _loads(text: str) -> object:
    import orjson

    return orjson.loads(text)


async def _main(dsn: str, size: SeedSize) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        wrote = await seed(conn, size)
        log.info("seed %s", "written" if wrote else "already there")
    finally:
        await conn.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database_url")
    parser.add_argument("--users", type=int, default=SeedSize.users)
    parser.add_argument("--walks", type=int, default=SeedSize.walks)
    parser.add_argument("--follows-per-user", type=int, default=SeedSize.follows_per_user)
    parser.add_argument("--invitations", type=int, default=SeedSize.invitations)
    args = parser.parse_args()
    size = SeedSize(args.users, args.walks, args.follows_per_user, args.invitations)
    asyncio.run(_main(args.database_url, size))


if __name__ == "__main__":
    main()
