"""What every HTTP request leaves behind: its id in the response, one access line,
(with METRICS_PORT) its count, duration and the in-flight gauge, and (with an OTLP metrics
endpoint) its duration over OTLP with its id as the exemplar.

`RequestObservation` is a pure ASGI middleware (no BaseHTTPMiddleware: that one runs the app
in a task of its own and streams the response through a queue, which the hot routes would pay
for on every request). It wraps the whole app, outside Starlette's ServerErrorMiddleware, so
the 500 handler's log line still runs inside the request's context and carries its id.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.metrics import request_finished, request_started
from app.core.request_context import (
    FinishedRequest,
    RequestContext,
    UserPseudonyms,
    current_request,
    request_id_from,
)

if TYPE_CHECKING:
    from app.core.metrics_otlp import RequestMetrics

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode()

access_logger = logging.getLogger("app.access")


class RequestObservation:
    def __init__(
        self,
        app: ASGIApp,
        *,
        pseudonyms: UserPseudonyms,
        access_log: bool,
        metrics: bool,
        otlp_metrics: RequestMetrics | None = None,
    ) -> None:
        self.app = app
        self.pseudonyms = pseudonyms
        self.access_log = access_log
        self.metrics = metrics
        self.otlp_metrics = otlp_metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = request_id_from(_header(scope, _REQUEST_ID_KEY))
        context = RequestContext(request_id=request_id, pseudonyms=self.pseudonyms)
        token = current_request.set(context)
        if self.metrics:
            request_started()
        status = 500  # unless the app answers: what the server will send then
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                answered = True
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Starlette's ServerErrorMiddleware has answered 500 and logged the error (inside
            # this context, so with the request id), then re-raises it for the server to log
            # once more, without the id. Answered and logged: it stops here.
            if not answered:
                status = 500
                raise
        finally:
            finished = FinishedRequest(
                method=scope["method"],
                route=getattr(scope.get("route"), "path", None),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
            if self.access_log:
                log_access(finished)
            if self.metrics:
                request_finished(
                    finished.route,
                    finished.method,
                    finished.status,
                    finished.duration_ms / 1000,
                    request_id,
                )
            if self.otlp_metrics is not None:
                self.otlp_metrics.record(finished, request_id, context.span)
            current_request.reset(token)


def log_access(finished: FinishedRequest) -> None:
    level = logging.ERROR if finished.status >= 500 else logging.INFO
    if access_logger.isEnabledFor(level):
        access_logger.log(
            level,
            "request",
            extra={
                "method": finished.method,
                "route": finished.route,
                "status": finished.status,
                "duration_ms": finished.duration_ms,
            },
        )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None
