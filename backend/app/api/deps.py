"""Request dependencies: the transaction, the authenticated actor, the services."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.config import Settings
from app.core.database import Database, configure_transaction
from app.core.errors import Unauthorized
from app.core.security import InvalidToken, TokenVerifier
from app.services.actor import Actor


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
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


SessionDep = Annotated[AsyncSession, Depends(get_db, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]

_bearer = HTTPBearer(auto_error=False, description="A Supabase Auth access token.")


async def get_actor(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """Verify the bearer token, then run the transaction as that user for Postgres RLS."""
    if credentials is None or not credentials.credentials:
        raise Unauthorized("A bearer token is required.", code="missing_token")
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        claims = await verifier.verify(credentials.credentials)
    except InvalidToken as error:
        raise Unauthorized(
            f"The access token is not valid: {error}.", code="invalid_token"
        ) from None
    await configure_transaction(session, settings, claims=claims.claims)
    return Actor(user_id=claims.sub, email=claims.email, claims=claims.claims)


CurrentActor = Annotated[Actor, Depends(get_actor)]
