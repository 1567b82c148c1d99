"""Supabase compatibility slice: schema auth, auth.users, auth.uid(), API roles.

On Supabase all of this exists and is left exactly as it is; on plain Postgres it is
created so that the same RLS policies run for real. Every step is guarded.

Revision ID: 0001
Revises:
Create Date: 2026-11-21 00:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Marks what this migration created, so the downgrade never drops Supabase's own objects.
MARKER = "created by loopin: supabase compatibility slice"


def upgrade() -> None:
    op.execute(
        """
        do $$
        declare r text;
        begin
          foreach r in array array['anon', 'authenticated', 'service_role'] loop
            if not exists (select 1 from pg_roles where rolname = r) then
              execute format('create role %I nologin noinherit', r);
            end if;
          end loop;
          -- service_role bypasses RLS on Supabase; mirror that where we create it.
          if not exists (select 1 from pg_roles where rolname = 'service_role' and rolbypassrls)
             and (select rolsuper from pg_roles where rolname = current_user) then
            alter role service_role bypassrls;
          end if;
          -- Request transactions `SET LOCAL ROLE authenticated`: the migrating (owner) role
          -- must be a member. Supabase's postgres already is.
          if not pg_has_role(current_user, 'authenticated', 'member') then
            execute format('grant authenticated to %I', current_user);
          end if;
          if not pg_has_role(current_user, 'anon', 'member') then
            execute format('grant anon to %I', current_user);
          end if;
        end
        $$;
        """
    )
    op.execute(
        f"""
        do $$
        begin
          if not exists (select 1 from pg_namespace where nspname = 'auth') then
            create schema auth;
            comment on schema auth is '{MARKER}';
          end if;
          if to_regclass('auth.users') is null then
            create table auth.users (
              id uuid primary key,
              email text,
              raw_user_meta_data jsonb not null default '{{}}'::jsonb,
              created_at timestamptz not null default now()
            );
            comment on table auth.users is '{MARKER}';
          end if;
          if to_regprocedure('auth.uid()') is null then
            -- Same definition as Supabase's: the `sub` of the request's JWT claims.
            create function auth.uid() returns uuid
              language sql stable
              as $f$
                select coalesce(
                  nullif(current_setting('request.jwt.claim.sub', true), ''),
                  (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
                )::uuid
              $f$;
            comment on function auth.uid() is '{MARKER}';
          end if;
        end
        $$;
        """
    )
    op.execute("grant usage on schema auth to anon, authenticated, service_role")
    op.execute("grant execute on function auth.uid() to anon, authenticated, service_role")
    op.execute("grant usage on schema public to anon, authenticated, service_role")


def downgrade() -> None:
    # Roles are cluster-wide and may serve other databases: they stay.
    op.execute(
        f"""
        do $$
        begin
          if obj_description('auth.uid()'::regprocedure, 'pg_proc') = '{MARKER}' then
            drop function auth.uid();
          end if;
          if to_regclass('auth.users') is not null
             and obj_description('auth.users'::regclass, 'pg_class') = '{MARKER}' then
            drop table auth.users;
          end if;
          if exists (select 1 from pg_namespace where nspname = 'auth')
             and obj_description((select oid from pg_namespace where nspname = 'auth'),
                                 'pg_namespace') = '{MARKER}' then
            drop schema auth;
          end if;
        end
        $$;
        """
    )
