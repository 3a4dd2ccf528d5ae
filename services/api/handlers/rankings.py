"""Handlers for /rankings (being built)."""

from aiohttp import web

routes = web.RouteTableDef()
