"""`DELETE /me {password}`: the caller erases their own account, as deletion.py erases it."""

from __future__ import annotations

import datetime as dt

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.api.accounts.deletion import forget_copies, lock_and_erase
from services.api.accounts.limits import reserve_password_check
from services.api.accounts.passwords import verify_password
from services.api.web.authentication import current_user
from shared.errors import forbidden, unauthorized
from shared.keys import db_pool_key, settings_key


class DeleteMeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(max_length=256)


async def delete_me(request: web.Request) -> web.Response:
    body = DeleteMeIn.model_validate_json(await request.read())
    user_id = current_user(request)
    max_walk = dt.timedelta(seconds=request.app[settings_key].max_walk_duration_s)
    async with request.app[db_pool_key].acquire() as conn:
        password_hash = await conn.fetchval(
            "SELECT password_hash FROM users WHERE id = $1", user_id
        )
        if password_hash is None:
            raise unauthorized("this account no longer exists")
        # Guesses at the password count with those at /me/password: a stolen access token
        # must not be a way to try passwords without limit.
        attempt = await reserve_password_check(request, user_id)
        if not await verify_password(password_hash, body.password):
            raise forbidden("wrong password")
        await attempt.refund()  # only failures count
        async with conn.transaction():
            erased = await lock_and_erase(conn, user_id, max_walk)
    if erased is None:  # deleted by a concurrent request
        raise unauthorized("this account no longer exists")
    await forget_copies(request.app, erased)
    return web.Response(status=204)
