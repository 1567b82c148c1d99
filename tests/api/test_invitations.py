from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models.enums import MemberRole
from tests.support.api_calls import accept_invitation
from tests.support.builders import (
    Person,
    add_member,
    create_family,
    create_member,
    create_owned_family,
    create_person,
)
from tests.support.tenancy import assert_problem, create_invitation, member_roles, scalar

ACCEPT = "/v1/invitations/accept"


def _invitations(family_id: uuid.UUID) -> str:
    return f"/v1/families/{family_id}/invitations"


async def _use_count(connection: AsyncConnection, invitation_id: uuid.UUID | str) -> int:
    count: int = await scalar(
        connection, "select use_count from invitations where id = :id", id=invitation_id
    )
    return count


async def _invitation_count(connection: AsyncConnection, family_id: uuid.UUID) -> int:
    count: int = await scalar(
        connection, "select count(*) from invitations where family_id = :id", id=family_id
    )
    return count


async def _membership_of(
    connection: AsyncConnection, family_id: uuid.UUID, person: Person
) -> uuid.UUID | None:
    member_id: uuid.UUID | None = await scalar(
        connection,
        "select id from family_members where family_id = :family and user_id = :user",
        family=family_id,
        user=person.user_id,
    )
    return member_id


class TestCreate:
    async def test_returns_a_strong_token_and_stores_only_its_hash(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)

        response = await client.post(
            _invitations(family_id), json={"role": "member"}, headers=owner.headers
        )

        assert response.status_code == 201
        body = response.json()
        token = body["token"]
        secret = token.removeprefix("lpi_")
        assert re.fullmatch(r"[A-Za-z0-9_-]+", secret), token
        assert len(secret) * 6 >= 128  # base64url: 6 bits a character
        stored = await scalar(
            connection, "select token_hash from invitations where id = :id", id=body["id"]
        )
        assert stored == hashlib.sha256(token.encode()).hexdigest()
        everything = await scalar(connection, "select string_agg(i::text, '|') from invitations i")
        assert secret not in everything
        assert (body["role"], body["max_uses"], body["use_count"]) == ("member", 1, 0)
        expires_at = datetime.fromisoformat(body["expires_at"])
        in_72_hours = datetime.now(UTC) + timedelta(hours=72)
        assert abs(expires_at - in_72_hours) < timedelta(minutes=5)

    async def test_every_invitation_gets_its_own_token(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)

        tokens = {
            (
                await client.post(
                    _invitations(family_id), json={"role": "member"}, headers=owner.headers
                )
            ).json()["token"]
            for _ in range(3)
        }

        assert len(tokens) == 3

    async def test_options_are_kept(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        kid_id = await add_member(connection, family_id, None, display_name="Kid")

        response = await client.post(
            _invitations(family_id),
            json={
                "role": "admin",
                "email": "grandma@example.com",
                "member_id": str(kid_id),
                "expires_in_hours": 1,
                "max_uses": 1,
            },
            headers=owner.headers,
        )

        assert response.status_code == 201
        body = response.json()
        assert (body["role"], body["email"], body["member_id"]) == (
            "admin",
            "grandma@example.com",
            str(kid_id),
        )
        expires_at = datetime.fromisoformat(body["expires_at"])
        assert expires_at - datetime.now(UTC) < timedelta(hours=1, minutes=5)

    async def test_admin_cannot_invite_an_owner(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        admin, _ = await create_member(connection, family_id, "admin", MemberRole.ADMIN)

        as_admin = await client.post(
            _invitations(family_id), json={"role": "owner"}, headers=admin.headers
        )
        as_owner = await client.post(
            _invitations(family_id), json={"role": "owner"}, headers=owner.headers
        )

        assert_problem(as_admin, 403, "owner_required")
        assert as_owner.status_code == 201
        assert await _invitation_count(connection, family_id) == 1

    async def test_member_is_403_and_outsider_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        outsider = await create_person(connection, "outsider")
        _, family_id = await create_owned_family(connection)
        member, _ = await create_member(connection, family_id)

        as_member = await client.post(
            _invitations(family_id), json={"role": "member"}, headers=member.headers
        )
        as_outsider = await client.post(
            _invitations(family_id), json={"role": "member"}, headers=outsider.headers
        )

        assert_problem(as_member, 403, "insufficient_role")
        assert_problem(as_outsider, 404, "family_not_found")
        assert await scalar(connection, "select count(*) from invitations") == 0

    async def test_retry_with_same_id_returns_it_without_token(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        data = {"id": str(uuid.uuid4()), "role": "member", "max_uses": 2}

        first = await client.post(_invitations(family_id), json=data, headers=owner.headers)
        retry = await client.post(_invitations(family_id), json=data, headers=owner.headers)
        changed = await client.post(
            _invitations(family_id), json=data | {"max_uses": 3}, headers=owner.headers
        )

        assert first.status_code == 201
        assert first.json()["token"]
        assert retry.status_code == 200
        assert retry.json()["token"] is None
        assert retry.json()["id"] == data["id"]
        assert_problem(changed, 409, "id_conflict")
        assert await _invitation_count(connection, family_id) == 1

    async def test_id_of_another_familys_invitation_is_409(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner = await create_person(connection, "owner")
        _, victim_family = await create_owned_family(connection, "victim")
        invitation_id, _ = await create_invitation(connection, victim_family)
        family_id = await create_family(connection, owner)

        response = await client.post(
            _invitations(family_id),
            json={"id": str(invitation_id), "role": "member"},
            headers=owner.headers,
        )

        assert_problem(response, 409, "id_conflict")
        stored_family = await scalar(
            connection, "select family_id from invitations where id = :id", id=invitation_id
        )
        assert stored_family == victim_family

    async def test_member_id_must_be_a_managed_profile_of_the_family(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner = await create_person(connection, "owner")
        family_id = await create_family(connection, owner)
        _, login_member = await create_member(connection, family_id)
        other_family = await create_family(connection, owner, name="Other")
        elsewhere = await add_member(connection, other_family, None, display_name="Kid")

        with_login = await client.post(
            _invitations(family_id),
            json={"role": "member", "member_id": str(login_member)},
            headers=owner.headers,
        )
        misplaced = await client.post(
            _invitations(family_id),
            json={"role": "member", "member_id": str(elsewhere)},
            headers=owner.headers,
        )

        assert_problem(with_login, 409, "member_not_managed")
        assert_problem(misplaced, 404, "member_not_found")

    @pytest.mark.parametrize(
        "data",
        [
            {},
            {"role": "king"},
            {"role": "member", "expires_in_hours": 0},
            {"role": "member", "expires_in_hours": 721},
            {"role": "member", "max_uses": 0},
            {"role": "member", "email": "not-an-email"},
            {"role": "member", "token": "mine"},
        ],
    )
    async def test_invalid_body_is_422(
        self, client: httpx.AsyncClient, connection: AsyncConnection, data: dict[str, object]
    ) -> None:
        owner, family_id = await create_owned_family(connection)

        response = await client.post(_invitations(family_id), json=data, headers=owner.headers)

        assert_problem(response, 422, "validation_error")


class TestList:
    async def test_shows_only_pending_invitations_and_never_tokens(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        pending_id, pending_token = await create_invitation(connection, family_id, max_uses=2)
        revoked_id, _ = await create_invitation(connection, family_id)
        await client.delete(f"{_invitations(family_id)}/{revoked_id}", headers=owner.headers)
        await create_invitation(connection, family_id, expires_in=timedelta(hours=-1))
        used_id, _ = await create_invitation(connection, family_id)
        await connection.execute(
            text("update invitations set use_count = 1 where id = :id"),
            {"id": used_id},
        )
        other_family = await create_family(connection, owner, name="Other")
        await create_invitation(connection, other_family)

        response = await client.get(_invitations(family_id), headers=owner.headers)

        assert response.status_code == 200
        items = response.json()["items"]
        assert [item["id"] for item in items] == [str(pending_id)]
        assert "token" not in items[0]
        assert "token_hash" not in items[0]
        assert pending_token.removeprefix("lpi_") not in response.text
        assert hashlib.sha256(pending_token.encode()).hexdigest() not in response.text

    async def test_member_is_403(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        member, _ = await create_member(connection, family_id)
        await create_invitation(connection, family_id)

        response = await client.get(_invitations(family_id), headers=member.headers)

        assert_problem(response, 403, "insufficient_role")


class TestRevoke:
    async def test_revoked_invitation_cannot_be_accepted(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        guest = await create_person(connection, "guest")
        owner, family_id = await create_owned_family(connection)
        invitation_id, token = await create_invitation(connection, family_id)

        revoked = await client.delete(
            f"{_invitations(family_id)}/{invitation_id}", headers=owner.headers
        )
        again = await client.delete(
            f"{_invitations(family_id)}/{invitation_id}", headers=owner.headers
        )
        accepted = await accept_invitation(client, token, guest)

        assert revoked.status_code == 204
        assert again.status_code == 204
        assert_problem(accepted, 410, "invitation_revoked")
        assert await _membership_of(connection, family_id, guest) is None
        assert await _use_count(connection, invitation_id) == 0

    async def test_unknown_or_other_familys_invitation_is_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(connection)
        _, other_family = await create_owned_family(connection, "stranger", name="Other")
        elsewhere, _ = await create_invitation(connection, other_family)

        unknown = await client.delete(
            f"{_invitations(family_id)}/{uuid.uuid4()}", headers=owner.headers
        )
        misplaced = await client.delete(
            f"{_invitations(family_id)}/{elsewhere}", headers=owner.headers
        )

        assert_problem(unknown, 404, "invitation_not_found")
        assert_problem(misplaced, 404, "invitation_not_found")
        revoked_at = await scalar(
            connection, "select revoked_at from invitations where id = :id", id=elsewhere
        )
        assert revoked_at is None

    async def test_member_is_403(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        member, _ = await create_member(connection, family_id)
        invitation_id, _ = await create_invitation(connection, family_id)

        response = await client.delete(
            f"{_invitations(family_id)}/{invitation_id}", headers=member.headers
        )

        assert_problem(response, 403, "insufficient_role")
        revoked_at = await scalar(
            connection, "select revoked_at from invitations where id = :id", id=invitation_id
        )
        assert revoked_at is None

    @pytest.mark.parametrize(
        ("invited_role", "revoker_role", "status"),
        [
            (MemberRole.OWNER, MemberRole.ADMIN, 403),
            (MemberRole.OWNER, MemberRole.OWNER, 204),
            (MemberRole.ADMIN, MemberRole.ADMIN, 204),
            (MemberRole.MEMBER, MemberRole.ADMIN, 204),
        ],
    )
    async def test_only_an_owner_takes_back_an_owners_invitation(
        self,
        client: httpx.AsyncClient,
        connection: AsyncConnection,
        invited_role: MemberRole,
        revoker_role: MemberRole,
        status: int,
    ) -> None:
        """The service's rule and the `invitations_admin` policy agree: an admin gets a 403
        for an owner's invitation (it used to reach the policy and answer 500)."""
        owner = await create_person(connection, "owner")
        revoker = owner
        family_id = await create_family(connection, owner)
        if revoker_role != MemberRole.OWNER:
            revoker, _ = await create_member(connection, family_id, "revoker", revoker_role)
        invitation_id, _ = await create_invitation(connection, family_id, role=invited_role)

        response = await client.delete(
            f"{_invitations(family_id)}/{invitation_id}", headers=revoker.headers
        )

        revoked_at = await scalar(
            connection, "select revoked_at from invitations where id = :id", id=invitation_id
        )
        if status == 403:
            assert_problem(response, 403, "owner_required")
            assert revoked_at is None
        else:
            assert response.status_code == 204
            assert revoked_at is not None


class TestAccept:
    async def test_joins_the_family_with_the_invited_role(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        guest = await create_person(connection, "guest")
        owner, family_id = await create_owned_family(connection, name="Home")
        created = await client.post(
            _invitations(family_id), json={"role": "admin"}, headers=owner.headers
        )

        response = await accept_invitation(client, created.json()["token"], guest)

        assert response.status_code == 200
        body = response.json()
        assert (body["family"]["id"], body["family"]["name"]) == (str(family_id), "Home")
        assert body["family"]["my_role"] == "admin"
        membership = body["membership"]
        assert membership["id"] == body["family"]["my_member_id"]
        assert (membership["user_id"], membership["role"]) == (str(guest.user_id), "admin")
        assert membership["is_managed"] is False
        assert membership["display_name"] == "Guest"
        assert await _membership_of(connection, family_id, guest) == uuid.UUID(membership["id"])
        assert await _use_count(connection, created.json()["id"]) == 1
        family = await client.get(f"/v1/families/{family_id}", headers=guest.headers)
        assert family.status_code == 200

    async def test_provisions_a_new_user(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner = await create_person(connection, "owner")
        guest = await create_person(connection, "newbie", provisioned=False)
        family_id = await create_family(connection, owner)
        _, token = await create_invitation(connection, family_id)

        response = await accept_invitation(client, token, guest)

        assert response.status_code == 200
        assert response.json()["membership"]["display_name"] == guest.email.split("@")[0]
        me = await client.get("/v1/me", headers=guest.headers)
        assert me.json()["id"] == str(guest.user_id)

    async def test_unknown_token_is_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        guest = await create_person(connection, "guest")

        response = await accept_invitation(client, "lpi_" + "A" * 43, guest)

        assert_problem(response, 404, "invitation_not_found")

    @pytest.mark.parametrize("data", [{}, {"token": ""}, {"token": "x" * 201}, {"token": 5}])
    async def test_malformed_body_is_422(
        self, client: httpx.AsyncClient, connection: AsyncConnection, data: dict[str, object]
    ) -> None:
        guest = await create_person(connection, "guest")

        response = await client.post(ACCEPT, json=data, headers=guest.headers)

        assert_problem(response, 422, "validation_error")

    async def test_expired_is_410(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        guest = await create_person(connection, "guest")
        _, family_id = await create_owned_family(connection)
        invitation_id, token = await create_invitation(connection, family_id)
        await connection.execute(
            text("update invitations set expires_at = now() - interval '1 second' where id = :id"),
            {"id": invitation_id},
        )

        response = await accept_invitation(client, token, guest)

        assert_problem(response, 410, "invitation_expired")
        assert await _membership_of(connection, family_id, guest) is None
        assert await _use_count(connection, invitation_id) == 0

    async def test_used_up_is_410(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        first = await create_person(connection, "first")
        second = await create_person(connection, "second")
        _, family_id = await create_owned_family(connection)
        invitation_id, token = await create_invitation(connection, family_id)

        accepted = await accept_invitation(client, token, first)
        refused = await accept_invitation(client, token, second)

        assert accepted.status_code == 200
        assert_problem(refused, 410, "invitation_used")
        assert await _membership_of(connection, family_id, second) is None
        assert await _use_count(connection, invitation_id) == 1

    async def test_max_uses_admits_that_many_people(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        owner = await create_person(connection, "owner")
        guests = [await create_person(connection, f"guest{index}") for index in range(4)]
        family_id = await create_family(connection, owner)
        invitation_id, token = await create_invitation(connection, family_id, max_uses=3)

        answers = [await accept_invitation(client, token, guest) for guest in guests]

        assert [answer.status_code for answer in answers[:3]] == [200, 200, 200]
        assert len({answer.json()["membership"]["id"] for answer in answers[:3]}) == 3
        assert_problem(answers[3], 410, "invitation_used")
        assert await _use_count(connection, invitation_id) == 3
        assert len(await member_roles(connection, family_id)) == 4

    async def test_already_a_member_gets_the_same_membership_without_using_it(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(connection)
        member, member_id = await create_member(connection, family_id)
        invitation_id, token = await create_invitation(connection, family_id, role=MemberRole.ADMIN)

        response = await accept_invitation(client, token, member)

        assert response.status_code == 200
        assert response.json()["membership"]["id"] == str(member_id)
        assert response.json()["membership"]["role"] == "member"  # no silent promotion
        assert await _use_count(connection, invitation_id) == 0
        assert len(await member_roles(connection, family_id)) == 2

    async def test_retrying_an_accepted_one_use_invitation_is_200(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        guest = await create_person(connection, "guest")
        _, family_id = await create_owned_family(connection)
        invitation_id, token = await create_invitation(connection, family_id)

        first = await accept_invitation(client, token, guest)
        retry = await accept_invitation(client, token, guest)

        assert first.status_code == retry.status_code == 200
        assert retry.json() == first.json()
        assert await _use_count(connection, invitation_id) == 1

    async def test_member_id_links_the_login_to_the_managed_profile(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        teen = await create_person(connection, "teen")
        owner, family_id = await create_owned_family(connection)
        kid_id = await add_member(connection, family_id, None, display_name="Kiddo")
        created = await client.post(
            _invitations(family_id),
            json={"role": "member", "member_id": str(kid_id)},
            headers=owner.headers,
        )

        response = await accept_invitation(client, created.json()["token"], teen)

        assert response.status_code == 200
        membership = response.json()["membership"]
        assert membership["id"] == str(kid_id)
        assert membership["user_id"] == str(teen.user_id)
        assert membership["is_managed"] is False
        assert membership["display_name"] == "Kiddo"
        assert len(await member_roles(connection, family_id)) == 2
        assert await _membership_of(connection, family_id, teen) == kid_id

    async def test_profile_that_got_a_login_meanwhile_is_410(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        teen = await create_person(connection, "teen")
        impostor = await create_person(connection, "impostor")
        _, family_id = await create_owned_family(connection)
        kid_id = await add_member(connection, family_id, None, display_name="Kiddo")
        _, first_token = await create_invitation(connection, family_id, member_id=kid_id)
        second_id, second_token = await create_invitation(connection, family_id, member_id=kid_id)

        linked = await accept_invitation(client, first_token, teen)
        refused = await accept_invitation(client, second_token, impostor)

        assert linked.status_code == 200
        assert_problem(refused, 410, "invitation_used")
        assert await _membership_of(connection, family_id, teen) == kid_id
        assert await _membership_of(connection, family_id, impostor) is None
        assert await _use_count(connection, second_id) == 0

    async def test_email_bound_invitation_refuses_another_email(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        invited = await create_person(connection, "invited")
        other = await create_person(connection, "other")
        _, family_id = await create_owned_family(connection)
        invitation_id, token = await create_invitation(
            connection, family_id, email=invited.email.upper(), max_uses=2
        )

        refused = await accept_invitation(client, token, other)
        accepted = await accept_invitation(client, token, invited)

        assert_problem(refused, 403, "invitation_email_mismatch")
        assert await _membership_of(connection, family_id, other) is None
        assert accepted.status_code == 200
        assert await _use_count(connection, invitation_id) == 1

    async def test_invitation_of_a_deleted_family_is_404(
        self, client: httpx.AsyncClient, connection: AsyncConnection
    ) -> None:
        guest = await create_person(connection, "guest")
        owner, family_id = await create_owned_family(connection)
        _, token = await create_invitation(connection, family_id)
        await client.delete(f"/v1/families/{family_id}", headers=owner.headers)

        response = await accept_invitation(client, token, guest)

        assert_problem(response, 404, "invitation_not_found")
