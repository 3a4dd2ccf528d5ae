"""Request handlers, one module a resource; each exposes `routes`, a `web.RouteTableDef`."""
