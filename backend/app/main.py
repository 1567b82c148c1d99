"""The ASGI application: `create_app()` builds it; the lifespan owns the engine."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.limits import BodySizeLimit
from app.api.openapi import install_openapi
from app.api.routes import (
    boards,
    checkins,
    families,
    habits,
    health,
    imports,
    invitations,
    me,
    routines,
    sync,
)
from app.core.config import Settings, SettingsError, load_settings
from app.core.errors import install_error_handlers
from app.core.logging import configure_logging
from app.core.metrics import sample_pool_forever
from app.core.metrics_otlp import (
    exporting_meter_provider,
    install_request_metrics,
    otlp_metrics_configured,
)
from app.core.metrics_server import forget_this_worker
from app.core.observation import RequestObservation
from app.core.request_context import UserPseudonyms
from app.core.security import TokenVerifier
from app.core.tracing import exporting_provider, install_tracing, tracing_configured
from app.db.database import Database
from app.db.diagnostics import describe_connection_error
from app.services.quotas import Quotas
from app.services.rate_limits import RateLimits

logger = logging.getLogger("app")


def operation_id(route: APIRoute) -> str:
    """`families-create`, `habits-list`, ...: the tag, then the route's name."""
    tag = str(route.tags[0]) if route.tags else "default"
    return f"{tag}-{route.name}"


class LoopinApp(FastAPI):
    """FastAPI, with `RequestObservation` around everything Starlette runs, outside its
    ServerErrorMiddleware (`add_middleware` would put it inside) and OpenTelemetry's: so the
    500 handler logs inside the request's context, the access line sees the final status,
    and the request's span can be tagged with its id."""

    _observed: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._observed is None:
            settings: Settings = self.state.settings
            self._observed = RequestObservation(
                super().__call__,
                pseudonyms=UserPseudonyms.from_settings(settings),
                access_log=settings.access_log,
                metrics=settings.metrics_port is not None,
                otlp_metrics=getattr(self.state, "request_metrics", None),
            )
        await self._observed(scope, receive, send)


def serve_app() -> FastAPI:
    """The factory `loopin serve` gives uvicorn: logging set up in each worker, then the app."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.effective_log_format)
    return create_app(settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    runtime_url = settings.runtime_url
    if runtime_url is None:
        raise SettingsError(
            "setting DATABASE_URL: not set (use `loopin serve`, which starts an embedded Postgres)"
        )
    if not (settings.jwt_secret or settings.jwks_url):
        raise SettingsError(
            "setting SUPABASE_URL: neither it nor SUPABASE_JWT_SECRET is set, so no token "
            "could be verified"
        )
    token_verifier = TokenVerifier(
        jwt_secret=settings.jwt_secret,
        jwks_url=settings.jwks_url,
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        jwks_cache_seconds=settings.jwks_cache_seconds,
        allow_anonymous=settings.allow_anonymous_users,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings, runtime_url)
        app.state.database = database
        try:
            await database.ping(settings.health_timeout_seconds)
        except Exception as error:  # serve anyway: /health/ready reports 503 until it is back
            logger.error("database not ready: %s", describe_connection_error(error, runtime_url))
        else:
            logger.info(
                "database ready at %s (pool mode: %s)",
                runtime_url.redacted(),
                database.pool_mode.value,
            )
        # What start-up built (routes, schemas, SQLAlchemy's mappers, ...) lives as long as the
        # process: frozen out of the collector's sight, its full passes only walk what
        # requests allocate, instead of pausing every worker for the whole heap.
        gc.collect()
        gc.freeze()
        pool_sampler = (
            asyncio.create_task(sample_pool_forever(database.engine))
            if settings.metrics_port is not None
            else None
        )
        try:
            yield
        finally:
            if pool_sampler is not None:
                pool_sampler.cancel()
                forget_this_worker()
            tracer_provider = getattr(app.state, "tracer_provider", None)
            if tracer_provider is not None:
                tracer_provider.shutdown()  # sends the spans still in its batch
            meter_provider = getattr(app.state, "meter_provider", None)
            if meter_provider is not None:
                meter_provider.shutdown()  # sends what was recorded since the last export
            await database.dispose()
            await token_verifier.aclose()

    app = LoopinApp(
        title="Loopin API",
        version="1.0.0",
        summary="Family habits and routines: multi-tenant, offline-friendly.",
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
    )
    app.state.settings = settings
    app.state.token_verifier = token_verifier
    if tracing_configured():
        install_tracing(app, exporting_provider())
    if otlp_metrics_configured():
        install_request_metrics(app, exporting_meter_provider())
    app.state.quotas = Quotas.of(settings)
    app.state.rate_limits = RateLimits.of(settings)
    install_error_handlers(app)
    install_openapi(app)
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_request_body_bytes,
        by_path_suffix={imports.LOOP_IMPORT_PATH_SUFFIX: settings.loop_import_max_bytes},
    )
    # Routes are matched in this order, one by one: the requests the app sends most first.
    for router in (
        health.router,
        boards.router,
        checkins.router,
        habits.router,
        me.router,
        families.router,
        families.members_router,
        invitations.router,
        invitations.accept_router,
        habits.family_router,
        routines.family_router,
        routines.router,
        sync.router,
        imports.router,
    ):
        app.include_router(router)
    return app
