"""Handlers for /walks (being built)."""

from aiohttp import web

routes = web.RouteTableDef()
