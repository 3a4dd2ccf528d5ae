"""Handlers for /badges (being built)."""

from aiohttp import web

routes = web.RouteTableDef()
