"""Handlers for /interactions (being built)."""

from aiohttp import web

routes = web.RouteTableDef()
