"""Request dependencies: the request transaction (its session and actor), the settings,
the services' shared state."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

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
from app.db.database import Database
from app.db.transaction import RequestTransaction, request_transaction
from app.domain.actor import Actor
from app.services.quotas import Quotas
from app.services.rate_limits import RateLimits


async def get_settings(request: Request) -> Settings:
    # async: a plain `def` dependency would be run in a worker thread on every request.
    settings: Settings = request.app.state.settings
    return settings


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
    """The bearer token's verified claims, or 401/403 (or 503 when the keys cannot be had)."""
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


async def get_transaction(request: Request, claims: ClaimsDep) -> AsyncIterator[RequestTransaction]:
    """Every request's transaction, hot routes included (`app.db.transaction`): the token
    checked first (a 401 costs no round trip), then one transaction as its user, committed
    when the handler returns, before the response is sent (function scope), rolled back on
    any error. What the handler reaches the database with comes from it: `.sql` (the asyncpg
    connection), `.session` (an ORM session on the same connection), `.actor`."""
    database: Database = request.app.state.database
    async with request_transaction(database, Actor.of(claims)) as transaction:
        yield transaction


TransactionDep = Annotated[RequestTransaction, Depends(get_transaction, scope="function")]


async def get_session(transaction: TransactionDep) -> AsyncSession:
    return transaction.session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_actor(transaction: TransactionDep) -> Actor:
    return transaction.actor


CurrentActor = Annotated[Actor, Depends(get_actor)]
