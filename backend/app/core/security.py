"""Verification of Supabase Auth access tokens.

Legacy projects sign with one shared HS256 secret; newer projects sign with asymmetric keys
(ES256, RS256) published as a JWKS at `{SUPABASE_URL}/auth/v1/.well-known/jwks.json`.
A bad token surfaces as `InvalidToken` (answered 401). A failure of ours is never a 401 (the
app's cue to sign the user out): the signing keys last fetched stay in use while a refresh
fails, refreshes run in the background with bounded retries and a growing pause between
failed rounds (never one fetch per request), and only with no usable key at all does a
verification raise `KeysUnavailable` (answered 503 `auth_unavailable` with Retry-After).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import math
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

logger = logging.getLogger(__name__)

# A flood of tokens with random kids must not turn into a flood of requests to the auth server.
UNKNOWN_KID_REFETCH_SECONDS = 30.0
_FETCH_TIMEOUT_SECONDS = 5.0
# One refresh: up to this many fetches, with these pauses between them (a blip is absorbed).
JWKS_FETCH_ATTEMPTS = 3
_RETRY_PAUSES_SECONDS = (0.2, 0.5)
# How long a request with no usable key waits for a refresh in flight before answering 503.
_WAIT_FOR_KEYS_SECONDS = 5.0
# Supabase tokens are ~1 KB; refuse to parse anything absurdly large.
_MAX_TOKEN_LENGTH = 16 * 1024

# Which JWK may verify which alg. Checked ourselves rather than trusting the JWK's `alg` alone,
# so an RS256 token can never be checked against an EC key (or the reverse).
_ASYMMETRIC: dict[str, tuple[str, type]] = {
    "ES256": ("EC", ec.EllipticCurvePublicKey),
    "RS256": ("RSA", rsa.RSAPublicKey),
}

# A phone sends the same access token with every request for the token's life (an hour on
# Supabase): once verified, it is remembered (by digest) until its `exp`, but no longer than
# the signing keys themselves are trusted without a refetch (`jwks_cache_seconds`: a key
# withdrawn from the JWKS stops verifying new tokens only then, too), so the rest of its
# requests skip the signature check and PyJWT's parsing. Only successful verifications are
# remembered; a bounded LRU, so a flood of tokens evicts. An entry is the digest and the
# claims as Postgres reads them (~1 KB): 32k active sessions cost a worker ~35 MB.
VERIFIED_TOKEN_CACHE_SIZE = 32 * 1024

# Most specific first: InvalidSignatureError is a DecodeError.
_REASONS: list[tuple[type[jwt.PyJWTError], str]] = [
    (jwt.ExpiredSignatureError, "token expired"),
    (jwt.ImmatureSignatureError, "token not yet valid"),
    (jwt.InvalidAudienceError, "invalid audience"),
    (jwt.InvalidIssuerError, "invalid issuer"),
    (jwt.InvalidIssuedAtError, "invalid issued-at"),
    (jwt.exceptions.InvalidSubjectError, "invalid subject"),
    (jwt.InvalidSignatureError, "invalid signature"),
    (jwt.InvalidAlgorithmError, "unsupported algorithm"),
    (jwt.InvalidKeyError, "invalid signing key"),
    (jwt.DecodeError, "malformed token"),
]


class InvalidToken(Exception):
    """Raised for any token that must be answered 401. str(exc) is a short, safe reason."""


class KeysUnavailable(Exception):
    """No key can verify the token because the JWKS cannot be fetched (and none is known, or
    not the token's): our failure, not the token's. `retry_after` in whole seconds."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__("signing keys unavailable")


class AnonymousUser(Exception):
    """A valid token of a Supabase anonymous sign-in (`is_anonymous: true`) while those are
    not accepted: the caller is who they say, but has no account to act as here."""


class _FetchFailed(Exception):
    """One JWKS fetch did not give a usable key set."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    sub: uuid.UUID
    email: str | None
    role: str
    # All the claims as Postgres reads them (`request.jwt.claims`), serialized once per
    # verified token; kept as text only, so a remembered token costs little memory.
    claims_json: str = field(repr=False)

    @property
    def claims(self) -> dict[str, Any]:
        claims: dict[str, Any] = json.loads(self.claims_json)
        return claims


class TokenVerifier:
    def __init__(
        self,
        *,
        jwt_secret: str | None,
        jwks_url: str | None,
        audience: str = "authenticated",
        issuer: str | None = None,
        jwks_cache_seconds: float = 600.0,
        leeway_seconds: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
        refresh_backoff_seconds: float = 1.0,
        max_refresh_backoff_seconds: float = 60.0,
        allow_anonymous: bool = False,
    ) -> None:
        if not jwt_secret and not jwks_url:
            raise ValueError("TokenVerifier needs jwt_secret or jwks_url")
        self._secret = jwt_secret or None
        self._jwks_url = jwks_url or None
        self._audience = audience
        self._issuer = issuer
        self._cache_seconds = jwks_cache_seconds
        self._leeway = leeway_seconds
        self._allow_anonymous = allow_anonymous
        # The allow-list is fixed by configuration, never by the token: an HS256 token is
        # refused outright when no secret is configured (no RSA-public-key-as-HMAC-secret).
        self._algorithms = {"HS256"} if self._secret else set()
        if self._jwks_url:
            self._algorithms |= set(_ASYMMETRIC)
        self._owns_client = http_client is None and self._jwks_url is not None
        self._client = httpx.AsyncClient() if self._owns_client else http_client
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")  # when the last successful refresh finished
        self._attempted_at = float("-inf")  # when the last refresh finished, successful or not
        self._refresh_task: asyncio.Task[None] | None = None
        # After a refresh failed entirely, none starts before `_next_refresh_at`: the pause
        # doubles with each failed round, from `refresh_backoff_seconds` up to the maximum.
        self._backoff = refresh_backoff_seconds
        self._max_backoff = max_refresh_backoff_seconds
        self._failed_rounds = 0
        self._next_refresh_at = float("-inf")
        self._unknown_kid_refetch_at = float("-inf")
        self._verified: OrderedDict[bytes, tuple[TokenClaims, float]] = OrderedDict()

    async def aclose(self) -> None:
        if self._refresh_task is not None and not self._refresh_task.done():
            self._refresh_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresh_task
        if self._owns_client and self._client is not None:
            await self._client.aclose()

    async def verify(self, token: str) -> TokenClaims:
        digest = hashlib.sha256(token.encode()).digest() if isinstance(token, str) else b""
        remembered = self._verified.get(digest)
        now = time.time()
        if remembered is not None:
            claims, valid_until = remembered
            if now < valid_until:
                self._verified.move_to_end(digest)
                return claims
            del self._verified[digest]
        claims, expires_at = await self._checked(token)
        self._verified[digest] = (claims, min(expires_at, now + self._cache_seconds))
        if len(self._verified) > VERIFIED_TOKEN_CACHE_SIZE:
            self._verified.popitem(last=False)
        return claims

    async def _checked(self, token: str) -> tuple[TokenClaims, float]:
        try:
            return await self._verify(token)
        except (InvalidToken, KeysUnavailable, AnonymousUser):
            raise
        except jwt.MissingRequiredClaimError as error:
            raise InvalidToken(f"missing claim: {error.claim}") from None
        except jwt.PyJWTError as error:
            reason = next((r for t, r in _REASONS if isinstance(error, t)), "invalid token")
            raise InvalidToken(reason) from None
        except (ValueError, TypeError, OverflowError, RecursionError):
            raise InvalidToken("malformed token") from None

    async def _verify(self, token: str) -> tuple[TokenClaims, float]:
        """The token's claims and when it expires (its `exp`)."""
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LENGTH:
            raise InvalidToken("malformed token")
        header = _unverified_header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise InvalidToken("unsupported algorithm")
        key: Any = self._secret if alg == "HS256" else await self._public_key(header, alg)
        payload = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=self._audience,
            issuer=self._issuer,
            leeway=self._leeway,
            options={"require": ["exp", "sub", "aud"], "verify_signature": True},
        )
        # Supabase's anon and service_role API keys are validly signed JWTs too; only a
        # signed-in user's access token may act as a user.
        role = payload.get("role")
        if role != "authenticated":
            raise InvalidToken("token is not a user access token")
        if payload.get("is_anonymous") is True and not self._allow_anonymous:
            raise AnonymousUser
        try:
            sub = uuid.UUID(payload["sub"])
        except (ValueError, TypeError, AttributeError):
            raise InvalidToken("invalid subject") from None
        # user_metadata is writable by the user, so nothing here ever reads it.
        email = payload.get("email")
        email = email if isinstance(email, str) and email else None
        claims = TokenClaims(
            sub=sub,
            email=email,
            role=role,
            claims_json=json.dumps(payload, separators=(",", ":"), default=str),
        )
        return claims, float(payload["exp"])

    async def _public_key(self, header: dict[str, Any], alg: str) -> Any:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("missing key id")
        jwk = await self._jwk(kid)
        kty, key_class = _ASYMMETRIC[alg]
        matches = (
            jwk.key_type == kty and jwk.algorithm_name == alg and isinstance(jwk.key, key_class)
        )
        if not matches or (alg == "ES256" and not isinstance(jwk.key.curve, ec.SECP256R1)):
            raise InvalidToken("signing key does not match algorithm")
        return jwk.key

    async def _jwk(self, kid: str) -> jwt.PyJWK:
        started = time.monotonic()
        if self._fetched_at == float("-inf"):
            await self._keys_now(started)  # nothing known yet: wait for a refresh
        elif started - self._fetched_at >= self._cache_seconds:
            self._start_refresh(started)  # the known keys serve while it runs
        if kid not in self._keys and self._may_refetch_for_unknown_kid(started):
            self._unknown_kid_refetch_at = started
            await self._keys_now(started)  # maybe a key was rotated in since the last fetch
        jwk = self._keys.get(kid)
        if jwk is None:
            raise InvalidToken("unknown signing key")
        return jwk

    def _may_refetch_for_unknown_kid(self, started: float) -> bool:
        fetched_during_this_call = self._attempted_at >= started
        throttled = started - self._unknown_kid_refetch_at < UNKNOWN_KID_REFETCH_SECONDS
        return not fetched_during_this_call and not throttled

    async def _keys_now(self, started: float) -> None:
        """Wait for a refresh (the one in flight, or a new one): callers that arrive while
        one runs share it, its success or its failure. KeysUnavailable when it fails, takes
        too long, or the pause after failed rounds has not passed (no fetch is started)."""
        task = self._start_refresh(started)
        if task is None:
            raise KeysUnavailable(self._next_refresh_at - started)
        try:
            await asyncio.wait_for(asyncio.shield(task), _WAIT_FOR_KEYS_SECONDS)
        except TimeoutError:
            raise KeysUnavailable(_WAIT_FOR_KEYS_SECONDS) from None
        if self._fetched_at < started:
            raise KeysUnavailable(self._next_refresh_at - time.monotonic())

    def _start_refresh(self, now: float) -> asyncio.Task[None] | None:
        """The refresh in flight, or a new one; None while pausing after failed rounds."""
        if self._refresh_task is not None and not self._refresh_task.done():
            return self._refresh_task
        if now < self._next_refresh_at:
            return None
        self._refresh_task = asyncio.create_task(self._refresh(), name="jwks-refresh")
        return self._refresh_task

    async def _refresh(self) -> None:
        """Up to JWKS_FETCH_ATTEMPTS fetches. On success the new keys replace the old; when
        all fail, the old keys stay in use and the next round waits a growing pause."""
        reason = ""
        for attempt in range(JWKS_FETCH_ATTEMPTS):
            if attempt:
                await asyncio.sleep(_RETRY_PAUSES_SECONDS[min(attempt, 2) - 1])
            try:
                keys = await self._fetch_keys()
            except _FetchFailed as error:
                reason = str(error)
                continue
            self._keys = keys
            self._attempted_at = self._fetched_at = time.monotonic()
            self._failed_rounds = 0
            self._next_refresh_at = float("-inf")
            return
        self._failed_rounds += 1
        pause = min(self._max_backoff, self._backoff * 2 ** (self._failed_rounds - 1))
        self._attempted_at = time.monotonic()
        self._next_refresh_at = self._attempted_at + pause
        logger.warning(
            "JWKS refresh failed (%s) %d time(s) in a row; %d known key(s) stay in use,"
            " next attempt in %.0f s",
            reason,
            self._failed_rounds,
            len(self._keys),
            pause,
        )

    async def _fetch_keys(self) -> dict[str, jwt.PyJWK]:
        # Only reached when a JWKS is configured (no asymmetric alg is allowed otherwise).
        if self._client is None or self._jwks_url is None:
            raise _FetchFailed("no JWKS configured")
        try:
            response = await self._client.get(self._jwks_url, timeout=_FETCH_TIMEOUT_SECONDS)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as error:
            raise _FetchFailed(type(error).__name__) from None
        entries = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(entries, list):
            raise _FetchFailed("no key list in the JWKS")
        keys: dict[str, jwt.PyJWK] = {}
        for entry in entries:
            # Skip keys we cannot use (no kid, unknown kty/crv) rather than the whole set.
            if isinstance(entry, dict) and isinstance(entry.get("kid"), str):
                try:
                    keys[entry["kid"]] = jwt.PyJWK(entry)
                except jwt.PyJWTError:
                    continue
        return keys


def mint_token(
    *,
    secret: str,
    sub: uuid.UUID | str,
    email: str | None = None,
    expires_in_seconds: int = 3600,
    audience: str = "authenticated",
    issuer: str | None = None,
    extra_claims: dict[str, Any] | None = None,
) -> str:
    """HS256 token shaped like a Supabase Auth access token, for local development and tests."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": str(sub),
        "email": email or "",
        "phone": "",
        "role": "authenticated",
        "aud": audience,
        "iat": now,
        "exp": now + expires_in_seconds,
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": now}],
        "session_id": str(uuid.uuid4()),
        "is_anonymous": False,
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
    }
    if issuer is not None:
        payload["iss"] = issuer
    payload.update(extra_claims or {})
    return jwt.encode(payload, secret, algorithm="HS256")


def _unverified_header(token: str) -> dict[str, Any]:
    """The token's header, read only to choose the algorithm and key; `jwt.decode` then checks
    the whole token, header included, strictly. (`jwt.get_unverified_header` would decode and
    check every segment of the token, which `jwt.decode` then does again.)"""
    segment = token.partition(".")[0]
    header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    if not isinstance(header, dict):
        raise InvalidToken("malformed token")
    return header
