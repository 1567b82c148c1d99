"""Settings: one object, read from the environment and `.env`.

A wrong value stops the start with one line that names the setting (see `load_settings`).
"""

from __future__ import annotations

import functools
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import available_timezones

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.db.supabase_shape import DatabaseShape

REPO_ROOT = Path(__file__).resolve().parents[3]


class PoolMode(StrEnum):
    SESSION = "session"
    TRANSACTION = "transaction"


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it and says why."""


# URL parameters that libpq/Supabase URLs carry but asyncpg.connect() rejects. `sslmode` is
# translated to asyncpg's `ssl`; the rest only mean something to other clients.
_SSL_MODES = {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
_DROPPED_PARAMS = {
    "pgbouncer",
    "connection_limit",
    "pool_timeout",
    "schema",
    "sslcert",
    "sslkey",
    "sslrootcert",
    "sslcrl",
    "target_session_attrs",
    "channel_binding",
    "gssencmode",
    "application_name",
    "options",
    "connect_timeout",
    "statement_cache_size",
    "prepared_statement_cache_size",
}
_PGBOUNCER_TRANSACTION_PORT = 6543


class DatabaseUrl:
    """A Postgres URL normalised for SQLAlchemy + asyncpg.

    Accepts `postgres://`, `postgresql://` and `postgresql+asyncpg://`; keeps what asyncpg
    understands and remembers what the stripped parameters said (pooler hints, sslmode).
    """

    def __init__(self, raw: str) -> None:
        parts = urlsplit(raw.strip())
        scheme = parts.scheme.lower()
        if scheme not in {"postgres", "postgresql", "postgresql+asyncpg"}:
            raise ValueError(
                f"must start with postgresql:// or postgres:// (got {scheme or 'no'} scheme)"
            )
        if not parts.path.strip("/") and "host=" not in parts.query:
            raise ValueError("names no database (add /postgres or your database name)")
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.pgbouncer_hint = params.get("pgbouncer", "").lower() in {"1", "true", "yes", "on"}
        self.port = parts.port or 5432
        self.host = parts.hostname or params.get("host", "")
        sslmode = params.pop("sslmode", None)
        if sslmode is not None and sslmode not in _SSL_MODES:
            raise ValueError(f"sslmode={sslmode!r} is not one of {sorted(_SSL_MODES)}")
        if sslmode and "ssl" not in params:
            params["ssl"] = sslmode
        kept = {k: v for k, v in params.items() if k not in _DROPPED_PARAMS}
        self.sqlalchemy_url = urlunsplit(
            ("postgresql+asyncpg", parts.netloc, parts.path, urlencode(kept), "")
        )
        # libpq form without driver suffix, for tools like psql and pg_dump.
        self.libpq_url = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(kept), ""))

    @property
    def looks_pooled(self) -> bool:
        return self.pgbouncer_hint or self.port == _PGBOUNCER_TRANSACTION_PORT

    def redacted(self) -> str:
        parts = urlsplit(self.libpq_url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            parts = parts._replace(netloc=netloc)
        return urlunsplit(parts)


PositiveInt = Annotated[int, Field(gt=0)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- database ---
    database_url: str | None = Field(
        default=None, description="Pooled runtime URL. Unset: an embedded Postgres is started."
    )
    direct_url: str | None = Field(
        default=None, description="Direct/session URL for Alembic; falls back to DATABASE_URL."
    )
    database_pool_mode: PoolMode | None = Field(
        default=None,
        description="session | transaction; unset: transaction when ?pgbouncer=true or port 6543.",
    )
    # Kept per worker: sized for a busy worker's steady concurrency, because SQLAlchemy closes
    # an overflow connection as soon as it is returned. A steady load above the pool size
    # opens and closes a connection every few requests: the request that waits for it waits for
    # a Postgres backend to start, authenticate and answer asyncpg's type introspection, and
    # the worker spends CPU on each. The overflow is for bursts only.
    database_pool_size: PositiveInt = 20
    database_max_overflow: Annotated[int, Field(ge=0)] = 10
    database_pool_timeout: Annotated[float, Field(gt=0)] = 5.0
    database_pool_recycle: Annotated[int, Field(ge=-1)] = 1800
    # Off: a pre-ping costs three round trips per checkout (BEGIN, `;`, ROLLBACK). Dropped
    # connections are caught on first use instead (app.db.sql retries a failed BEGIN once).
    database_pool_pre_ping: bool = False
    database_connect_timeout: Annotated[float, Field(gt=0)] = 5.0
    statement_timeout_ms: Annotated[int, Field(ge=0)] = 15_000
    lock_timeout_ms: Annotated[int, Field(ge=0)] = 5_000
    health_timeout_seconds: Annotated[float, Field(gt=0)] = 2.0
    # `loopin migrate`: how long one DDL statement may wait for a table lock before the
    # migration gives up (0 = forever). Live traffic queues behind a waiting DDL statement.
    migration_lock_timeout_ms: Annotated[int, Field(ge=0)] = 5_000
    loopin_data_dir: Path = REPO_ROOT / ".loopin"
    embedded_port: Annotated[int, Field(gt=0, lt=65536)] = 54329
    # How a new embedded cluster is prepared (app.db.supabase_shape); an existing data
    # folder keeps the shape it was made with.
    embedded_db_shape: DatabaseShape = DatabaseShape.SUPABASE

    # --- auth (Supabase) ---
    supabase_url: str | None = Field(default=None, description="https://<ref>.supabase.co")
    supabase_jwt_secret: SecretStr | None = Field(
        default=None, description="Legacy HS256 JWT secret of the Supabase project."
    )
    jwt_audience: str = "authenticated"
    jwt_issuer: str | None = None
    jwks_cache_seconds: Annotated[float, Field(gt=0)] = 600.0
    # Supabase's anonymous sign-ins give a real, signed access token with `is_anonymous:
    # true` to anyone who asks, without an email: off, such a token is refused (403).
    allow_anonymous_users: bool = False

    # --- requests ---
    max_request_body_bytes: Annotated[int, Field(ge=1024)] = 1_048_576
    # A Loop Habit Tracker backup holds years of history: its upload has a limit of its own.
    loop_import_max_bytes: Annotated[int, Field(ge=1024)] = 8_388_608

    # --- product rules ---
    checkin_backfill_days: Annotated[int, Field(ge=0, le=3650)] = 30
    # `loopin maintain` keeps the change log's history this long; a sync cursor older than
    # that may have to start over (410 resync_required).
    sync_retention_days: Annotated[int, Field(ge=1, le=3650)] = 90

    # --- quotas (409 with a code naming the quota; see app/services/quotas.py) ---
    max_families_per_user: PositiveInt = 20
    max_habits_per_family: PositiveInt = 300
    max_managed_profiles_per_family: PositiveInt = 20
    max_pending_invitations_per_family: PositiveInt = 50
    max_versions_per_habit: PositiveInt = 100

    # --- rate limits per login, requests a minute (429; see app/services/rate_limits.py) ---
    # Sync passes begun; the pages that follow within a pass count apart, so the first sync
    # of a family with years of history is not cut off after a minute's worth of passes.
    rate_limit_sync_per_minute: PositiveInt = 120
    rate_limit_sync_pages_per_minute: PositiveInt = 1200
    # Stats of a habit with more than LONG_STATS_DAYS of history (the others are not counted).
    rate_limit_long_stats_per_minute: PositiveInt = 60
    rate_limit_batch_writes_per_minute: PositiveInt = 30

    # --- process ---
    log_level: str = "INFO"
    log_format: LogFormat | None = Field(
        default=None, description="json | console; unset: json when ENVIRONMENT=production."
    )
    access_log: bool = True
    # Prometheus metrics on this port of `loopin serve` (never the API's); unset: none.
    metrics_port: Annotated[int | None, Field(gt=0, lt=65536)] = None
    # Key of the HMAC that turns a user id into the pseudonym the logs show.
    log_user_key: SecretStr | None = None
    environment: str = Field(
        default="development",
        description="development | production (any case: it is compared lower-cased)",
    )

    @field_validator("database_url", "direct_url")
    @classmethod
    def _valid_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        DatabaseUrl(value)  # raises ValueError with the reason
        return value

    @field_validator("supabase_url")
    @classmethod
    def _valid_supabase_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be the project URL, like https://<ref>.supabase.co")
        return value.rstrip("/")

    @field_validator("log_level")
    @classmethod
    def _valid_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("environment")
    @classmethod
    def _environment_lower_cased(cls, value: str) -> str:
        # Compared in several places (`is_production`, the CLI): one spelling for all of them.
        return value.strip().lower()

    @model_validator(mode="after")
    def _auth_configured_in_production(self) -> Settings:
        if not self.is_production:
            return self
        if not (self.supabase_url or self.supabase_jwt_secret):
            raise ValueError(
                "SUPABASE_URL or SUPABASE_JWT_SECRET must be set when ENVIRONMENT=production"
            )
        if not self.supabase_url or not self.supabase_url.startswith("https://"):
            raise ValueError(
                "SUPABASE_URL must be the project's https:// URL when ENVIRONMENT=production"
                " (tokens' keys are fetched from it, and checked against it)"
            )
        if not self.jwt_issuer:
            raise ValueError(
                "JWT_ISSUER must be set when ENVIRONMENT=production"
                " (https://<ref>.supabase.co/auth/v1), so tokens of other projects are refused"
            )
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    # --- derived values ---
    @property
    def runtime_url(self) -> DatabaseUrl | None:
        return DatabaseUrl(self.database_url) if self.database_url else None

    @property
    def migration_url(self) -> DatabaseUrl | None:
        raw = self.direct_url or self.database_url
        return DatabaseUrl(raw) if raw else None

    @property
    def pool_mode(self) -> PoolMode:
        if self.database_pool_mode is not None:
            return self.database_pool_mode
        url = self.runtime_url
        return PoolMode.TRANSACTION if url and url.looks_pooled else PoolMode.SESSION

    @property
    def effective_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        production = self.environment.lower() == "production"
        return LogFormat.JSON if production else LogFormat.CONSOLE

    @property
    def jwks_url(self) -> str | None:
        return f"{self.supabase_url}/auth/v1/.well-known/jwks.json" if self.supabase_url else None

    @property
    def jwt_secret(self) -> str | None:
        return self.supabase_jwt_secret.get_secret_value() if self.supabase_jwt_secret else None


def describe_validation_error(error: ValidationError) -> str:
    """One line per wrong setting, named as the operator sets it (upper-case env name)."""
    lines = []
    for item in error.errors():
        name = ".".join(str(part) for part in item["loc"]).upper() or "settings"
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"setting {name}: {message}")
    return "; ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as error:
        raise SettingsError(describe_validation_error(error)) from None


@functools.cache
def known_timezones() -> frozenset[str]:
    return frozenset(available_timezones())
