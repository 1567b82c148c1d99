"""Concurrent requests against the committing app: the tenancy rules hold under races, and a
request whose transaction fails at COMMIT never answers 2xx."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.models.enums import MemberRole
from tests.support.api_calls import accept_invitation
from tests.support.builders import (
    Person,
    add_member,
    create_member,
    create_owned_family,
    create_person,
)
from tests.support.tenancy import assert_problem, create_invitation, owner_count, scalar

pytestmark = pytest.mark.committing

ROUNDS = 5


async def _fresh(live_connection: AsyncConnection, sql: str, **params: object) -> object:
    """Read the committed state, then end the read so no snapshot or lock lingers."""
    value = await scalar(live_connection, sql, **params)
    await live_connection.commit()
    return value


class TestConcurrentAccept:
    async def test_one_use_invitation_admits_exactly_one_of_five(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(live_connection)
        guests = [
            await create_person(live_connection, f"guest{index}", provisioned=False)
            for index in range(5)
        ]
        invitation_id, token = await create_invitation(live_connection, family_id)
        await live_connection.commit()

        answers = await asyncio.gather(*(accept_invitation(live_client, token, g) for g in guests))

        statuses = sorted(answer.status_code for answer in answers)
        assert statuses == [200, 410, 410, 410, 410], [a.text for a in answers]
        for answer in answers:
            if answer.status_code == 410:
                assert_problem(answer, 410, "invitation_used")
        members = await _fresh(
            live_connection,
            "select count(*) from family_members where family_id = :f and role = 'member'",
            f=family_id,
        )
        assert members == 1
        winner = next(answer for answer in answers if answer.status_code == 200)
        winner_user = await _fresh(
            live_connection,
            "select user_id::text from family_members where id = :id",
            id=winner.json()["membership"]["id"],
        )
        assert winner_user == winner.json()["membership"]["user_id"]
        use_count = await _fresh(
            live_connection, "select use_count from invitations where id = :id", id=invitation_id
        )
        assert use_count == 1

    @pytest.mark.parametrize("max_uses", [1, 2])
    async def test_same_user_accepting_twice_at_once_joins_once(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection, max_uses: int
    ) -> None:
        _, family_id = await create_owned_family(live_connection)
        guest = await create_person(live_connection, "guest", provisioned=False)
        invitation_id, token = await create_invitation(
            live_connection, family_id, max_uses=max_uses
        )
        await live_connection.commit()

        first, second = await asyncio.gather(
            *(accept_invitation(live_client, token, guest) for _ in "ab")
        )

        assert (first.status_code, second.status_code) == (200, 200), (first.text, second.text)
        assert first.json()["membership"]["id"] == second.json()["membership"]["id"]
        memberships = await _fresh(
            live_connection,
            "select count(*) from family_members where user_id = :user",
            user=guest.user_id,
        )
        assert memberships == 1
        use_count = await _fresh(
            live_connection, "select use_count from invitations where id = :id", id=invitation_id
        )
        assert use_count == 1


@dataclass
class Owners:
    family_id: uuid.UUID
    a: Person
    a_member: uuid.UUID
    b: Person
    b_member: uuid.UUID


async def _two_owners(live_connection: AsyncConnection) -> Owners:
    """A family with exactly two owners and a managed profile, committed."""
    b, family_id = await create_owned_family(live_connection, "owner-b")
    a, a_member = await create_member(live_connection, family_id, "owner-a", MemberRole.OWNER)
    await add_member(live_connection, family_id, None, display_name="Kid")
    b_member = await scalar(
        live_connection,
        "select id from family_members where family_id = :f and user_id = :u",
        f=family_id,
        u=b.user_id,
    )
    await live_connection.commit()
    return Owners(family_id, a, a_member, b, b_member)


@dataclass
class Action:
    """One side of a race: the request, the problems it may lose with, and how to see in the
    database that it took effect."""

    request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
    losing_codes: set[str]
    took_effect: str  # SQL answering true when the change is in the database


def _demote(actor: Person, family_id: uuid.UUID, target: uuid.UUID, losing: set[str]) -> Action:
    return Action(
        request=lambda client: client.patch(
            f"/v1/families/{family_id}/members/{target}",
            json={"role": "admin"},
            headers=actor.headers,
        ),
        losing_codes=losing,
        took_effect=f"select coalesce((select role = 'admin' from family_members"
        f" where id = '{target}'), true)",
    )


def _remove(actor: Person, family_id: uuid.UUID, target: uuid.UUID, losing: set[str]) -> Action:
    return Action(
        request=lambda client: client.delete(
            f"/v1/families/{family_id}/members/{target}", headers=actor.headers
        ),
        losing_codes=losing,
        took_effect=f"select not exists (select 1 from family_members where id = '{target}')",
    )


def _delete_account(actor: Person) -> Action:
    return Action(
        request=lambda client: client.delete("/v1/me", headers=actor.headers),
        losing_codes={"sole_owner", "last_owner"},
        took_effect=f"select not exists (select 1 from users where id = '{actor.user_id}')",
    )


RACES: dict[str, Callable[[Owners], tuple[Action, Action]]] = {
    "each demotes the other": lambda o: (
        _demote(o.a, o.family_id, o.b_member, {"last_owner", "owner_required"}),
        _demote(o.b, o.family_id, o.a_member, {"last_owner", "owner_required"}),
    ),
    "both demote themselves": lambda o: (
        _demote(o.a, o.family_id, o.a_member, {"last_owner"}),
        _demote(o.b, o.family_id, o.b_member, {"last_owner"}),
    ),
    "both leave": lambda o: (
        _remove(o.a, o.family_id, o.a_member, {"last_owner"}),
        _remove(o.b, o.family_id, o.b_member, {"last_owner"}),
    ),
    "each removes the other": lambda o: (
        _remove(o.a, o.family_id, o.b_member, {"last_owner", "family_not_found"}),
        _remove(o.b, o.family_id, o.a_member, {"last_owner", "family_not_found"}),
    ),
    "one leaves, the other steps down": lambda o: (
        _remove(o.a, o.family_id, o.a_member, {"last_owner"}),
        _demote(o.b, o.family_id, o.b_member, {"last_owner"}),
    ),
    # Deleting an account takes no family lock in the service: the loser may only be caught
    # by the deferred trigger at COMMIT.
    "one deletes their account, the other steps down": lambda o: (
        _delete_account(o.a),
        _demote(o.b, o.family_id, o.b_member, {"last_owner"}),
    ),
    "both delete their accounts": lambda o: (_delete_account(o.a), _delete_account(o.b)),
}


class TestLastOwnerRace:
    @pytest.mark.parametrize("race", list(RACES))
    async def test_a_family_always_keeps_an_owner(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection, race: str
    ) -> None:
        for _ in range(ROUNDS):
            owners = await _two_owners(live_connection)
            actions = RACES[race](owners)

            answers = await asyncio.gather(*(action.request(live_client) for action in actions))

            assert (
                await _fresh(
                    live_connection,
                    "select count(*) from family_members where family_id = :f and role = 'owner'",
                    f=owners.family_id,
                )
                == 1
            ), [answer.text for answer in answers]
            winners = [answer for answer in answers if answer.is_success]
            assert len(winners) == 1, [answer.text for answer in answers]
            for action, answer in zip(actions, answers, strict=True):
                # Whatever answered 2xx is committed; whatever lost left no trace.
                assert await _fresh(live_connection, action.took_effect) is answer.is_success
                if not answer.is_success:
                    assert answer.status_code in (403, 404, 409), answer.text
                    assert_problem(answer, answer.status_code, answer.json()["code"])
                    assert answer.json()["code"] in action.losing_codes, answer.text


async def _wait_for_lock_waiter(engine: AsyncEngine) -> None:
    """Until some backend of this database waits for a lock (the request under test)."""
    async with asyncio.timeout(5):
        while True:
            async with engine.connect() as probe:
                waiting = await probe.scalar(
                    text(
                        "select count(*) from pg_stat_activity"
                        " where datname = current_database() and wait_event_type = 'Lock'"
                    )
                )
            if waiting:
                return
            await asyncio.sleep(0.02)


async def _hold_family_lock(live_connection: AsyncConnection, family_id: uuid.UUID) -> None:
    """Take the family row's lock in the test's open transaction, as the member routes take
    it before they change members."""
    await live_connection.execute(
        text("select id from families where id = :f for update"), {"f": family_id}
    )


async def _has_account(live_connection: AsyncConnection, person: Person) -> bool:
    count = await _fresh(
        live_connection, "select count(*) from users where id = :id", id=person.user_id
    )
    return count == 1


class TestAccountDeletedWhileRemoved:
    """An owner deletes their account while another owner removes them from the family: the
    removal locks the family, then deletes the member; the account deletion must take the
    family's lock before it deletes anything, or each waits for the other (deadlock: a 503)."""

    async def test_removal_and_account_deletion_at_once_both_succeed(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        for _ in range(ROUNDS):
            owners = await _two_owners(live_connection)

            deleted, removed = await asyncio.gather(
                live_client.delete("/v1/me", headers=owners.a.headers),
                live_client.delete(
                    f"/v1/families/{owners.family_id}/members/{owners.a_member}",
                    headers=owners.b.headers,
                ),
            )

            assert deleted.status_code == 204, deleted.text
            # The removal came first (204), or found the member gone with the account.
            if removed.status_code != 204:
                assert_problem(removed, 404, "member_not_found")
            assert await owner_count(live_connection, owners.family_id) == 1
            await live_connection.commit()

    async def test_account_deletion_waits_for_a_removal_in_progress(
        self,
        live_client: httpx.AsyncClient,
        live_connection: AsyncConnection,
        engine: AsyncEngine,
    ) -> None:
        """The held transaction takes the locks in the order the removal route does."""
        owners = await _two_owners(live_connection)
        await _hold_family_lock(live_connection, owners.family_id)

        request = asyncio.create_task(live_client.delete("/v1/me", headers=owners.a.headers))
        await _wait_for_lock_waiter(engine)
        # Without the account deletion waiting up front, it holds this row by now, and this
        # statement would deadlock with its COMMIT.
        await live_connection.execute(
            text("delete from family_members where id = :id"), {"id": owners.a_member}
        )
        await live_connection.commit()
        response = await request

        assert response.status_code == 204, response.text
        assert await _has_account(live_connection, owners.a) is False


class TestCommitBeforeResponse:
    async def test_request_failing_at_commit_answers_409_not_2xx(
        self,
        live_client: httpx.AsyncClient,
        live_connection: AsyncConnection,
        engine: AsyncEngine,
    ) -> None:
        """Owner B steps down in a transaction held open (as the members route would: family
        lock, then the change). Owner A deletes their account meanwhile: the service check
        passes (B's change is not committed), so only the deferred trigger at A's COMMIT can
        refuse it, after B commits. A must get 409, and keep their account."""
        owners = await _two_owners(live_connection)
        await _hold_family_lock(live_connection, owners.family_id)
        await live_connection.execute(
            text("update family_members set role = 'admin' where id = :id"),
            {"id": owners.b_member},
        )

        request = asyncio.create_task(live_client.delete("/v1/me", headers=owners.a.headers))
        await _wait_for_lock_waiter(engine)
        assert not request.done()
        await live_connection.commit()
        response = await request

        assert_problem(response, 409, "last_owner")
        assert await owner_count(live_connection, owners.family_id) == 1
        assert (
            await _fresh(
                live_connection,
                "select role::text from family_members where id = :id",
                id=owners.a_member,
            )
            == "owner"
        )
        assert await _has_account(live_connection, owners.a) is True

    async def test_request_waiting_for_the_family_lock_sees_the_committed_change(
        self,
        live_client: httpx.AsyncClient,
        live_connection: AsyncConnection,
        engine: AsyncEngine,
    ) -> None:
        owners = await _two_owners(live_connection)
        await _hold_family_lock(live_connection, owners.family_id)
        await live_connection.execute(
            text("update family_members set role = 'admin' where id = :id"),
            {"id": owners.b_member},
        )

        request = asyncio.create_task(
            live_client.delete(
                f"/v1/families/{owners.family_id}/members/{owners.a_member}",
                headers=owners.a.headers,
            )
        )
        await _wait_for_lock_waiter(engine)
        await live_connection.commit()
        response = await request

        assert_problem(response, 409, "last_owner")
        assert (
            await _fresh(
                live_connection,
                "select role::text from family_members where id = :id",
                id=owners.a_member,
            )
            == "owner"
        )


async def _sent_twice_at_once(
    client: httpx.AsyncClient, path: str, data: dict[str, str], person: Person
) -> list[httpx.Response]:
    """The same create `POST`ed twice at once: one attempt creates (201), the other finds
    what it created (200)."""
    answers = await asyncio.gather(
        *(client.post(path, json=data, headers=person.headers) for _ in "ab")
    )
    assert sorted(a.status_code for a in answers) == [200, 201], [a.text for a in answers]
    return answers


class TestConcurrentRetriedCreate:
    """An offline client retries a create while the first attempt is still in flight: both
    attempts carry the same id and body, and both must succeed with one resource."""

    async def test_family(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        person = await create_person(live_connection, "ada")
        await live_connection.commit()
        for _ in range(ROUNDS):
            data = {"id": str(uuid.uuid4()), "name": "Lovelaces"}

            answers = await _sent_twice_at_once(live_client, "/v1/families", data, person)

            assert answers[0].json() == answers[1].json()
            assert (
                await _fresh(
                    live_connection,
                    "select count(*) from family_members where family_id = :f",
                    f=data["id"],
                )
                == 1
            )

    async def test_managed_profile(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(live_connection)
        await live_connection.commit()
        for _ in range(ROUNDS):
            data = {"id": str(uuid.uuid4()), "display_name": "Kid"}

            answers = await _sent_twice_at_once(
                live_client, f"/v1/families/{family_id}/members", data, owner
            )

            assert answers[0].json() == answers[1].json()

    async def test_invitation(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        owner, family_id = await create_owned_family(live_connection)
        await live_connection.commit()
        for _ in range(ROUNDS):
            data = {"id": str(uuid.uuid4()), "role": "member"}

            answers = await _sent_twice_at_once(
                live_client, f"/v1/families/{family_id}/invitations", data, owner
            )

            created = next(a.json() for a in answers if a.status_code == 201)
            retried = next(a.json() for a in answers if a.status_code == 200)
            assert created["token"]
            assert retried == created | {"token": None}


class TestSameUserTwoInvitations:
    async def test_accepting_two_invitations_to_one_family_at_once_joins_once(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        _, family_id = await create_owned_family(live_connection)
        guest = await create_person(live_connection, "guest")
        await live_connection.commit()
        for _ in range(ROUNDS):
            tokens = [(await create_invitation(live_connection, family_id))[1] for _ in "ab"]
            await live_connection.commit()

            answers = await asyncio.gather(
                *(accept_invitation(live_client, t, guest) for t in tokens)
            )

            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            assert answers[0].json()["membership"] == answers[1].json()["membership"]
            await live_connection.execute(
                text("delete from family_members where user_id = :u"), {"u": guest.user_id}
            )
            await live_connection.commit()


class TestConcurrentFirstCalls:
    async def test_first_calls_at_once_provision_one_profile(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        for _ in range(ROUNDS):
            person = await create_person(live_connection, "new", provisioned=False)
            await live_connection.commit()

            answers = await asyncio.gather(
                *(live_client.get("/v1/me", headers=person.headers) for _ in range(3))
            )

            assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
            assert answers[0].json() == answers[1].json() == answers[2].json()


class TestFamilyDeletedWhileJoining:
    async def test_accept_racing_family_deletion_never_500(
        self, live_client: httpx.AsyncClient, live_connection: AsyncConnection
    ) -> None:
        for _ in range(ROUNDS):
            guest = await create_person(live_connection, "guest")
            owner, family_id = await create_owned_family(live_connection)
            _, token = await create_invitation(live_connection, family_id)
            await live_connection.commit()

            deleted, accepted = await asyncio.gather(
                live_client.delete(f"/v1/families/{family_id}", headers=owner.headers),
                accept_invitation(live_client, token, guest),
            )

            assert deleted.status_code == 204, deleted.text
            assert accepted.status_code in (200, 404), accepted.text
            assert (
                await _fresh(
                    live_connection, "select count(*) from families where id = :f", f=family_id
                )
                == 0
            )

    async def test_deleting_waits_for_an_accept_in_progress_without_deadlock(
        self,
        live_client: httpx.AsyncClient,
        live_connection: AsyncConnection,
        engine: AsyncEngine,
    ) -> None:
        """The held transaction takes the locks in the order `accept_invitation()` does: the
        invitation, then (inserting the membership) the family's key. Deleting the family
        meanwhile must wait for it rather than deadlock."""
        guest = await create_person(live_connection, "guest")
        owner, family_id = await create_owned_family(live_connection)
        invitation_id, _ = await create_invitation(live_connection, family_id)
        await live_connection.commit()
        await live_connection.execute(
            text("select id from invitations where id = :id for update"), {"id": invitation_id}
        )

        request = asyncio.create_task(
            live_client.delete(f"/v1/families/{family_id}", headers=owner.headers)
        )
        await _wait_for_lock_waiter(engine)
        await live_connection.execute(
            text(
                "insert into family_members (family_id, user_id, display_name, role)"
                " values (:f, :u, 'Guest', 'member')"
            ),
            {"f": family_id, "u": guest.user_id},
        )
        await live_connection.execute(
            text("update invitations set use_count = 1 where id = :id"), {"id": invitation_id}
        )
        await live_connection.commit()
        response = await request

        assert response.status_code == 204, response.text
        assert (
            await _fresh(
                live_connection,
                "select count(*) from family_members where family_id = :f",
                f=family_id,
            )
            == 0
        )


class TestProfileRemovedWhileJoining:
    async def test_removing_waits_for_an_accept_in_progress_without_deadlock(
        self,
        live_client: httpx.AsyncClient,
        live_connection: AsyncConnection,
        engine: AsyncEngine,
    ) -> None:
        """The held transaction takes the locks in the order `accept_invitation()` does: the
        invitation, then the family. Removing the profile the invitation is bound to (which
        deletes the invitation with it) must wait for it rather than deadlock."""
        owner, family_id = await create_owned_family(live_connection)
        kid_id = await add_member(live_connection, family_id, None, display_name="Kid")
        invitation_id, _ = await create_invitation(live_connection, family_id, member_id=kid_id)
        await live_connection.commit()
        await live_connection.execute(
            text("select id from invitations where id = :id for update"), {"id": invitation_id}
        )

        request = asyncio.create_task(
            live_client.delete(f"/v1/families/{family_id}/members/{kid_id}", headers=owner.headers)
        )
        await _wait_for_lock_waiter(engine)
        await live_connection.execute(
            text("select id from families where id = :f for update"), {"f": family_id}
        )
        await live_connection.commit()
        response = await request

        assert response.status_code == 204, response.text
