"""`GET /me/export` (CONTRACT section 3, Your data): the caller's data as a ZIP, streamed.

The response starts as soon as the first entry is written and carries each entry as it is
made (chunked), all of it read in one REPEATABLE READ, read-only transaction: one consistent
snapshot, however long the client takes. At most `EXPORT_LIMIT` a user an hour (429), as each
one reads everything the account holds, and at most `export_slots` run at once in a process
(slots.py).

Once the first byte is sent the status cannot change: a failure after it (the client gone, or
still not reading after `archive.STALL_TIMEOUT_S`) ends the connection, and the client sees a
truncated archive rather than a valid one.
"""

from __future__ import annotations

import logging

from aiohttp import web

from services.api.export.archive import ZipStream
from services.api.export.slots import export_slots_key
from services.api.export.snapshot import write_export
from services.api.web.authentication import current_user
from services.api.web.rate_limit import Limit, enforce
from shared.errors import not_found
from shared.keys import db_pool_key

log = logging.getLogger(__name__)

EXPORT_LIMIT = Limit("export-user", 5, 3600)


async def export_my_data(request: web.Request) -> web.StreamResponse:
    user_id = current_user(request)
    await enforce(request, (EXPORT_LIMIT, str(user_id)))
    response = web.StreamResponse(
        headers={
            "Content-Type": "application/zip",
            "Content-Disposition": 'attachment; filename="withbowwow-export.zip"',
            "Cache-Control": "no-store",
        }
    )
    response.enable_chunked_encoding()
    async with (
        request.app[export_slots_key],
        request.app[db_pool_key].acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        # The first read takes the snapshot; an account deleted meanwhile is 404, before any byte.
        if not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)", user_id):
            raise not_found("user")
        await response.prepare(request)
        archive = ZipStream(response)
        try:
            await write_export(conn, user_id, archive)
            await archive.close()
        except (ConnectionError, TimeoutError) as exc:
            # Gone, or not reading: end the connection (a truncated archive), free the snapshot.
            log.info("export not finished: the client went away (%s)", type(exc).__name__)
            if request.transport is not None:
                request.transport.close()
            return response
    await response.write_eof()
    return response
