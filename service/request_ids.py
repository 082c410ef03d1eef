"""A request id per HTTP request: bound into the log context and echoed in X-Request-Id."""

from __future__ import annotations

from flask import Flask, Response, g, request

from core.logging import (
    HTTP_REQUEST_ID_HEADER,
    bind_request_id,
    clear_log_context,
    request_id_from,
)


def init_app(app: Flask) -> None:
    @app.before_request
    def start_request_log_context() -> None:
        g.request_id = request_id_from(request.headers.get(HTTP_REQUEST_ID_HEADER))
        bind_request_id(g.request_id)

    @app.after_request
    def echo_request_id(response: Response) -> Response:
        request_id = g.get("request_id")
        if request_id:
            response.headers[HTTP_REQUEST_ID_HEADER] = request_id
        return response

    @app.teardown_request
    def end_request_log_context(_error: BaseException | None) -> None:
        clear_log_context()
