"""A child's login that leaves, or whose account is deleted, leaves the child's managed
profile behind with every habit and check-in; only an admin removing the member deletes
them. The profile was linked the way users link one (an invitation bound to it, accepted by
the child's new login: `build_two_families`)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.roles import REQUEST_ROLE
from tests.support.family_roles import Subject, TwoFamilies
from tests.support.habits import create_habit, local_today

CHECKINS = 5


async def _child_history(connection: AsyncConnection, two_families: TwoFamilies) -> uuid.UUID:
    child_member = two_families.member_ids[Subject.MANAGED_LOGIN]
    habit_id = await create_habit(
        connection, two_families.family_id, child_member, name="Brush teeth"
    )
    await connection.execute(
        text(
            "insert into checkins (habit_id, family_id, date, status)"
            " select :habit, :family, cast(:today as date) - day, 'done'"
            " from generate_series(1, :n) as day"
        ),
        {
            "habit": habit_id,
            "family": two_families.family_id,
            "today": local_today(),
            "n": CHECKINS,
        },
    )
    return habit_id


async def _profile(connection: AsyncConnection, member_id: uuid.UUID) -> dict[str, object] | None:
    row = (
        await connection.execute(
            text("select user_id, role::text as role from family_members where id = :id"),
            {"id": member_id},
        )
    ).first()
    return dict(row._mapping) if row else None


async def _history(connection: AsyncConnection, habit_id: uuid.UUID) -> tuple[int, int]:
    habits = await connection.scalar(
        text("select count(*) from habits where id = :id and deleted_at is null"),
        {"id": habit_id},
    )
    checkins = await connection.scalar(
        text("select count(*) from checkins where habit_id = :id"), {"id": habit_id}
    )
    return habits or 0, checkins or 0


async def _assert_managed_again_with_history(
    client: httpx.AsyncClient,
    connection: AsyncConnection,
    two_families: TwoFamilies,
    habit_id: uuid.UUID,
) -> None:
    child_member = two_families.member_ids[Subject.MANAGED_LOGIN]
    assert await _profile(connection, child_member) == {"user_id": None, "role": "member"}
    assert await _history(connection, habit_id) == (1, CHECKINS)
    # The family sees the child as a managed profile again, with the habit still theirs.
    members = await client.get(
        f"/v1/families/{two_families.family_id}/members",
        headers=two_families.headers(Subject.OWNER),
    )
    child = next(m for m in members.json()["items"] if m["id"] == str(child_member))
    assert child["is_managed"] is True
    habit = await client.get(f"/v1/habits/{habit_id}", headers=two_families.headers(Subject.OWNER))
    assert habit.status_code == 200
    assert habit.json()["assignee_id"] == str(child_member)
    history = await client.get(
        f"/v1/habits/{habit_id}/checkins",
        params={"from": str(local_today() - timedelta(days=CHECKINS)), "to": str(local_today())},
        headers=two_families.headers(Subject.OWNER),
    )
    assert history.status_code == 200
    assert len(history.json()["items"]) == CHECKINS


async def test_the_childs_login_leaving_keeps_the_profile_and_its_history(
    client: httpx.AsyncClient, connection: AsyncConnection, two_families: TwoFamilies
) -> None:
    habit_id = await _child_history(connection, two_families)
    child_member = two_families.member_ids[Subject.MANAGED_LOGIN]
    left = await client.delete(
        f"/v1/families/{two_families.family_id}/members/{child_member}",
        headers=two_families.headers(Subject.MANAGED_LOGIN),
    )
    assert left.status_code == 204, left.text
    await _assert_managed_again_with_history(client, connection, two_families, habit_id)
    # The login itself is out of the family.
    mine = await client.get("/v1/families", headers=two_families.headers(Subject.MANAGED_LOGIN))
    assert mine.json()["items"] == []


async def test_the_childs_account_deleted_keeps_the_profile_and_its_history(
    client: httpx.AsyncClient, connection: AsyncConnection, two_families: TwoFamilies
) -> None:
    habit_id = await _child_history(connection, two_families)
    child = two_families.people[Subject.MANAGED_LOGIN]
    deleted = await client.delete("/v1/me", headers=child.headers)
    assert deleted.status_code == 204, deleted.text
    await _assert_managed_again_with_history(client, connection, two_families, habit_id)
    gone = await connection.scalar(
        text("select count(*) from users where id = :id"), {"id": child.user_id}
    )
    assert gone == 0


async def test_an_admin_removing_the_childs_member_deletes_its_history(
    client: httpx.AsyncClient, connection: AsyncConnection, two_families: TwoFamilies
) -> None:
    habit_id = await _child_history(connection, two_families)
    child_member = two_families.member_ids[Subject.MANAGED_LOGIN]
    removed = await client.delete(
        f"/v1/families/{two_families.family_id}/members/{child_member}",
        headers=two_families.headers(Subject.ADMIN),
    )
    assert removed.status_code == 204
    assert await _profile(connection, child_member) is None
    assert await _history(connection, habit_id) == (0, 0)


async def test_an_ordinary_login_leaving_takes_its_membership_along(
    client: httpx.AsyncClient, connection: AsyncConnection, two_families: TwoFamilies
) -> None:
    member_id = two_families.member_ids[Subject.MEMBER]
    left = await client.delete(
        f"/v1/families/{two_families.family_id}/members/{member_id}",
        headers=two_families.headers(Subject.MEMBER),
    )
    assert left.status_code == 204
    assert await _profile(connection, member_id) is None


async def test_the_unbinding_function_frees_only_the_callers_own_membership(
    connection: AsyncConnection, two_families: TwoFamilies
) -> None:
    """Called in a request's transaction with another login's claims (the most a service bug
    could do; the Data API's roles cannot call it at all), the function changes nothing."""
    child_member = two_families.member_ids[Subject.MANAGED_LOGIN]
    for subject in (Subject.OWNER, Subject.ADMIN, Subject.OUTSIDER):
        person = two_families.people[subject]
        claims = f'{{"sub": "{person.user_id}", "role": "authenticated"}}'
        await connection.execute(
            text("select set_config('request.jwt.claims', :claims, true)"), {"claims": claims}
        )
        await connection.execute(text(f"set local role {REQUEST_ROLE}"))
        freed = await connection.scalar(
            text("select public.leave_managed_profile(:id)"), {"id": child_member}
        )
        await connection.execute(text("reset role"))
        assert freed is False
    child = two_families.people[Subject.MANAGED_LOGIN]
    assert await _profile(connection, child_member) == {
        "user_id": child.user_id,
        "role": "member",
    }
