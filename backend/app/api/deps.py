"""Request dependencies: the transaction, the authenticated actor, the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.errors import AuthUnavailable, Forbidden, Unauthorized
from app.core.request_context import record_user
from app.core.security import (
    AnonymousUser,
    InvalidToken,
    KeysUnavailable,
    TokenClaims,
    TokenVerifier,
)
from app.db.database import Database, configure_transaction
from app.db.deadlines import DeadlinePassed, database_deadline
from app.db.sql import user_transaction
from app.domain.actor import Actor
from app.services.quotas import Quotas
from app.services.rate_limits import RateLimits


async def get_settings(request: Request) -> Settings:
    # async: a plain `def` dependency would be run in a worker thread on every request.
    settings: Settings = request.app.state.settings
    return settings


async def get_db(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the handler returns, before the response
    is sent (the dependency is function-scoped), rolled back on any error, always closed."""
    database: Database = request.app.state.database
    async with database.sessionmaker() as session:
        try:
            async with database_deadline(database.settings):
                yield session
                await session.commit()
        except DeadlinePassed:
            # A statement may still be running, or the server not answering: no rollback to
            # wait for. (SQLAlchemy has already invalidated a connection whose statement was
            # cancelled, after up to 2 s of trying to close it gracefully.)
            await session.invalidate()
            raise
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_db, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_quotas(request: Request) -> Quotas:
    quotas: Quotas = request.app.state.quotas
    return quotas


QuotasDep = Annotated[Quotas, Depends(get_quotas)]


async def get_rate_limits(request: Request) -> RateLimits:
    rate_limits: RateLimits = request.app.state.rate_limits
    return rate_limits


RateLimitsDep = Annotated[RateLimits, Depends(get_rate_limits)]

bearer = HTTPBearer(auto_error=False, description="A Supabase Auth access token.")


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def get_claims(request: Request, credentials: BearerDep) -> TokenClaims:
    """The bearer token's verified claims, or 401."""
    return await verified_claims(request, credentials)


async def verified_claims(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> TokenClaims:
    if credentials is None or not credentials.credentials:
        raise Unauthorized("A bearer token is required.", code="missing_token")
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        claims = await verifier.verify(credentials.credentials)
    except InvalidToken as error:
        raise Unauthorized(
            f"The access token is not valid: {error}.", code="invalid_token"
        ) from None
    except AnonymousUser:
        raise Forbidden(
            "Anonymous sign-ins cannot use this API: sign up (link an email or a provider)"
            " and use the new access token.",
            code="anonymous_user_not_allowed",
        ) from None
    except KeysUnavailable as error:
        raise AuthUnavailable(
            "The signing keys cannot be fetched right now; retry shortly.",
            headers={"Retry-After": str(error.retry_after)},
        ) from None
    record_user(claims.sub)
    return claims


ClaimsDep = Annotated[TokenClaims, Depends(get_claims)]


async def get_actor(session: SessionDep, settings: SettingsDep, claims: ClaimsDep) -> Actor:
    """Run the session's transaction as the token's user, for Postgres RLS."""
    await configure_transaction(session, settings, claims_json=claims.claims_json)
    return Actor.of(claims)


CurrentActor = Annotated[Actor, Depends(get_actor)]


@dataclass(frozen=True, slots=True)
class ActingConnection:
    """A hot path's request: the actor, its transaction on the asyncpg connection, and the
    settings."""

    actor: Actor
    sql: asyncpg.Connection
    settings: Settings


async def get_acting_connection(
    request: Request, credentials: BearerDep
) -> AsyncIterator[ActingConnection]:
    """As `get_db` + `get_actor`, without the ORM (`app.db.sql`): one transaction as the
    token's user, committed when the handler returns, before the response is sent. The hot
    routes declare it (their OpenAPI security comes from it) and `DriverRoute` runs the same
    two steps itself, checking the parameters in between; FastAPI's handler runs it as
    written for the twins that `tests/api/test_driver_route.py` compares them with."""
    async with acting_transaction(request, await verified_claims(request, credentials)) as acting:
        yield acting


@asynccontextmanager
async def acting_transaction(
    request: Request, claims: TokenClaims
) -> AsyncIterator[ActingConnection]:
    database: Database = request.app.state.database
    async with user_transaction(
        database.driver_connections, database.settings, claims.claims_json
    ) as connection:
        yield ActingConnection(Actor.of(claims), connection, database.settings)


ActingConnectionDep = Annotated[ActingConnection, Depends(get_acting_connection, scope="function")]
