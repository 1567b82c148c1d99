"""Who is acting: the verified token's user, as every rule sees them."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from app.core.security import TokenClaims


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting in this request: the verified token's user."""

    user_id: uuid.UUID
    email: str | None
    claims_json: str = field(repr=False)

    @classmethod
    def of(cls, token: TokenClaims) -> Actor:
        return cls(user_id=token.sub, email=token.email, claims_json=token.claims_json)

    @property
    def full_name_hint(self) -> str | None:
        # Profile data only (never authorization): Supabase puts the sign-up name here. Read
        # when a profile is first made, so the claims are parsed only then.
        claims: dict[str, Any] = json.loads(self.claims_json)
        metadata = claims.get("user_metadata")
        if isinstance(metadata, dict):
            name = metadata.get("full_name") or metadata.get("name")
            if isinstance(name, str) and name.strip():
                return name.strip()[:200]
        return None
