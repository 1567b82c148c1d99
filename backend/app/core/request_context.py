"""The HTTP request being served, as the logs see it: its id and its pseudonymous user.

`RequestObservation` (app.core.observation) opens one per request in a ContextVar; the token
check records the user in it (`record_user`); the log processor `add_request_fields` copies
both into every line logged while the request runs: database errors, 5xx, the access line.
A ContextVar (rather than request.state) because the code that logs a database error knows
nothing of the request.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import uuid
from collections.abc import MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from app.core.config import Settings

# What a proxy's X-Request-ID may look like to be kept (uuids, hex ids, AWS/GCP trace ids):
# short, printable, nothing that could break a log line. Anything else is replaced.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:;=+/-]{1,128}", re.ASCII)
# The request id's name where OpenTelemetry carries it: on the request's span
# (app.core.tracing) and on its metrics' exemplars (app.core.metrics_otlp).
REQUEST_ID_ATTRIBUTE = "loopin.request_id"


def request_id_from(header: bytes | None) -> str:
    """The proxy's id when it sent a sane one, else a new one."""
    if header:
        candidate = header.decode("latin-1")
        if _SANE_REQUEST_ID.fullmatch(candidate):
            return candidate
    return uuid.uuid4().hex


class UserPseudonyms:
    """A user id for logs that is stable but not the user's: HMAC-SHA256 of the token's `sub`
    under a key the logs' readers do not have, cut to 16 hex digits."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> UserPseudonyms:
        """LOG_USER_KEY; else derived from the JWT secret (stable across workers and
        restarts, and not the secret itself); else random, so stable within one process."""
        if settings.log_user_key is not None:
            return cls(settings.log_user_key.get_secret_value().encode())
        if settings.jwt_secret is not None:
            derived = hmac.new(settings.jwt_secret.encode(), b"loopin log pseudonyms", "sha256")
            return cls(derived.digest())
        return cls(os.urandom(32))

    def __call__(self, sub: uuid.UUID) -> str:
        return hmac.new(self._key, sub.bytes, hashlib.sha256).hexdigest()[:16]


@dataclass(slots=True)
class RequestContext:
    request_id: str
    pseudonyms: UserPseudonyms
    user: str | None = None
    # The request's OpenTelemetry span when it is traced (app.core.tracing), to tag the user.
    span: Any = None


current_request: ContextVar[RequestContext | None] = ContextVar("loopin_request", default=None)


def record_user(sub: uuid.UUID) -> None:
    """The request's user, once its token is verified."""
    context = current_request.get()
    if context is not None and context.user is None:
        context.user = context.pseudonyms(sub)
        if context.span is not None:
            context.span.set_attribute("enduser.pseudo.id", context.user)


def add_request_fields(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the request's id and user on every line logged during it."""
    context = current_request.get()
    if context is not None:
        event.setdefault("request_id", context.request_id)
        if context.user is not None:
            event.setdefault("user", context.user)
    return event


@dataclass(frozen=True, slots=True)
class FinishedRequest:
    method: str
    # The matched route's template (`/v1/habits/{habit_id}`), never the raw path: bounded
    # cardinality, and no ids in metric labels. None when no route matched.
    route: str | None
    status: int
    duration_ms: float
