"""Tests for app.core.security: Supabase access-token verification (HS256 secret and JWKS)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from app.core import security
from app.core.security import (
    InvalidToken,
    KeysUnavailable,
    TokenClaims,
    TokenVerifier,
    mint_token,
)

pytestmark = pytest.mark.asyncio

SECRET = "super-secret-jwt-token-with-at-least-32-characters-long-and-then-some"
JWKS_URL = "https://abcd.supabase.co/auth/v1/.well-known/jwks.json"
ISSUER = "https://abcd.supabase.co/auth/v1"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(obj: Any) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def claims(drop: tuple[str, ...] = (), **overrides: Any) -> dict[str, Any]:
    """A Supabase-shaped access-token payload, valid for an hour."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": str(uuid.uuid4()),
        "email": "ada@example.com",
        "role": "authenticated",
        "aud": "authenticated",
        "iat": now,
        "exp": now + 3600,
        "session_id": str(uuid.uuid4()),
        "app_metadata": {"provider": "email"},
        "user_metadata": {},
    }
    payload.update(overrides)
    for name in drop:
        del payload[name]
    return payload


def hs256(payload: dict[str, Any], secret: str = SECRET) -> str:
    return jwt.encode(payload, secret, algorithm="HS256")


def hand_signed_hs256(header: dict[str, Any], payload: dict[str, Any], key: bytes) -> str:
    """HMAC-SHA256 by hand: PyJWT itself refuses to use a PEM public key as an HMAC secret."""
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


class JwksServer:
    """Serves a JWKS over httpx.MockTransport and counts how often it is asked."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.requests = 0
        self.failure: httpx.Response | Exception | None = None

    async def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        await asyncio.sleep(0.01)  # let concurrent verifications pile up behind the fetch
        if isinstance(self.failure, Exception):
            raise self.failure
        if self.failure is not None:
            return self.failure
        return httpx.Response(200, json={"keys": self.keys})

    def add_ec(self, kid: str) -> ec.EllipticCurvePrivateKey:
        key = ec.generate_private_key(ec.SECP256R1())
        self.publish(ECAlgorithm.to_jwk(key.public_key(), as_dict=True), kid, "ES256")
        return key

    def add_rsa(self, kid: str) -> rsa.RSAPrivateKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.publish(RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), kid, "RS256")
        return key

    def publish(self, jwk: dict[str, Any], kid: str, alg: str) -> None:
        self.keys.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})


def signed(key: Any, alg: str, kid: str | None, payload: dict[str, Any] | None = None) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(payload or claims(), key, algorithm=alg, headers=headers)


@pytest.fixture
def server() -> JwksServer:
    return JwksServer()


@pytest_asyncio.fixture
async def http_client(server: JwksServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server.handler)) as client:
        yield client


@pytest.fixture
def jwks_verifier(http_client: httpx.AsyncClient) -> TokenVerifier:
    return TokenVerifier(jwt_secret=None, jwks_url=JWKS_URL, http_client=http_client)


@pytest.fixture
def hs_verifier() -> TokenVerifier:
    return TokenVerifier(jwt_secret=SECRET, jwks_url=None)


async def rejects(verifier: TokenVerifier, token: str, reason: str | None = None) -> None:
    with pytest.raises(InvalidToken) as caught:
        await verifier.verify(token)
    if reason is not None:
        assert str(caught.value) == reason


class TestHS256:
    async def test_valid_token_gives_claims(self, hs_verifier: TokenVerifier) -> None:
        payload = claims()
        result = await hs_verifier.verify(hs256(payload))
        assert isinstance(result, TokenClaims)
        assert result.sub == uuid.UUID(payload["sub"])
        assert result.email == "ada@example.com"
        assert result.role == "authenticated"
        assert result.claims == payload

    async def test_expired(self, hs_verifier: TokenVerifier) -> None:
        now = int(time.time())
        token = hs256(claims(iat=now - 7200, exp=now - 120))
        await rejects(hs_verifier, token, "token expired")

    async def test_expiry_within_leeway_is_accepted(self, hs_verifier: TokenVerifier) -> None:
        now = int(time.time())
        await hs_verifier.verify(hs256(claims(iat=now - 3600, exp=now - 10)))

    async def test_not_before_in_future(self, hs_verifier: TokenVerifier) -> None:
        token = hs256(claims(nbf=int(time.time()) + 300))
        await rejects(hs_verifier, token, "token not yet valid")

    async def test_wrong_audience(self, hs_verifier: TokenVerifier) -> None:
        await rejects(hs_verifier, hs256(claims(aud="some-other-app")), "invalid audience")

    async def test_issuer_checked_when_configured(self) -> None:
        verifier = TokenVerifier(jwt_secret=SECRET, jwks_url=None, issuer=ISSUER)
        await verifier.verify(hs256(claims(iss=ISSUER)))
        await rejects(verifier, hs256(claims(iss="https://evil.example/auth/v1")), "invalid issuer")
        await rejects(verifier, hs256(claims()), "missing claim: iss")

    async def test_wrong_secret(self, hs_verifier: TokenVerifier) -> None:
        token = hs256(claims(), secret="another-secret-that-is-also-32-chars-long!")
        await rejects(hs_verifier, token, "invalid signature")

    async def test_tampered_payload(self, hs_verifier: TokenVerifier) -> None:
        header, _, signature = hs256(claims()).split(".")
        forged = f"{header}.{b64json(claims(sub=str(uuid.uuid4())))}.{signature}"
        await rejects(hs_verifier, forged, "invalid signature")

    @pytest.mark.parametrize("alg", ["none", "None", "NONE"])
    async def test_alg_none(self, hs_verifier: TokenVerifier, alg: str) -> None:
        token = f"{b64json({'alg': alg, 'typ': 'JWT'})}.{b64json(claims())}."
        await rejects(hs_verifier, token, "unsupported algorithm")

    @pytest.mark.parametrize("alg", ["HS384", "HS512"])
    async def test_other_hmac_algorithms(self, hs_verifier: TokenVerifier, alg: str) -> None:
        token = jwt.encode(claims(), SECRET, algorithm=alg)
        await rejects(hs_verifier, token, "unsupported algorithm")

    async def test_missing_alg(self, hs_verifier: TokenVerifier) -> None:
        token = hand_signed_hs256({"typ": "JWT"}, claims(), SECRET.encode())
        await rejects(hs_verifier, token, "unsupported algorithm")

    async def test_asymmetric_token_without_jwks_configured(
        self, hs_verifier: TokenVerifier
    ) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        await rejects(hs_verifier, signed(key, "ES256", "k1"), "unsupported algorithm")

    async def test_anon_api_key_rejected(self, hs_verifier: TokenVerifier) -> None:
        now = int(time.time())
        anon_key = {"iss": "supabase", "ref": "abcd", "role": "anon", "iat": now, "exp": now + 9e8}
        await rejects(hs_verifier, hs256(anon_key))
        # Even if it carried a user-looking sub and aud, the role alone must reject it.
        await rejects(hs_verifier, hs256(claims(role="anon")), "token is not a user access token")

    async def test_service_role_key_rejected(self, hs_verifier: TokenVerifier) -> None:
        now = int(time.time())
        key = {
            "iss": "supabase",
            "ref": "abcd",
            "role": "service_role",
            "iat": now,
            "exp": now + 9e8,
        }
        await rejects(hs_verifier, hs256(key))
        token = hs256(claims(role="service_role"))
        await rejects(hs_verifier, token, "token is not a user access token")

    async def test_missing_role_rejected(self, hs_verifier: TokenVerifier) -> None:
        await rejects(
            hs_verifier, hs256(claims(drop=("role",))), "token is not a user access token"
        )

    async def test_user_metadata_cannot_grant_a_role(self, hs_verifier: TokenVerifier) -> None:
        token = hs256(claims(role="anon", user_metadata={"role": "authenticated"}))
        await rejects(hs_verifier, token, "token is not a user access token")

    @pytest.mark.parametrize("claim", ["sub", "exp", "aud"])
    async def test_required_claims(self, hs_verifier: TokenVerifier, claim: str) -> None:
        await rejects(hs_verifier, hs256(claims(drop=(claim,))), f"missing claim: {claim}")

    @pytest.mark.parametrize("sub", ["not-a-uuid", "12345", "", "00000000-0000-0000-0000"])
    async def test_sub_not_uuid(self, hs_verifier: TokenVerifier, sub: str) -> None:
        await rejects(hs_verifier, hs256(claims(sub=sub)), "invalid subject")

    async def test_sub_not_a_string(self, hs_verifier: TokenVerifier) -> None:
        await rejects(hs_verifier, hs256(claims(sub=12345)), "invalid subject")

    async def test_empty_email_is_none(self, hs_verifier: TokenVerifier) -> None:
        result = await hs_verifier.verify(hs256(claims(email="")))
        assert result.email is None

    @pytest.mark.parametrize(
        "token",
        [
            "",
            "abc",
            "a.b.c",
            "a.b",
            "..",
            "Bearer abc.def.ghi",
            b64url(os.urandom(64)),
            ".".join(b64url(os.urandom(32)) for _ in range(3)),
            f"{b64json([1, 2])}.{b64json({})}.",
            f"{b64json({'alg': 'HS256', 'kid': 5})}.{b64json({})}.",
            f"{b64json({'alg': 'HS256'})}.{b64json([1])}.{b64url(b'x')}",
            f"{b64json({'alg': 'HS256'})}.{b64url(b'{' * 5000)}.{b64url(b'x')}",
            "eyJ" + "A" * 20_000,
        ],
    )
    async def test_garbage(self, hs_verifier: TokenVerifier, token: str) -> None:
        await rejects(hs_verifier, token)

    async def test_hs256_rejected_when_only_jwks_configured(
        self, jwks_verifier: TokenVerifier, server: JwksServer
    ) -> None:
        await rejects(jwks_verifier, hs256(claims()), "unsupported algorithm")
        assert server.requests == 0


class TestMintToken:
    async def test_round_trip(self) -> None:
        user_id = uuid.uuid4()
        verifier = TokenVerifier(jwt_secret=SECRET, jwks_url=None, issuer=ISSUER)
        token = mint_token(
            secret=SECRET,
            sub=user_id,
            email="ada@example.com",
            issuer=ISSUER,
            extra_claims={"family_id": "f1"},
        )
        result = await verifier.verify(token)
        assert result.sub == user_id
        assert result.email == "ada@example.com"
        assert result.claims["iss"] == ISSUER
        assert result.claims["family_id"] == "f1"
        assert result.claims["app_metadata"]["provider"] == "email"
        assert result.claims["user_metadata"] == {}
        assert result.claims["aal"] == "aal1"
        uuid.UUID(result.claims["session_id"])
        assert result.claims["exp"] - result.claims["iat"] == 3600

    async def test_string_sub_and_no_email(self, hs_verifier: TokenVerifier) -> None:
        user_id = str(uuid.uuid4())
        result = await hs_verifier.verify(mint_token(secret=SECRET, sub=user_id))
        assert result.sub == uuid.UUID(user_id)
        assert result.email is None

    async def test_expired_mint(self, hs_verifier: TokenVerifier) -> None:
        token = mint_token(secret=SECRET, sub=uuid.uuid4(), expires_in_seconds=-120)
        await rejects(hs_verifier, token, "token expired")

    async def test_audience_is_honoured(self, hs_verifier: TokenVerifier) -> None:
        token = mint_token(secret=SECRET, sub=uuid.uuid4(), audience="other")
        await rejects(hs_verifier, token, "invalid audience")


class TestJwks:
    async def test_valid_es256(self, jwks_verifier: TokenVerifier, server: JwksServer) -> None:
        key = server.add_ec("ec-1")
        payload = claims()
        result = await jwks_verifier.verify(signed(key, "ES256", "ec-1", payload))
        assert result.sub == uuid.UUID(payload["sub"])
        assert result.email == "ada@example.com"

    async def test_valid_rs256(self, jwks_verifier: TokenVerifier, server: JwksServer) -> None:
        key = server.add_rsa("rsa-1")
        payload = claims()
        result = await jwks_verifier.verify(signed(key, "RS256", "rsa-1", payload))
        assert result.sub == uuid.UUID(payload["sub"])

    async def test_claims_still_checked(
        self, jwks_verifier: TokenVerifier, server: JwksServer
    ) -> None:
        key = server.add_ec("ec-1")
        now = int(time.time())
        expired = claims(iat=now - 7200, exp=now - 120)
        await rejects(jwks_verifier, signed(key, "ES256", "ec-1", expired), "token expired")
        wrong_aud = claims(aud="x")
        await rejects(jwks_verifier, signed(key, "ES256", "ec-1", wrong_aud), "invalid audience")
        anon = claims(role="anon")
        await rejects(jwks_verifier, signed(key, "ES256", "ec-1", anon))

    async def test_signed_by_another_key_with_same_kid(
        self, jwks_verifier: TokenVerifier, server: JwksServer
    ) -> None:
        server.add_ec("ec-1")
        impostor = ec.generate_private_key(ec.SECP256R1())
        await rejects(jwks_verifier, signed(impostor, "ES256", "ec-1"), "invalid signature")

    async def test_missing_kid(self, jwks_verifier: TokenVerifier, server: JwksServer) -> None:
        key = server.add_ec("ec-1")
        await rejects(jwks_verifier, signed(key, "ES256", None), "missing key id")

    async def test_rs256_token_with_kid_of_ec_key(
        self, jwks_verifier: TokenVerifier, server: JwksServer
    ) -> None:
        server.add_ec("ec-1")
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = signed(rsa_key, "RS256", "ec-1")
        await rejects(jwks_verifier, token, "signing key does not match algorithm")

    async def test_es256_token_with_kid_of_rsa_key(
        self, jwks_verifier: TokenVerifier, server: JwksServer
    ) -> None:
        server.add_rsa("rsa-1")
        ec_key = ec.generate_private_key(ec.SECP256R1())
        token = signed(ec_key, "ES256", "rsa-1")
        await rejects(jwks_verifier, token, "signing key does not match algorithm")

    async def test_jwk_without_alg_still_bound_to_its_type(
        self, jwks_verifier: TokenVerifier, server: JwksServer
    ) -> None:
        ec_key = server.add_ec("ec-1")
        del server.keys[0]["alg"]
        await jwks_verifier.verify(signed(ec_key, "ES256", "ec-1"))
        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        token = signed(rsa_key, "RS256", "ec-1")
        await rejects(jwks_verifier, token, "signing key does not match algorithm")

    async def test_es256_with_p384_key_rejected(
        self, jwks_verifier: TokenVerifier, server: JwksServer
    ) -> None:
        key = ec.generate_private_key(ec.SECP384R1())
        server.publish(ECAlgorithm.to_jwk(key.public_key(), as_dict=True), "p384", "ES256")
        payload = claims()
        # Sign by hand with P-384 + SHA-256: PyJWT will not sign ES256 with a P-384 key.
        signing_input = f"{b64json({'alg': 'ES256', 'kid': 'p384'})}.{b64json(payload)}"
        r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(48, "big") + s.to_bytes(48, "big")
        token = f"{signing_input}.{b64url(signature)}"
        await rejects(jwks_verifier, token, "signing key does not match algorithm")

    async def test_unusable_jwks_entries_are_skipped(
        self, jwks_verifier: TokenVerifier, server: JwksServer
    ) -> None:
        key = server.add_ec("ec-1")
        server.keys.insert(0, {"kty": "WAT", "kid": "junk"})
        server.keys.insert(0, "not-a-dict")  # type: ignore[arg-type]
        server.keys.insert(0, {"kty": "EC", "crv": "P-256"})  # no kid
        await jwks_verifier.verify(signed(key, "ES256", "ec-1"))


class TestAlgorithmConfusion:
    @staticmethod
    def rsa_public_pem(key: rsa.RSAPrivateKey) -> bytes:
        return key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    async def test_hs256_signed_with_rsa_public_key_jwks_only(
        self, jwks_verifier: TokenVerifier, server: JwksServer
    ) -> None:
        key = server.add_rsa("rsa-1")
        header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
        token = hand_signed_hs256(header, claims(), self.rsa_public_pem(key))
        await rejects(jwks_verifier, token, "unsupported algorithm")

    async def test_hs256_signed_with_rsa_public_key_both_configured(
        self, http_client: httpx.AsyncClient, server: JwksServer
    ) -> None:
        verifier = TokenVerifier(jwt_secret=SECRET, jwks_url=JWKS_URL, http_client=http_client)
        key = server.add_rsa("rsa-1")
        # Both kinds of token work with this configuration...
        await verifier.verify(hs256(claims()))
        await verifier.verify(signed(key, "RS256", "rsa-1"))
        # ...but an HMAC made with the public key is checked against the secret and fails.
        header = {"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}
        token = hand_signed_hs256(header, claims(), self.rsa_public_pem(key))
        await rejects(verifier, token, "invalid signature")


class TestJwksFetching:
    async def test_cache_respected(self, jwks_verifier: TokenVerifier, server: JwksServer) -> None:
        key = server.add_ec("ec-1")
        await jwks_verifier.verify(signed(key, "ES256", "ec-1"))
        await jwks_verifier.verify(signed(key, "ES256", "ec-1"))
        assert server.requests == 1

    async def test_expired_cache_refreshes_in_the_background(
        self, http_client: httpx.AsyncClient, server: JwksServer
    ) -> None:
        verifier = TokenVerifier(
            jwt_secret=None, jwks_url=JWKS_URL, http_client=http_client, jwks_cache_seconds=0
        )
        key = server.add_ec("ec-1")
        await verifier.verify(signed(key, "ES256", "ec-1"))
        # Verified with the keys known, without waiting for the refresh it started.
        await verifier.verify(signed(key, "ES256", "ec-1"))
        assert server.requests == 1
        # The refresh runs on its own: wait for it, however slow the machine.
        for _ in range(500):
            if server.requests == 2:
                break
            await asyncio.sleep(0.01)
        assert server.requests == 2

    async def test_concurrent_verifications_share_one_fetch(
        self, jwks_verifier: TokenVerifier, server: JwksServer
    ) -> None:
        key = server.add_ec("ec-1")
        tokens = [signed(key, "ES256", "ec-1") for _ in range(20)]
        results = await asyncio.gather(*(jwks_verifier.verify(t) for t in tokens))
        assert len(results) == 20
        assert server.requests == 1

    async def test_unknown_kid_refetches_once(
        self, jwks_verifier: TokenVerifier, server: JwksServer
    ) -> None:
        key = server.add_ec("ec-1")
        await jwks_verifier.verify(signed(key, "ES256", "ec-1"))
        assert server.requests == 1
        stranger = ec.generate_private_key(ec.SECP256R1())
        await rejects(jwks_verifier, signed(stranger, "ES256", "ec-2"), "unknown signing key")
        assert server.requests == 2

    async def test_unknown_kid_on_cold_cache_fetches_once(
        self, jwks_verifier: TokenVerifier, server: JwksServer
    ) -> None:
        server.add_ec("ec-1")
        stranger = ec.generate_private_key(ec.SECP256R1())
        await rejects(jwks_verifier, signed(stranger, "ES256", "nope"), "unknown signing key")
        assert server.requests == 1
        # That fetch was not an unknown-kid refetch, so a key rotated in now is still picked up.
        rotated = server.add_ec("ec-2")
        await jwks_verifier.verify(signed(rotated, "ES256", "ec-2"))
        assert server.requests == 2

    async def test_rotated_key_accepted_after_refetch(
        self, jwks_verifier: TokenVerifier, server: JwksServer
    ) -> None:
        old = server.add_ec("ec-1")
        await jwks_verifier.verify(signed(old, "ES256", "ec-1"))
        new = server.add_rsa("rsa-2")
        payload = claims()
        result = await jwks_verifier.verify(signed(new, "RS256", "rsa-2", payload))
        assert result.sub == uuid.UUID(payload["sub"])
        assert server.requests == 2
        await jwks_verifier.verify(signed(old, "ES256", "ec-1"))
        assert server.requests == 2

    async def test_flood_of_unknown_kids_refetches_once_per_window(
        self, jwks_verifier: TokenVerifier, server: JwksServer
    ) -> None:
        key = server.add_ec("ec-1")
        await jwks_verifier.verify(signed(key, "ES256", "ec-1"))
        for _ in range(25):
            await rejects(jwks_verifier, signed(key, "ES256", uuid.uuid4().hex))
        assert server.requests == 2
        await asyncio.gather(
            *(rejects(jwks_verifier, signed(key, "ES256", uuid.uuid4().hex)) for _ in range(25))
        )
        assert server.requests == 2
        await jwks_verifier.verify(signed(key, "ES256", "ec-1"))  # known keys keep working
        assert server.requests == 2

    async def test_refetch_allowed_again_after_window(
        self, jwks_verifier: TokenVerifier, server: JwksServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(security, "UNKNOWN_KID_REFETCH_SECONDS", 0.0)
        key = server.add_ec("ec-1")
        await jwks_verifier.verify(signed(key, "ES256", "ec-1"))
        for _ in range(3):
            await rejects(jwks_verifier, signed(key, "ES256", uuid.uuid4().hex))
        assert server.requests == 4

    @pytest.mark.parametrize(
        "failure",
        [
            httpx.Response(500, text="boom"),
            httpx.Response(404),
            httpx.Response(301, headers={"location": "https://elsewhere.example"}),
            httpx.Response(200, text="<html>not json</html>"),
            httpx.Response(200, json=["keys"]),
            httpx.Response(200, json={"keys": "nope"}),
            httpx.ConnectError("connection refused"),
            httpx.ReadTimeout("too slow"),
        ],
        ids=["500", "404", "redirect", "html", "list", "keys-not-list", "connect", "timeout"],
    )
    async def test_fetch_failure_with_no_key_known_is_keys_unavailable(
        self,
        http_client: httpx.AsyncClient,
        server: JwksServer,
        failure: httpx.Response | Exception,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(security, "_RETRY_PAUSES_SECONDS", (0.0, 0.0))
        verifier = TokenVerifier(
            jwt_secret=None, jwks_url=JWKS_URL, http_client=http_client, refresh_backoff_seconds=0
        )
        key = server.add_ec("ec-1")
        server.failure = failure
        with pytest.raises(KeysUnavailable):
            await verifier.verify(signed(key, "ES256", "ec-1"))
        assert server.requests == security.JWKS_FETCH_ATTEMPTS  # one refresh, retried
        # Not stuck: once the server recovers the next verification fetches and succeeds.
        server.failure = None
        await verifier.verify(signed(key, "ES256", "ec-1"))

    async def test_concurrent_failures_share_one_refresh(
        self, jwks_verifier: TokenVerifier, server: JwksServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(security, "_RETRY_PAUSES_SECONDS", (0.0, 0.0))
        key = server.add_ec("ec-1")
        server.failure = httpx.Response(503)
        token = signed(key, "ES256", "ec-1")
        outcomes = await asyncio.gather(
            *(jwks_verifier.verify(token) for _ in range(10)), return_exceptions=True
        )
        assert all(isinstance(o, KeysUnavailable) for o in outcomes)
        assert server.requests == security.JWKS_FETCH_ATTEMPTS
        # Within the pause after a failed round, requests start no fetch of their own.
        for _ in range(5):
            with pytest.raises(KeysUnavailable) as caught:
                await jwks_verifier.verify(token)
            assert caught.value.retry_after >= 1
        assert server.requests == security.JWKS_FETCH_ATTEMPTS

    async def test_empty_key_set_means_unknown_key(
        self, jwks_verifier: TokenVerifier, server: JwksServer
    ) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        await rejects(jwks_verifier, signed(key, "ES256", "ec-1"), "unknown signing key")


class TestLifecycle:
    async def test_needs_some_key_source(self) -> None:
        with pytest.raises(ValueError, match="jwt_secret or jwks_url"):
            TokenVerifier(jwt_secret=None, jwks_url=None)
        with pytest.raises(ValueError, match="jwt_secret or jwks_url"):
            TokenVerifier(jwt_secret="", jwks_url="")

    async def test_aclose_leaves_a_borrowed_client_open(
        self, jwks_verifier: TokenVerifier, http_client: httpx.AsyncClient
    ) -> None:
        await jwks_verifier.aclose()
        assert not http_client.is_closed

    async def test_aclose_closes_its_own_client(self) -> None:
        verifier = TokenVerifier(jwt_secret=None, jwks_url=JWKS_URL)
        client = verifier._client
        assert client is not None
        await verifier.aclose()
        assert client.is_closed

    async def test_secret_only_verifier_closes_cleanly(self, hs_verifier: TokenVerifier) -> None:
        await hs_verifier.aclose()
        await hs_verifier.verify(hs256(claims()))


class TestVerifiedTokenMemory:
    """A verified token is remembered briefly, so a phone's repeated requests skip the
    signature check; never past its expiry, never for a token that failed."""

    @pytest.fixture
    def decodes(self, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        calls: list[str] = []
        real_decode = security.jwt.decode

        def counting_decode(token: str, *args: Any, **kwargs: Any) -> Any:
            calls.append(token)
            return real_decode(token, *args, **kwargs)

        monkeypatch.setattr(security.jwt, "decode", counting_decode)
        return calls

    async def test_same_token_is_verified_once(
        self, hs_verifier: TokenVerifier, decodes: list[str]
    ) -> None:
        token = hs256(claims())
        first = await hs_verifier.verify(token)
        second = await hs_verifier.verify(token)
        assert second == first
        assert decodes == [token]

    async def test_remembered_no_longer_than_the_keys(
        self, decodes: list[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        verifier = TokenVerifier(jwt_secret=SECRET, jwks_url=None, jwks_cache_seconds=120)
        token = hs256(claims(exp=int(time.time()) + 3600))
        await verifier.verify(token)
        now = time.time()
        monkeypatch.setattr(security.time, "time", lambda: now + 119)
        await verifier.verify(token)
        assert decodes == [token]
        monkeypatch.setattr(security.time, "time", lambda: now + 121)
        await verifier.verify(token)
        assert decodes == [token, token]

    async def test_not_accepted_past_its_expiry(self) -> None:
        verifier = TokenVerifier(jwt_secret=SECRET, jwks_url=None, leeway_seconds=0)
        token = hs256(claims(exp=int(time.time()) + 1))
        await verifier.verify(token)
        await asyncio.sleep(1.5)
        await rejects(verifier, token, "token expired")

    async def test_failures_are_not_remembered(
        self, hs_verifier: TokenVerifier, decodes: list[str]
    ) -> None:
        token = hs256(claims())
        header, payload, _signature = token.split(".")
        forged = f"{header}.{payload}.{b64url(b'not the signature')}"
        await rejects(hs_verifier, forged, "invalid signature")
        await rejects(hs_verifier, forged, "invalid signature")
        assert decodes == [forged, forged]
        await hs_verifier.verify(token)  # the genuine token is still fine

    async def test_bounded_in_size(
        self, hs_verifier: TokenVerifier, decodes: list[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(security, "VERIFIED_TOKEN_CACHE_SIZE", 2)
        first, second, third = (hs256(claims()) for _ in range(3))
        for token in (first, second, third, first):
            await hs_verifier.verify(token)
        assert decodes == [first, second, third, first]
