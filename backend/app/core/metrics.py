"""The Prometheus metrics the app records, and where it records them from.

Recorded only when METRICS_PORT is set: then `loopin serve` serves them on that port, never on
the API's (app.core.metrics_server). With several workers, prometheus_client's multiprocess
mode adds up what each worker writes; this module must therefore be imported only after
`loopin serve` has set PROMETHEUS_MULTIPROC_DIR (prometheus_client chooses its storage at
import), so the modules the CLI imports import it lazily.

Labels are bounded: routes by their template (`/v1/habits/{habit_id}`, `unmatched` when none
matched), never by a path with ids in it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import AsyncAdaptedQueuePool, PoolProxiedConnection, QueuePool

# The OTLP request histogram (app.core.metrics_otlp) uses the same buckets.
REQUEST_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20)

REQUESTS = Counter(
    "loopin_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "loopin_http_request_duration_seconds",
    "Time from the request's arrival to its last response byte.",
    ["route", "method", "status"],
    buckets=REQUEST_SECONDS_BUCKETS,
)
IN_FLIGHT = Gauge(
    "loopin_http_requests_in_flight",
    "Requests being served now.",
    multiprocess_mode="livesum",
)
POOL_SIZE = Gauge(
    "loopin_db_pool_size",
    "Connections the pools keep (DATABASE_POOL_SIZE per worker).",
    multiprocess_mode="livesum",
)
POOL_CHECKED_OUT = Gauge(
    "loopin_db_pool_checked_out",
    "Pooled connections in use by a request now.",
    multiprocess_mode="livesum",
)
POOL_OVERFLOW = Gauge(
    "loopin_db_pool_overflow",
    "Connections open beyond the pool size now (DATABASE_MAX_OVERFLOW at most per worker).",
    multiprocess_mode="livesum",
)
POOL_WAIT_SECONDS = Histogram(
    "loopin_db_pool_checkout_seconds",
    "Time to get a connection from the pool: waiting for a free one, or opening a new one.",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
DATABASE_ERRORS = Counter(
    "loopin_db_errors",
    "Failed database statements, by kind: constraint (a rule the API answers), integrity, "
    "data (bad input), busy (timeouts, deadlocks, serialization), unavailable, unexpected.",
    ["kind"],
)
SYNC_PAGE_CHANGES = Histogram(
    "loopin_sync_page_changes",
    "Changes in one page of GET /v1/sync.",
    buckets=(0, 1, 10, 50, 100, 250, 500, 1000, 2500),
)
SYNC_BATCH_ITEMS = Histogram(
    "loopin_sync_batch_items",
    "Check-ins in one POST /v1/sync/checkins.",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500),
)

UNMATCHED_ROUTE = "unmatched"
# Any other method a client sends counts as `_OTHER` (as OpenTelemetry's semantic conventions
# say), so that made-up methods cannot make up series.
_KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
)


def bounded_method(method: str) -> str:
    return method if method in _KNOWN_METHODS else "_OTHER"


def request_started() -> None:
    IN_FLIGHT.inc()


# Exemplars (the request id on the latency bucket a request fell in, shown in the OpenMetrics
# exposition) only when one process serves: prometheus_client's multiprocess mode, which
# several workers need, keeps none. Decided as prometheus_client decides its storage: by
# PROMETHEUS_MULTIPROC_DIR at import (`loopin serve --workers 1` leaves it unset).
EXEMPLARS = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
# An exemplar's labels may hold 128 characters in all; a proxy's request id may be longer.
_EXEMPLAR_ID_CHARS = 100


def request_finished(
    route: str | None, method: str, status: int, seconds: float, request_id: str
) -> None:
    IN_FLIGHT.dec()
    labels = (route or UNMATCHED_ROUTE, bounded_method(method), str(status))
    REQUESTS.labels(*labels).inc()
    exemplar = {"request_id": request_id[:_EXEMPLAR_ID_CHARS]} if EXEMPLARS else None
    REQUEST_SECONDS.labels(*labels).observe(seconds, exemplar=exemplar)


def database_error(kind: str) -> None:
    DATABASE_ERRORS.labels(kind).inc()


class TimedQueuePool(AsyncAdaptedQueuePool):
    """The engine's usual pool, timing each checkout (SQLAlchemy has no event before one).
    Both the ORM sessions and the hot paths (`app.db.sql`) check out through `connect`."""

    def connect(self) -> PoolProxiedConnection:
        started = time.perf_counter()
        try:
            return super().connect()
        finally:
            POOL_WAIT_SECONDS.observe(time.perf_counter() - started)


# SQLAlchemy names a pool's logger after its class, and keeps its own ("sqlalchemy.*") at
# WARNING; this one would otherwise log "Pool disposed ..." at INFO under `app`.
logging.getLogger(f"{__name__}.{TimedQueuePool.__name__}").setLevel(logging.WARNING)


def sample_pool(engine: AsyncEngine) -> None:
    """Set the pool gauges from the pool's own counts (this worker's)."""
    pool = engine.sync_engine.pool
    if isinstance(pool, QueuePool):
        POOL_SIZE.set(pool.size())
        POOL_CHECKED_OUT.set(pool.checkedout())
        # QueuePool counts overflow from -pool_size up: only what exceeds the size counts.
        POOL_OVERFLOW.set(max(pool.overflow(), 0))


async def sample_pool_forever(engine: AsyncEngine, every_seconds: float = 1.0) -> None:
    """The pool gauges, sampled once a second by each worker while it runs (the pool's
    checkin event fires before the connection is back, so events would lag by one)."""
    while True:
        sample_pool(engine)
        await asyncio.sleep(every_seconds)
