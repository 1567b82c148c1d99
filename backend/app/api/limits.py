"""A cap on request body size, enforced before any of the body is parsed.

Why our own middleware and not FastAPI's `max_body_size`: with the locked FastAPI, a declared
`Content-Length` over the limit is answered `413 text/plain` on every route, not the
problem+json the contract promises for every non-2xx answer."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import problem_response


class BodyTooLarge(HTTPException):
    """Raised by the body's `receive` once a streamed body goes past the limit. An HTTP
    exception, so whatever reads the body (FastAPI's request handler, the hot routes) lets it
    through untouched, and the request's transaction, if any, is rolled back."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is larger than {max_bytes} bytes.")


class BodySizeLimit:
    """Answer 413 problem+json for bodies over `max_bytes`: at once when Content-Length says
    so, or as soon as a streamed (chunked) body goes past the limit. The app never gets a
    body cut at the limit: the part under it may well parse on its own (a valid document
    padded with whitespace), and must not be acted on."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, *, by_path_suffix: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Uploads (a backup file) whose path ends so get their own limit.
        self.by_path_suffix = dict(by_path_suffix or {})

    def limit_for(self, path: str) -> int:
        for suffix, limit in self.by_path_suffix.items():
            if path.endswith(suffix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
            await self._reject(scope, receive, send, max_bytes)
            return
        received = 0
        too_large = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                raise BodyTooLarge(self.max_bytes)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    too_large = True
                    raise BodyTooLarge(self.max_bytes)
            return message

        response_started = False

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if too_large:
                return  # the 413 below is the answer, whatever the app made of the error
            response_started = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)
        if too_large and not response_started:
            await self._reject(scope, receive, send, max_bytes)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        response = problem_response(
            413,
            "payload_too_large",
            f"The request body is larger than {max_bytes} bytes.",
        )
        await response(scope, receive, send)
