"""Hostile or careless request bodies get a clean 4xx problem, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.support.builders import Person, create_person


async def _person(connection: AsyncConnection) -> Person:
    return await create_person(connection, "limits")


def _json_headers(person: Person) -> dict[str, str]:
    return {**person.headers, "content-type": "application/json"}


class TestBodySize:
    async def test_declared_oversized_body_is_413(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await _person(connection)
        body = b'{"name": "' + b"a" * 2_000_000 + b'"}'
        response = await client.post("/v1/families", content=body, headers=_json_headers(person))
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "payload_too_large"
        families = await client.get("/v1/families", headers=person.headers)
        assert families.json()["items"] == []

    async def test_streamed_oversized_body_is_413(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await _person(connection)

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"name": "'
            for _ in range(40):
                yield b"a" * 65_536
            yield b'"}'

        response = await client.post(
            "/v1/families", content=chunks(), headers=_json_headers(person)
        )
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"

    async def test_streamed_body_past_the_limit_is_never_processed(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        """A valid JSON document followed by 2 MiB of whitespace, chunked (no
        Content-Length): the part under the limit parses on its own, yet the request as a
        whole is too large, so nothing it describes may be created."""
        person = await _person(connection)
        family_id = "6a1c4d0e-0000-4000-8000-00000000f417"

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"name": "Padded", "id": "' + family_id.encode() + b'"}'
            for _ in range(32):
                yield b" " * 65_536

        response = await client.post(
            "/v1/families", content=chunks(), headers=_json_headers(person)
        )
        assert response.status_code == 413
        assert response.json()["code"] == "payload_too_large"
        exists = await connection.scalar(
            text("select count(*) from families where id = :id"), {"id": family_id}
        )
        assert exists == 0

    async def test_declared_oversized_body_on_a_route_without_one_is_413_problem(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await _person(connection)
        response = await client.request(
            "GET", "/v1/families", content=b" " * 2_000_000, headers=person.headers
        )
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "payload_too_large"

    async def test_streamed_oversized_body_to_a_hot_route_is_413_problem(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await _person(connection)

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"status": "done"}'
            for _ in range(32):
                yield b" " * 65_536

        response = await client.put(
            f"/v1/habits/{uuid.uuid4()}/checkins/2026-01-01",
            content=chunks(),
            headers=_json_headers(person),
        )
        assert response.status_code == 413
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "payload_too_large"

    async def test_body_under_the_limit_is_served(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await _person(connection)
        response = await client.post("/v1/families", json={"name": "Small"}, headers=person.headers)
        assert response.status_code == 201


class TestMalformedBodies:
    async def test_deeply_nested_json_is_400(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await _person(connection)
        response = await client.post(
            "/v1/families", content=b"[" * 200_000, headers=_json_headers(person)
        )
        assert response.status_code in (400, 422)
        assert response.headers["content-type"] == "application/problem+json"

    async def test_invalid_utf8_and_huge_numbers_are_422(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await _person(connection)
        for body in (b"\xff\xfe", b'{"name": 1e999999}', b'{"name": "x", "timezone": 7}'):
            response = await client.post(
                "/v1/families", content=body, headers=_json_headers(person)
            )
            assert response.status_code == 422, body
            assert response.json()["code"] == "validation_error"
            assert response.json()["errors"]

    async def test_unicode_names_round_trip(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await _person(connection)
        name = "Familie Müller 👨‍👩‍👧 山田家"
        response = await client.post("/v1/families", json={"name": name}, headers=person.headers)
        assert response.status_code == 201
        assert response.json()["name"] == name

    async def test_control_characters_are_rejected(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        person = await _person(connection)
        response = await client.post(
            "/v1/families", json={"name": "a\u0000b"}, headers=person.headers
        )
        assert response.status_code == 422
