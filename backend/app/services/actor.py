from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from app.core.security import TokenClaims


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting in this request: the verified token's user."""

    user_id: uuid.UUID
    email: str | None
    claims: dict[str, Any] = field(repr=False)

    @classmethod
    def of(cls, token: TokenClaims) -> Actor:
        return cls(user_id=token.sub, email=token.email, claims=token.claims)

    @property
    def full_name_hint(self) -> str | None:
        # Profile data only (never authorization): Supabase puts the sign-up name here.
        metadata = self.claims.get("user_metadata")
        if isinstance(metadata, dict):
            name = metadata.get("full_name") or metadata.get("name")
            if isinstance(name, str) and name.strip():
                return name.strip()[:200]
        return None
