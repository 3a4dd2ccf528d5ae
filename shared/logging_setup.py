"""Process-wide logging, and an access log that never prints a query string.

The gateway takes its token in `?token=`; the access log shows only the path.
"""

from __future__ import annotations

import logging
import os

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


def configure_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


class PathOnlyAccessLogger(AbstractAccessLogger):
    """`METHOD /path STATUS SIZE TIMEms`, without the query string or headers."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %s %.1fms',
            request.remote,
            request.method,
            request.path,
            response.status,
            response.body_length,
            time * 1000,
        )
