"""Requests aiohttp cannot parse (a request line or header over 8190 bytes, a bad header byte)
answered in the contract's error shape, like everything else, with an `X-Request-ID` of their
own (a new one: nothing of such a request is trusted) that their log line carries too.

Such a request never reaches the app or its error middleware: aiohttp's connection handler
answers it itself with a plain-text 400 that quotes the offending line back, an `Authorization`
header (a JWT) or a `?token=` included. Its `handle_error` is the one hook for that, so both
services run their apps on a runner whose connections use `ContractRequestHandler`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMethod, LineTooLong
from aiohttp.web_protocol import RequestHandler

from shared.errors import ApiError, error_response
from shared.logging_setup import REQUEST_ID_KEY, request_id_request_key
from shared.request_id import REQUEST_ID_HEADER, request_id_of

_MESSAGES: dict[int, str] = {
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: "a request header is too large",
    HTTPStatus.REQUEST_URI_TOO_LONG: "the request line is too long",
}
_TOO_LONG = "a request line or header is over 8190 bytes"


class ContractRequestHandler(RequestHandler):
    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """The contract's error shape, never a word of the request in it (`message` quotes
        it, so it is not used). Logged as aiohttp logs it, which shared/logging_setup.py cuts
        down to one line naming the error's class, with the answer's request id."""
        # A new id for a request that could not be parsed (one that was has its own).
        request_id = request.get(request_id_request_key) or request_id_of(None)
        extra = {REQUEST_ID_KEY: request_id}
        if isinstance(exc, BadHttpMethod) and self._request_count == 1:
            # Not HTTP at all (TLS to a plain port, a scanner): aiohttp logs it at debug too.
            self.logger.debug(
                "Error handling request from %s", request.remote, exc_info=exc, extra=extra
            )
        else:
            self.log_exception(
                "Error handling request from %s", request.remote, exc_info=exc, extra=extra
            )
        if request.writer.output_size > 0:
            raise ConnectionError("the response had begun: no error can be sent")
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            error = ApiError(status, "internal", "internal server error")
        else:
            default = (
                _TOO_LONG if isinstance(exc, LineTooLong) else "the request could not be parsed"
            )
            error = ApiError(status, "bad_request", _MESSAGES.get(status, default))
        response = error_response(error)
        response.headers[REQUEST_ID_HEADER] = request_id
        response.force_close()
        return response


class ContractServer(web.Server):
    """aiohttp's server, whose connections answer unparsable requests in the error shape."""

    handler_class: type[ContractRequestHandler] = ContractRequestHandler

    def __call__(self) -> RequestHandler:
        return self.handler_class(self, loop=self._loop, **self._kwargs)


class ContractAppRunner(web.AppRunner):
    """`web.AppRunner` serving through `ContractServer`, whose connections are `handler_class`
    (the gateway's strips credentials from its upgrade requests' URLs)."""

    def __init__(
        self,
        app: web.Application,
        *,
        handler_class: type[ContractRequestHandler] = ContractRequestHandler,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, **kwargs)
        self.handler_class = handler_class

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        kwargs: dict[str, Any] = dict(server._kwargs)
        contract_server = ContractServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            **kwargs,
        )
        contract_server.handler_class = self.handler_class
        return contract_server
