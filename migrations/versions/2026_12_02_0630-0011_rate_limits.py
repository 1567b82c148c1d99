"""Issue 17: per-user request rate limits, kept in Postgres so they hold across workers and
replicas of the API.

One fixed window per login and bucket (`sync`, `history`, ...), counted by one upsert in
`take_rate_limit`, inside the request's own transaction: a request that fails is not
counted. UNLOGGED: a counter lost in a crash costs nothing, and its writes skip the WAL.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:30:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = """
create unlogged table public.rate_limits (
  user_id uuid not null,
  bucket text not null,
  window_start timestamptz not null,
  hits integer not null,
  constraint pk_rate_limits primary key (user_id, bucket)
)
"""

# Counts one request of the caller in the bucket; returns 0 when it is allowed, else the
# seconds until the window ends. SECURITY DEFINER: nobody gets a right on the table itself,
# so no one can reset their own counter through Supabase's Data API.
TAKE = """
create function public.take_rate_limit(p_bucket text, p_limit integer, p_window_seconds integer)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  caller uuid := auth.uid();
  window_length interval := make_interval(secs => p_window_seconds);
  counted public.rate_limits%rowtype;
begin
  if caller is null then
    raise exception 'no authenticated user' using errcode = 'insufficient_privilege';
  end if;
  insert into public.rate_limits as r (user_id, bucket, window_start, hits)
    values (caller, p_bucket, now(), 1)
  on conflict (user_id, bucket) do update
    set window_start = case when r.window_start <= now() - window_length
                            then now() else r.window_start end,
        hits = case when r.window_start <= now() - window_length then 1 else r.hits + 1 end
  returning * into counted;
  if counted.hits <= p_limit then
    return 0;
  end if;
  return greatest(1, ceil(extract(epoch from counted.window_start + window_length - now())))::int;
end
$$
"""

# --- grants (requests run as loopin_api; the Data API's roles get nothing, migration 0005) ---
ACCESS = (
    "alter table public.rate_limits enable row level security",
    "revoke all on public.rate_limits from public, anon, authenticated, service_role",
    "revoke all on function public.take_rate_limit(text, integer, integer)"
    " from public, anon, authenticated, service_role",
    "grant execute on function public.take_rate_limit(text, integer, integer) to loopin_api",
)


def upgrade() -> None:
    op.execute(TABLE)
    op.execute(TAKE)
    for statement in ACCESS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("drop function public.take_rate_limit(text, integer, integer)")
    op.execute("drop table public.rate_limits")
