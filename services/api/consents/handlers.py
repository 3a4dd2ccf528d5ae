"""`GET /legal`: the documents an app shows before sign-up, with their current versions."""

from __future__ import annotations

from aiohttp import web

from services.api.consents.documents import load_documents
from shared.jsonutil import dumps
from shared.keys import settings_key

routes = web.RouteTableDef()


@routes.get("/legal")
async def get_legal(request: web.Request) -> web.Response:
    documents = load_documents(request.app[settings_key].legal_documents_file)
    body = {"documents": [doc.model_dump() for doc in documents.values()]}
    return web.json_response(body, dumps=dumps)
