"""Handlers for /invitations (being built)."""

from aiohttp import web

routes = web.RouteTableDef()
