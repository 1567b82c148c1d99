"""What of ours Supabase's Data API could reach: privileges held by its roles on our objects.

On Supabase, PostgREST and pg_graphql run a caller's SQL as `anon` or `authenticated`, so any
privilege those roles (or PUBLIC, which they belong to) hold on a table, sequence or function
in `public` is an open door around our API. Migration 0005 revokes them all; `loopin doctor`
runs this check against a live database, since a grant can be added by hand later.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.roles import DATA_API_ROLES, REQUEST_ROLE

_EXPOSURE = text(
    """
    with api_roles as (select rolname from pg_roles where rolname = any(:roles))
    select format('%s: %s on %s', r.rolname, privilege, c.oid::regclass)
    from pg_class c
    cross join api_roles r
    cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) as privilege
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')
      and (has_table_privilege(r.rolname, c.oid, privilege)
           or (privilege in ('SELECT', 'INSERT', 'UPDATE')
               and has_any_column_privilege(r.rolname, c.oid, privilege)))
    union all
    select format('%s: EXECUTE on %s', r.rolname, p.oid::regprocedure)
    from pg_proc p
    cross join api_roles r
    where p.pronamespace = 'public'::regnamespace
      and has_function_privilege(r.rolname, p.oid, 'EXECUTE')
    order by 1
    """
)

# Postgres 16 splits membership into ADMIN, INHERIT and SET: switching needs SET.
_REQUEST_ROLE_USABLE = text(
    """
    select exists (select 1 from pg_roles where rolname = :role)
       and case when current_setting('server_version_num')::int >= 160000
                then pg_has_role(current_user, :role, 'SET')
                else pg_has_role(current_user, :role, 'MEMBER') end
    """
)


async def data_api_exposure(connection: AsyncConnection) -> list[str]:
    """One line per privilege a Data API role holds on our objects ('anon: SELECT on habits')."""
    rows = await connection.scalars(_EXPOSURE, {"roles": list(DATA_API_ROLES)})
    return list(rows)


async def request_role_usable(connection: AsyncConnection) -> bool:
    """Whether the connected role may switch to the request role, as every request does."""
    return bool(await connection.scalar(_REQUEST_ROLE_USABLE, {"role": REQUEST_ROLE}))
