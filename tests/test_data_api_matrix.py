"""What Supabase's Data API could do with our tables: nothing, whoever holds the token.

PostgREST (and pg_graphql) run a caller's SQL as `anon` (the public anon key) or as the role
in their token (`authenticated` for every signed-in user), with the token's claims in
`request.jwt.claims`, exactly as `raw_context` sets them here. Our API already decides what
each family member may do, so the most the Data API may allow anyone is nothing at all. Every
table, view, sequence and function in `public` is read from the catalog, so an object added
by a later migration is covered without editing this file, and each is tried as `anon`,
`service_role`, and as `authenticated` with the claims of an owner, an admin, a member, a
managed profile's login and an outsider: select, insert, update, delete, execute. Each attempt
must be refused by Postgres (SQLSTATE 42501) and leave the data as it was.

The reproductions from the security report are kept as named cases below, so a regression
reads as the attack it re-opens."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.db.roles import DATA_API_ROLES, REQUEST_ROLE
from tests.support.builders import Person
from tests.support.family_roles import (
    FAMILY_A_SUBJECTS,
    Subject,
    TwoFamilies,
    build_two_families,
    stored_state,
)
from tests.support.sql_roles import INSUFFICIENT_PRIVILEGE, raw_context, rejected


@dataclass(frozen=True)
class Persona:
    """A caller of the Data API: the role PostgREST switches to, and the claims it sets."""

    name: str
    role: str
    subject: Subject | None  # whose token; None: the anon key or the service key


PERSONAS = [
    Persona("anon", "anon", None),
    Persona("anon-with-owner-claims", "anon", Subject.OWNER),
    Persona("service_role", "service_role", None),
    *(
        Persona(f"authenticated-{subject}", "authenticated", subject)
        for subject in FAMILY_A_SUBJECTS
    ),
    Persona("authenticated-outsider", "authenticated", Subject.OUTSIDER),
]


def claims_of(persona: Persona, families: TwoFamilies) -> str:
    """The claims PostgREST would set for this persona's token."""
    claims: dict[str, object] = {"role": persona.role, "aud": persona.role}
    if persona.subject is not None:
        person: Person = families.people[persona.subject]
        claims.update(sub=str(person.user_id), email=person.email, aud="authenticated")
    return json.dumps(claims)


@dataclass(frozen=True)
class Relation:
    name: str  # schema-qualified, quoted
    kind: str  # 'r' table, 'p' partitioned, 'v' view, 'm' materialized view, 'S' sequence
    a_column: str | None  # any column, for a no-op UPDATE


@dataclass(frozen=True)
class Function:
    signature: str  # regprocedure text, e.g. public.accept_invitation(text)
    call: str  # `select f(...)` or `call p(...)` with NULL arguments of the right types


async def our_relations(connection: AsyncConnection) -> list[Relation]:
    rows = await connection.execute(
        text(
            """
            select format('%I.%I', n.nspname, c.relname), c.relkind,
                   (select quote_ident(a.attname) from pg_attribute a
                     where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                     order by a.attnum limit 1)
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
            order by 1
            """
        )
    )
    return [Relation(name, kind, column) for name, kind, column in rows]


async def our_callable_functions(connection: AsyncConnection) -> list[Function]:
    rows = await connection.execute(
        text(
            """
            select p.oid::regprocedure::text,
                   format('%s %I.%I(%s)',
                          case p.prokind when 'p' then 'call' else 'select' end,
                          n.nspname, p.proname,
                          coalesce((select string_agg(format('null::%s', t::regtype), ', '
                                                      order by i)
                                    from unnest(p.proargtypes) with ordinality as a(t, i)), ''))
            from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where n.nspname = 'public' and p.prokind in ('f', 'p')
              -- A trigger function cannot be called outside its trigger (not even prepared);
              -- its EXECUTE privilege is checked from the catalog below.
              and p.prorettype <> 'trigger'::regtype
            order by 1
            """
        )
    )
    return [Function(signature, call) for signature, call in rows]


def attempts_on(relation: Relation) -> list[str]:
    if relation.kind == "S":
        return [f"select nextval('{relation.name}')", f"select * from {relation.name}"]
    statements = [f"select * from {relation.name} limit 1"]
    if relation.kind in ("r", "p", "v", "f"):
        statements += [
            f"insert into {relation.name} default values",
            f"update {relation.name} set {relation.a_column} = {relation.a_column}",
            f"delete from {relation.name}",
        ]
    return statements


@pytest.fixture
async def two_families(connection: AsyncConnection, client: httpx.AsyncClient) -> TwoFamilies:
    return await build_two_families(connection, client)


async def test_the_catalog_holds_our_objects(connection: AsyncConnection) -> None:
    """The matrix below means something only if it finds what the migrations created."""
    relations = {relation.name for relation in await our_relations(connection)}
    functions = {function.signature for function in await our_callable_functions(connection)}

    assert {"public.habits", "public.checkins", "public.family_members"} <= relations
    assert "accept_invitation(text)" in functions  # regprocedure omits a schema on the path


@pytest.mark.parametrize("persona", PERSONAS, ids=lambda persona: persona.name)
async def test_the_data_api_reaches_nothing_of_ours(
    connection: AsyncConnection, two_families: TwoFamilies, persona: Persona
) -> None:
    before = await stored_state(connection, two_families)
    attempts = [
        statement
        for relation in await our_relations(connection)
        for statement in attempts_on(relation)
    ]
    attempts += [function.call for function in await our_callable_functions(connection)]
    went_through = []

    async with raw_context(connection, role=persona.role, claims=claims_of(persona, two_families)):
        for statement in attempts:
            try:
                error = await rejected(connection, statement, {})
            except pytest.fail.Exception:
                went_through.append(statement)
                continue
            if not error.startswith(INSUFFICIENT_PRIVILEGE):
                went_through.append(f"{statement} -> {error}")

    assert went_through == [], f"{persona.name} got past the privilege check"
    assert await stored_state(connection, two_families) == before


@pytest.mark.parametrize("role", DATA_API_ROLES)
async def test_no_privilege_is_granted_to_the_data_api(
    connection: AsyncConnection, role: str
) -> None:
    """The same, from the catalog: no table, column, sequence or function privilege at all
    (through PUBLIC included), so no operation the attempts above missed can exist."""
    granted = await connection.scalars(
        text(
            """
            select format('%s on %s', privilege, c.oid::regclass)
            from pg_class c
            cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                    'REFERENCES', 'TRIGGER']) as privilege
            where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')
              and (has_table_privilege(:role, c.oid, privilege)
                   or (privilege in ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
                       and has_any_column_privilege(:role, c.oid, privilege)))
            union all
            select format('USAGE on sequence %s', c.oid::regclass)
            from pg_class c
            where c.relnamespace = 'public'::regnamespace and c.relkind = 'S'
              -- (a CASE: the planner may test other rows' relkind after the function)
              and case when c.relkind = 'S'
                       then has_sequence_privilege(:role, c.oid, 'USAGE, SELECT, UPDATE') end
            union all
            select format('EXECUTE on %s', p.oid::regprocedure)
            from pg_proc p
            where p.pronamespace = 'public'::regnamespace
              and has_function_privilege(:role, p.oid, 'EXECUTE')
            """
        ),
        {"role": role},
    )

    assert list(granted) == []


async def test_no_data_api_role_can_become_the_request_role(connection: AsyncConnection) -> None:
    """PostgREST switches to the role a token names, among those `authenticator` (its login)
    is a member of; none of them, nor `authenticator` itself, holds the request role."""
    roles = [*DATA_API_ROLES, "authenticator"]
    holders = await connection.scalars(
        text(
            "select r.rolname from pg_roles r where r.rolname = any(:roles)"
            " and pg_has_role(r.oid, :request_role, 'member')"
        ),
        {"roles": roles, "request_role": REQUEST_ROLE},
    )

    assert list(holders) == []


async def test_a_token_naming_the_request_role_cannot_switch_to_it(
    database_url: str, engine: AsyncEngine
) -> None:
    """A forged `role` claim is what PostgREST would `SET ROLE` to. Postgres allows that only
    to roles its login (`authenticator`) is a member of: logged in as `authenticator` (on plain
    Postgres, a login made the same way), the Data API roles are reachable, ours is not."""
    async with engine.connect() as connection:
        supabase_login = await connection.scalar(
            text("select 1 from pg_roles where rolname = 'authenticator'")
        )
    login = "authenticator" if supabase_login else f"loopin_test_login_{uuid.uuid4().hex[:8]}"
    if not supabase_login:
        async with engine.begin() as admin:
            await admin.execute(text(f"create role {login} login noinherit password 'test'"))
            await admin.execute(text(f"grant {', '.join(DATA_API_ROLES)} to {login}"))
    url = make_url(database_url).set(username=login, password="test")
    try:
        connection = await asyncpg.connect(url.render_as_string(hide_password=False))
        try:
            await connection.execute("set role authenticated")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(f"set role {REQUEST_ROLE}")
        finally:
            await connection.close()
    finally:
        if not supabase_login:
            async with engine.begin() as admin:
                await admin.execute(text(f"drop role {login}"))


# --- the reproductions of the security report ---------------------------------------------


def member_claims(families: TwoFamilies, subject: Subject = Subject.MEMBER) -> str:
    return claims_of(Persona("report", "authenticated", subject), families)


async def habit_of(
    connection: AsyncConnection, families: TwoFamilies, subject: Subject
) -> uuid.UUID:
    """A habit assigned to `subject` in family A, written as the owner role."""
    habit_id = uuid.uuid4()
    assignee = families.member_ids[subject]
    await connection.execute(
        text(
            "insert into habits (id, family_id, assignee_id, name, start_date)"
            " values (:id, :family, :assignee, 'Report habit', current_date - 10)"
        ),
        {"id": habit_id, "family": families.family_id, "assignee": assignee},
    )
    await connection.execute(
        text(
            "insert into habit_versions (habit_id, family_id, number, effective_from, type,"
            " schedule) values (:habit, :family, 1, current_date - 10, 'boolean',"
            ' \'{"kind": "daily"}\')'
        ),
        {"habit": habit_id, "family": families.family_id},
    )
    await connection.execute(
        text(
            "insert into checkins (habit_id, family_id, date, status)"
            " values (:habit, :family, current_date - 1, 'done')"
        ),
        {"habit": habit_id, "family": families.family_id},
    )
    return habit_id


async def habit_rows(connection: AsyncConnection) -> list[tuple[object, ...]]:
    rows = []
    for table in ("habits", "habit_versions", "checkins"):
        rows += [tuple(row) for row in await connection.execute(text(f"select * from {table}"))]
    return sorted(rows, key=repr)


REPORTED_ATTACKS = {
    "member deletes the owner's habit": "delete from habits where id = :owner_habit",
    "member rewrites another member's check-ins": (
        "update checkins set status = 'skipped' where habit_id = :owner_habit"
    ),
    "member back-dates a check-in to 2006": (
        "insert into checkins (habit_id, family_id, date, status)"
        " values (:my_habit, :family, '2006-01-01', 'done')"
    ),
    "member reads co-members' emails": "select email from users",
    "member moves to a time zone that does not exist": (
        "update users set timezone = 'Nowhere/Land' where id = :me"
    ),
    "member plants a bogus habit version": (
        "insert into habit_versions (habit_id, family_id, number, effective_from, type, schedule)"
        " values (:owner_habit, :family, 2, current_date, 'boolean', '{\"kind\": \"bogus\"}')"
    ),
    "owner re-points a managed profile at any login": (
        "update family_members set user_id = :me where family_id = :family and user_id is null"
    ),
}


@pytest.mark.parametrize("attack", REPORTED_ATTACKS.values(), ids=REPORTED_ATTACKS.keys())
async def test_the_reported_attacks_are_refused(
    connection: AsyncConnection, two_families: TwoFamilies, attack: str
) -> None:
    owner_habit = await habit_of(connection, two_families, Subject.OWNER)
    my_habit = await habit_of(connection, two_families, Subject.MEMBER)
    subject = Subject.OWNER if attack.startswith("update family_members") else Subject.MEMBER
    params = {
        "owner_habit": owner_habit,
        "my_habit": my_habit,
        "family": two_families.family_id,
        "me": two_families.people[subject].user_id,
    }
    before = await stored_state(connection, two_families)
    habits_before = await habit_rows(connection)

    async with raw_context(
        connection, role="authenticated", claims=member_claims(two_families, subject)
    ):
        error = await rejected(connection, attack, params)

    assert error.startswith(INSUFFICIENT_PRIVILEGE)
    assert "permission denied" in error
    assert await stored_state(connection, two_families) == before
    assert await habit_rows(connection) == habits_before
