"""Handlers for /dogs (being built)."""

from aiohttp import web

routes = web.RouteTableDef()
