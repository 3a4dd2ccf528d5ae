"""Process-wide logging: one line a record, in text (for people) or JSON (`LOG_FORMAT=json`),
each carrying the id of the request it was written for, none able to forge another line.

- Every value a client controls (a path, a header, an exception quoting input) is logged
  with its control characters escaped (`\\x0a`, `\\x1b`, `\\u202e`), in both formats, so a
  request cannot start a fake line, move the cursor or reorder a terminal's text.
- The request id lives in a context variable (`request_id_var`): set for each request by
  `shared.request_id`, and copied into every task a request starts, so a background emit or
  a push job logs with the id of the request that caused it.
- The access log is the path and the route template, never the query string (the gateway takes
  its token in `?token=`), and aiohttp's own report of a request it could not parse (which
  quotes the raw request line) is cut down to one line without it.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import logging
import os
import re
import sys
from typing import Any, Literal

import orjson
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

LogFormat = Literal["text", "json"]

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
REQUEST_ID_KEY = "request_id"  # the field's name in a log record and a JSON line
# Where the request's id is kept on the aiohttp request, for the access log.
request_id_request_key = web.RequestKey("request_id", str)

# C0 and C1 controls, DEL, the Unicode line and paragraph separators, the bidi controls, and
# lone surrogates (undecodable header bytes, which no JSON encoder takes).
_OTHER_CONTROLS = "\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_CONTROL = re.compile(f"[\x00-\x1f{_OTHER_CONTROLS}]")
# In a traceback the newlines between frames stay; any other control character is escaped.
_CONTROL_BUT_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f{_OTHER_CONTROLS}]")


def _escape_one(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """`text` with every control character written as an escape: always one printable line."""
    return _CONTROL.sub(_escape_one, text)


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str | None:
    if record.exc_info and not record.exc_text:
        record.exc_text = formatter.formatException(record.exc_info)
    if not record.exc_text:
        return None
    return _CONTROL_BUT_NEWLINE.sub(_escape_one, record.exc_text)


def _request_id(record: logging.LogRecord) -> str | None:
    explicit = getattr(record, REQUEST_ID_KEY, None)
    return explicit if isinstance(explicit, str) else request_id_var.get()


class TextFormatter(logging.Formatter):
    """`2026-12-01 20:30:00,000 INFO logger: message [request_id]`; a traceback follows
    indented, so only a record's own first line starts at the margin."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        line = super().formatMessage(record)
        request_id = _request_id(record)
        return f"{line} [{escape_controls(request_id)}]" if request_id else line

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        line = self.formatMessage(record)
        trace = _exception_text(self, record)
        if trace:
            line += "\n" + "\n".join("    " + part for part in trace.splitlines())
        if record.stack_info:
            line += "\n" + "\n".join("    " + part for part in record.stack_info.splitlines())
        return line


# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _json_value(value: Any) -> Any:
    if isinstance(value, str):
        return escape_controls(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return escape_controls(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: `ts`, `level`, `logger`, `message`, `request_id` when there is
    one, the fields passed with `extra=`, and `exc_info` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": escape_controls(record.getMessage()),
        }
        request_id = _request_id(record)
        if request_id:
            line[REQUEST_ID_KEY] = escape_controls(request_id)
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and name not in line:
                line[name] = _json_value(value)
        trace = _exception_text(self, record)
        if trace:
            line["exc_info"] = trace
        return orjson.dumps(line).decode()


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


def log_format() -> LogFormat:
    return "json" if os.environ.get("LOG_FORMAT", "text").strip().lower() == "json" else "text"


def make_formatter(fmt: LogFormat) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure_logging(fmt: LogFormat | None = None) -> None:
    """Root logging for a service process, from LOG_LEVEL and `fmt` (by default LOG_FORMAT from
    the environment: logging is set up before the settings are, so that their warnings are
    formatted; once read, the settings' `log_format`, which `.env` may set, is applied)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(make_formatter(fmt or log_format()))
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(), handlers=[handler], force=True
    )
    logging.getLogger("aiohttp.server").addFilter(_MALFORMED_REQUEST_FILTER)  # added once


def route_template(request: web.BaseRequest) -> str:
    """The matched route's template (`/users/{id}`), never the raw path: bounded, and free of
    ids. Requests no route matched share one value."""
    # `request.match_info` asserts one exists: a request aiohttp could not parse has none.
    match_info = request._match_info if isinstance(request, web.Request) else None
    resource = match_info.route.resource if match_info is not None else None
    return resource.canonical if resource is not None else "unmatched"


# Path parameters that are credentials (an FCM registration token is what a push is addressed
# to): the access log writes their placeholder, never their value.
SECRET_PATH_PARAMETERS = frozenset({"token"})


def logged_path(request: web.BaseRequest) -> str:
    """The request's path with every secret path parameter replaced by its `{name}`."""
    match_info = request._match_info if isinstance(request, web.Request) else None
    path = request.path
    if match_info is None:
        return path
    for name in SECRET_PATH_PARAMETERS.intersection(match_info):
        if match_info[name]:
            path = path.replace(match_info[name], "{" + name + "}")
    return path


class AccessLogger(AbstractAccessLogger):
    """One line a request: `remote "METHOD /path" STATUS SIZE TIMEms route`, with the
    request's id; no query string, and no header but the user agent (in JSON). In JSON the same
    as fields (`method`, `route`, `path`, `status`, `duration_ms`, ...). The formatters escape
    every value.

    It keeps nothing but aiohttp's `logger` and `log_format`: the gateway's connections share
    one (services/realtime/upgrade_url.py)."""

    @property
    def enabled(self) -> bool:
        """Below INFO (LOG_LEVEL=WARNING) aiohttp skips the line altogether, as for its own."""
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route = route_template(request)
        path = logged_path(request)
        duration_ms = round(time * 1000, 1)
        self.logger.info(
            '%s "%s %s" %s %s %.1fms %s',
            request.remote,
            request.method,
            path,
            response.status,
            response.body_length,
            duration_ms,
            route,
            extra={
                REQUEST_ID_KEY: request.get(request_id_request_key),
                "remote": request.remote,
                "method": request.method,
                "route": route,
                "path": path,
                "status": response.status,
                "bytes": response.body_length,
                "duration_ms": duration_ms,
                "user_agent": request.headers.get("User-Agent", ""),
            },
        )
