"""Requests run as our own role `loopin_api`; the Data API's roles get nothing of ours.

On Supabase the `public` schema is published by the Data API (PostgREST, pg_graphql), and
Supabase's default privileges grant every table, function and sequence created there to
`anon`, `authenticated` and `service_role`. Any signed-in user can send their access token
straight to PostgREST, which runs their SQL as `authenticated`: with our policies written for
`authenticated`, they could do whatever RLS allowed, which is tenancy, not the API's role
rules (a member deleting the owner's habit, rewriting others' check-ins, ...).

So request transactions switch to `loopin_api`, a NOLOGIN role granted only to the role
that migrates and serves (Supabase's `postgres`); `authenticator`, the role PostgREST logs in
as, is not a member and can never switch to it. Every privilege on our objects is revoked
from the three API roles and PUBLIC, the policies move to `loopin_api`, and the migrating
role's default privileges in `public` stop granting new objects to the API roles, so a table
added later is private until a migration grants it to `loopin_api`. The design is explained
in `supabase/README.md`; `tests/test_data_api_matrix.py` reads the catalog to prove it.

`loopin_api` has no USAGE on schema `auth` on Supabase (only `supabase_admin` may grant it),
so the policies that compared with `auth.uid()` use `public.request_user_id()`, which reads
the same claim; the SECURITY DEFINER functions keep calling `auth.uid()` as their owner.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 02:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

API_ROLE = "loopin_api"
DATA_API_ROLES = "anon, authenticated, service_role"

TABLES = (
    "users",
    "families",
    "family_members",
    "invitations",
    "habits",
    "habit_versions",
    "checkins",
    "routines",
    "routine_versions",
    "sync_changes",
    "alembic_version",
)
SEQUENCES = ("sync_changes_seq_seq",)
# What requests call; the trigger functions are called by their triggers only.
REQUEST_FUNCTIONS = (
    "public.my_family_ids(public.member_role)",
    "public.create_family(uuid, text, text, text, uuid)",
    "public.accept_invitation(text)",
    "public.my_co_member_user_ids()",
    "public.request_user_id()",
)
TRIGGER_FUNCTIONS = (
    "public.ensure_family_has_owner()",
    "public.log_family_change()",
    "public.log_family_owned_change()",
    "public.log_family_access()",
)
POLICIES = (
    ("users", "users_self"),
    ("users", "users_co_members"),
    ("families", "families_read"),
    ("families", "families_update"),
    ("families", "families_delete"),
    ("family_members", "family_members_read"),
    ("family_members", "family_members_insert"),
    ("family_members", "family_members_update"),
    ("family_members", "family_members_delete"),
    ("invitations", "invitations_admin"),
    ("habits", "habits_family"),
    ("habit_versions", "habit_versions_family"),
    ("checkins", "checkins_family"),
    ("routines", "routines_family"),
    ("routine_versions", "routine_versions_family"),
    ("sync_changes", "sync_changes_read"),
)
# The policies that named the caller through auth.uid(), as (table, policy, using, check).
CALLER_POLICIES = (
    ("users", "users_self", "id = {uid}", "id = {uid}"),
    (
        "family_members",
        "family_members_delete",
        """user_id = {uid}
    or (
      family_id in (select public.my_family_ids('admin'))
      and (role <> 'owner' or family_id in (select public.my_family_ids('owner')))
    )""",
        None,
    ),
    (
        "sync_changes",
        "sync_changes_read",
        """(user_id is null and family_id in (select public.my_family_ids()))
    or user_id = {uid}""",
        None,
    ),
)
# Exactly what the API needs, as migrations 0002-0004 granted it to `authenticated`.
API_GRANTS = (
    "grant usage on schema public to {role}",
    "grant select, insert, delete on public.users, public.families, public.family_members,"
    " public.invitations to {role}",
    "grant update (full_name, timezone, day_start_hour, notification_enabled, updated_at)"
    " on public.users to {role}",
    "grant update (name, timezone, version, updated_at) on public.families to {role}",
    "grant update (display_name, role, updated_at) on public.family_members to {role}",
    "grant update (revoked_at) on public.invitations to {role}",
    "grant select, insert, update, delete on public.habits, public.habit_versions,"
    " public.checkins, public.routines, public.routine_versions to {role}",
    "grant select on public.sync_changes to {role}",
)

CREATE_ROLE = f"""
do $$
begin
  if not exists (select 1 from pg_roles where rolname = '{API_ROLE}') then
    create role {API_ROLE} nologin noinherit;
  end if;
  -- Postgres 16 gives the creator of a role an ADMIN grant without SET: the serving role
  -- needs SET (`set_config('role', ...)`), not INHERIT. Before 16, membership means SET.
  if current_setting('server_version_num')::int >= 160000 then
    if not pg_has_role(current_user, '{API_ROLE}', 'set') then
      execute format('grant {API_ROLE} to %I with set true, inherit false', current_user);
    end if;
  elsif not pg_has_role(current_user, '{API_ROLE}', 'member') then
    execute format('grant {API_ROLE} to %I', current_user);
  end if;
end
$$
"""

REQUEST_USER_ID = """
create function public.request_user_id() returns uuid
language sql stable
as $$
  select (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')::uuid
$$
"""


def _revoke_from_data_api() -> list[str]:
    everyone = f"{DATA_API_ROLES}, public"
    statements = [f"revoke all on public.{table} from {everyone}" for table in TABLES]
    statements += [f"revoke all on sequence public.{seq} from {everyone}" for seq in SEQUENCES]
    statements += [
        f"revoke all on function {function} from {everyone}"
        for function in (*REQUEST_FUNCTIONS, *TRIGGER_FUNCTIONS)
    ]
    return statements


def _default_privileges(action: str) -> list[str]:
    """The migrating role's default privileges in `public` (Supabase's grant everything)."""
    verb, preposition = ("grant", "to") if action == "grant" else ("revoke", "from")
    return [
        f"alter default privileges in schema public {verb} all on {kind}"
        f" {preposition} {DATA_API_ROLES}"
        for kind in ("tables", "functions", "sequences")
    ]


def _caller_policies(uid: str, role: str) -> list[str]:
    statements = []
    for table, policy, using, check in CALLER_POLICIES:
        statement = f"alter policy {policy} on public.{table} to {role} using ({using})"
        if check is not None:
            statement += f" with check ({check})"
        statements.append(statement.format(uid=uid))
    return statements


def upgrade() -> None:
    op.execute(CREATE_ROLE)
    op.execute(REQUEST_USER_ID)
    for statement in (
        *_revoke_from_data_api(),
        *_default_privileges("revoke"),
        *(grant.format(role=API_ROLE) for grant in API_GRANTS),
        *(f"grant execute on function {function} to {API_ROLE}" for function in REQUEST_FUNCTIONS),
        *(f"alter policy {policy} on public.{table} to {API_ROLE}" for table, policy in POLICIES),
        *_caller_policies("(select public.request_user_id())", API_ROLE),
    ):
        op.execute(statement)


def downgrade() -> None:
    # Back to requests as `authenticated`, with exactly the privileges 0002-0004 gave it.
    # Supabase's default privileges are not put back: the downgrade must not expose more.
    for statement in (
        *(
            f"alter policy {policy} on public.{table} to authenticated"
            for table, policy in POLICIES
        ),
        *_caller_policies("auth.uid()", "authenticated"),
        *(grant.format(role="authenticated") for grant in API_GRANTS),
        *(
            f"grant execute on function {function} to authenticated"
            for function in REQUEST_FUNCTIONS
            if "request_user_id" not in function
        ),
        *(f"revoke all on public.{table} from {API_ROLE}" for table in TABLES),
        *(f"revoke all on function {function} from {API_ROLE}" for function in REQUEST_FUNCTIONS),
        "drop function public.request_user_id()",
        f"revoke usage on schema public from {API_ROLE}",
    ):
        op.execute(statement)
