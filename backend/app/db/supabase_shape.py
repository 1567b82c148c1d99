"""A Postgres prepared the way Supabase prepares a project, for the embedded server and tests.

Supabase is not reachable from a laptop without Docker or from CI, and what matters for our
security is not Supabase's services but the shape its init scripts give the database: who
the superuser is, that the migrating role `postgres` is *not* one, the API roles that its Data
API (PostgREST, pg_graphql) switches to, the `auth` schema, and the default privileges that
grant every new object in `public` to those roles. This module rebuilds exactly that shape
in a fresh cluster, so the migrations and the role matrix run against it.

Where each fact comes from (Supabase's published repositories):
- `supabase/postgres`, `migrations/db/migrate.sh`: the init scripts run as `postgres` while it
  is still a superuser, then the migrations run as `supabase_admin` and demote `postgres`.
- `.../init-scripts/00000000000000-initial-schema.sql`: `supabase_admin` is the superuser;
  roles `anon`, `authenticated` (nologin noinherit), `service_role` (nologin noinherit
  bypassrls), `authenticator` (login noinherit, granted the three); usage on `public` and
  `ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES/FUNCTIONS/SEQUENCES TO
  postgres, anon, authenticated, service_role`, for `postgres` (who runs the script) and
  for `supabase_admin`; statement timeouts of `anon` (3s) and `authenticated` (8s).
- `.../init-scripts/00000000000001-auth-schema.sql`: schema `auth` owned by `supabase_admin`,
  `auth.users` owned by `supabase_auth_admin` (noinherit createrole login), usage on `auth`
  for the three API roles.
- `.../migrations/10000000000000_demote-postgres.sql`: `postgres` gets ALL on schema `auth`
  and its tables and routines, then `NOSUPERUSER CREATEDB CREATEROLE LOGIN REPLICATION
  BYPASSRLS`.
- `.../migrations/20230201083204_grant_auth_roles_to_postgres.sql` (`anon`, `authenticated`,
  `service_role` granted to `postgres`), `20220609081115_...` (`supabase_auth_admin` granted to
  `postgres`), `20230529180330_alter_api_roles_for_inherit.sql` (the API roles become
  INHERIT), `20221103090837_revoke_admin.sql` (`authenticator` no longer holds
  `supabase_admin`).
- `supabase/auth` (Supabase Auth) migrations `20220224000811_update_auth_functions` and
  `20220531120530_add_auth_jwt_function`: today's `auth.uid()`, `auth.role()`, `auth.email()`
  read `request.jwt.claim.<name>` or else `request.jwt.claims`; `auth.jwt()` returns the
  claims as jsonb. `auth.users` keeps only the columns we touch plus `is_anonymous`
  (`20240214120130_add_is_anonymous_column`).

Only the roles, schemas, privileges and functions above are rebuilt: storage, realtime,
pgsodium and the extensions are not, since nothing of ours depends on them.
"""

from __future__ import annotations

from enum import StrEnum

SUPERUSER = "supabase_admin"
MIGRATING_ROLE = "postgres"
# Marks the `auth.users` this module created, like migration 0001's marker: local tooling
# (`loopin token`, `loopin seed`) may create logins there, never in a real Supabase project.
EMULATION_MARKER = "created by loopin: supabase-shaped embedded database"


class DatabaseShape(StrEnum):
    """How a throw-away or embedded cluster is prepared before the migrations run."""

    SUPABASE = "supabase"  # Supabase's roles, auth schema and default privileges
    PLAIN = "plain"  # a plain Postgres; migration 0001 adds the slice of Supabase we use


# Cluster-wide, run once as the bootstrap superuser `supabase_admin` (initdb -U).
CLUSTER_STATEMENTS = (
    # migrate.sh: postgres exists as a superuser while the init scripts run.
    "create role postgres superuser login",
    "create role anon nologin noinherit",
    "create role authenticated nologin noinherit",
    "create role service_role nologin noinherit bypassrls",
    "create role authenticator login noinherit",
    "grant anon, authenticated, service_role to authenticator",
    "alter role anon set statement_timeout = '3s'",
    "alter role authenticated set statement_timeout = '8s'",
    "create role supabase_auth_admin noinherit createrole login noreplication",
    # Later migrations of supabase/postgres.
    "alter role authenticated inherit",
    "alter role anon inherit",
    "alter role service_role inherit",
    "grant anon, authenticated, service_role to postgres",
    "grant supabase_auth_admin to postgres",
    "alter role postgres nosuperuser createdb createrole login replication bypassrls",
)

# Per database, run as `supabase_admin` in the database itself (which `postgres` owns).
DATABASE_STATEMENTS = (
    "create schema if not exists extensions",
    "grant usage on schema public to postgres, anon, authenticated, service_role",
    "grant usage on schema extensions to postgres, anon, authenticated, service_role",
    *(
        f"alter default privileges for role {owner} in schema public"
        f" grant all on {kind} to postgres, anon, authenticated, service_role"
        for owner in ("postgres", "supabase_admin")
        for kind in ("tables", "functions", "sequences")
    ),
    "create schema auth authorization supabase_admin",
    """
    create table auth.users (
      instance_id uuid,
      id uuid not null primary key,
      aud varchar(255),
      role varchar(255),
      email varchar(255),
      raw_app_meta_data jsonb,
      raw_user_meta_data jsonb,
      is_anonymous boolean not null default false,
      created_at timestamptz,
      updated_at timestamptz
    )
    """,
    f"comment on table auth.users is '{EMULATION_MARKER}'",
    "alter table auth.users owner to supabase_auth_admin",
    """
    create function auth.uid() returns uuid language sql stable as $$
      select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
      )::uuid
    $$
    """,
    *(
        f"""
    create function auth.{claim}() returns text language sql stable as $$
      select coalesce(
        nullif(current_setting('request.jwt.claim.{claim}', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> '{claim}')
      )::text
    $$
    """
        for claim in ("role", "email")
    ),
    """
    create function auth.jwt() returns jsonb language sql stable as $$
      select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
      )::jsonb
    $$
    """,
    *(
        f"alter function auth.{name}() owner to supabase_auth_admin"
        for name in ("uid", "role", "email", "jwt")
    ),
    "grant usage on schema auth to anon, authenticated, service_role",
    "grant all on schema auth to supabase_auth_admin",
    # demote-postgres: what postgres keeps of `auth` once it is no superuser.
    "grant all on schema auth to postgres",
    "grant all on all tables in schema auth to postgres",
    "grant all on all routines in schema auth to postgres",
)
