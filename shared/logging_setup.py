"""Process-wide logging, and logs that never print a query string.

The gateway takes its token in `?token=`: the access log shows only the path, and aiohttp's
own report of a request it could not parse (which quotes the raw request line) is cut down to
one line without it.
"""

from __future__ import annotations

import logging
import os

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError


class MalformedRequestFilter(logging.Filter):
    """aiohttp logs an unparsable request (bad header byte, request line over 8 KiB) as an
    ERROR with a traceback quoting the raw bytes, query string and all. The client already got
    its 400; keep one WARNING line naming the error class."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg, record.args = (
                "rejected a malformed HTTP request (%s)",
                (type(exc).__name__,),
            )
            record.exc_info = record.exc_text = None
        return True


_MALFORMED_REQUEST_FILTER = MalformedRequestFilter()


def configure_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiohttp.server").addFilter(_MALFORMED_REQUEST_FILTER)  # added once


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
