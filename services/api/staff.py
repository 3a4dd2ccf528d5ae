"""Staff roles, granted only from the command line (CONTRACT section 1), never over HTTP:

    .venv/bin/python -m services.api.staff grant <email> moderator|admin
    .venv/bin/python -m services.api.staff revoke <email>
    .venv/bin/python -m services.api.staff list

`grant` makes a fresh TOTP secret (RFC 6238) and prints, once, its `otpauth://` URI for the
person's authenticator app; nothing keeps it anywhere else but the database. `revoke` ends the
person's console sessions at once. Both write an audit row.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

import asyncpg
import pyotp

from services.api.moderation.audit import audit
from services.api.moderation.staff_sessions import end_staff_sessions
from shared.db import init_connection
from shared.settings import DatabaseSettings

ISSUER = "withbowwow"


async def grant(conn: asyncpg.Connection, email: str, role: str, out: TextIO) -> int:
    user = await conn.fetchrow("SELECT id, email FROM users WHERE lower(email) = lower($1)", email)
    if user is None:
        print("no account has that email", file=sys.stderr)
        return 1
    secret = pyotp.random_base32()
    async with conn.transaction():
        await conn.execute(
            """INSERT INTO staff (user_id, role, totp_secret) VALUES ($1, $2, $3)
               ON CONFLICT (user_id) DO UPDATE SET role = EXCLUDED.role,
                   totp_secret = EXCLUDED.totp_secret, totp_last_step = 0,
                   granted_at = clock_timestamp()""",
            user["id"],
            role,
            secret,
        )
        await end_staff_sessions(conn, user["id"])
        await audit(
            conn, None, "grant", {"type": "user", "id": user["id"], "user_id": user["id"]}, role
        )
    uri = pyotp.TOTP(secret).provisioning_uri(name=user["email"], issuer_name=ISSUER)
    print(f"{role} granted. Add this to the person's authenticator app (shown once):", file=out)
    print(uri, file=out)
    return 0


async def revoke(conn: asyncpg.Connection, email: str, out: TextIO) -> int:
    async with conn.transaction():
        user_id = await conn.fetchval(
            """DELETE FROM staff
               WHERE user_id = (SELECT id FROM users WHERE lower(email) = lower($1))
               RETURNING user_id""",
            email,
        )
        if user_id is None:
            print("that email is not staff", file=sys.stderr)
            return 1
        await end_staff_sessions(conn, user_id)
        await audit(conn, None, "revoke", {"type": "user", "id": user_id, "user_id": user_id})
    print("revoked; their console sessions have ended", file=out)
    return 0


async def list_staff(conn: asyncpg.Connection, out: TextIO) -> int:
    rows = await conn.fetch(
        """SELECT s.role, u.email, u.nickname, s.granted_at FROM staff s
           JOIN users u ON u.id = s.user_id ORDER BY s.role, u.email"""
    )
    for row in rows:
        print(
            f"{row['role']:<10} {row['email']:<40} {row['nickname']:<20} "
            f"{row['granted_at'].isoformat(timespec='seconds')}",
            file=out,
        )
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m services.api.staff", description=__doc__.split("\n\n")[0]
    )
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grant", help="make an account a moderator or an admin")
    g.add_argument("email")
    g.add_argument("role", choices=["moderator", "admin"])
    r = sub.add_parser("revoke", help="take the role away and end their console sessions")
    r.add_argument("email")
    sub.add_parser("list", help="everyone with a role")
    return p


async def run(argv: list[str], database_url: str, out: TextIO = sys.stdout) -> int:
    args = parser().parse_args(argv)
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    try:
        if args.command == "grant":
            return await grant(conn, args.email, args.role, out)
        if args.command == "revoke":
            return await revoke(conn, args.email, out)
        return await list_staff(conn, out)
    finally:
        await conn.close()


def main() -> None:
    settings = DatabaseSettings()
    sys.exit(asyncio.run(run(sys.argv[1:], settings.database_url)))


if __name__ == "__main__":
    main()
