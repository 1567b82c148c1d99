"""Per-login request rate limits on the expensive reads and the batch writes, counted in
Postgres (`public.take_rate_limit`, an upsert on an UNLOGGED table) so they hold across
workers and replicas.

Why no library: the maintained ones (`limits` and what builds on it, slowapi; fastapi-limiter;
pyrate-limiter) keep their counters in memory, Redis, Memcached or MongoDB. Memory counts per
worker, and a Redis would be a new service to run next to Supabase; pyrate-limiter's Postgres
bucket needs its own psycopg pool (a second driver) and a row per request in a table outside
our migrations. One statement in the request's own transaction costs less than any of them.

The count is a fixed window per login and bucket. It is taken in the request's transaction,
so a request that fails is not counted, and a login's concurrent requests of one bucket wait
for each other's commit (the counter row's lock): neither matters at these rates. The
statements are `app.repositories.limits`'."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.core.config import Settings
from app.core.errors import ProblemError
from app.repositories import limits

WINDOW_SECONDS = 60
# Stats of a habit with a longer history than this count against `long_stats`; shorter ones
# (nearly all, and the hot path's common case) cost no statement.
LONG_STATS_DAYS = 400


async def forget_old_windows(engine: AsyncEngine) -> int:
    """Drop counters whose window ended long ago (`loopin maintain`): the table holds the
    logins active in the last hour, not every login that ever was."""
    return await limits.forget_old_windows(engine)


class RateLimited(ProblemError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, bucket: str, limit: int, retry_after: int) -> None:
        super().__init__(
            f"More than {limit} such requests a minute; retry in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
            limit=limit,
            bucket=bucket,
        )


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    per_minute: int

    async def take(self, session: AsyncSession) -> None:
        """Count this request (ORM session); RateLimited when over the limit."""
        self._check(
            await limits.take_rate_limit(session, self.name, self.per_minute, WINDOW_SECONDS)
        )

    async def take_on(self, connection: Any) -> None:
        """The same on a hot path's asyncpg connection (`app.db.sql`)."""
        self._check(
            await limits.take_rate_limit_on(connection, self.name, self.per_minute, WINDOW_SECONDS)
        )

    def _check(self, wait: int | None) -> None:
        if wait:
            raise RateLimited(self.name, self.per_minute, int(wait))


@dataclass(frozen=True, slots=True)
class RateLimits:
    sync: Bucket  # a sync pass begun (no cursor, or one where the last pass ended)
    sync_pages: Bucket  # the following pages of a pass (`has_more`)
    batch_writes: Bucket

    @classmethod
    def of(cls, settings: Settings) -> RateLimits:
        return cls(
            sync=Bucket("sync", settings.rate_limit_sync_per_minute),
            sync_pages=Bucket("sync_pages", settings.rate_limit_sync_pages_per_minute),
            batch_writes=Bucket("batch_writes", settings.rate_limit_batch_writes_per_minute),
        )
