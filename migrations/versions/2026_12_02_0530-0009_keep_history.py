"""Issue 17: a login bound to a managed profile leaves it as it found it.

A child who got their own login was linked to their managed profile by an invitation bound to
it (`accept_invitation`). When that login leaves the family or deletes its account, the
profile turns back into a managed one (`user_id` null, role member) with its habits and
check-ins, instead of going with the membership. Only an admin removing the member deletes
them. `from_managed_profile` remembers which memberships began as a managed profile.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 02:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# accept_invitation as in 0002, and marking the membership as one that began as a profile.
ACCEPT_INVITATION_MARKING = """
create or replace function public.accept_invitation(p_token_hash text)
returns table (outcome text, family_id uuid, member_id uuid)
language plpgsql security definer set search_path = ''
as $$
declare
  caller uuid := auth.uid();
  caller_email text :=
    lower(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email');
  invite public.invitations%rowtype;
  membership uuid;
  display text;
begin
  if caller is null then
    raise exception 'no authenticated user' using errcode = 'insufficient_privilege';
  end if;
  select * into invite from public.invitations i where i.token_hash = p_token_hash for update;
  if not found then
    return query select 'not_found', null::uuid, null::uuid;
    return;
  end if;
  -- One accept per family at a time: two invitations to the same family accepted at once
  -- by one login must still yield one membership (the second sees the first's row).
  perform 1 from public.families f where f.id = invite.family_id for update;
  select m.id into membership from public.family_members m
    where m.family_id = invite.family_id and m.user_id = caller;
  if membership is not null then
    return query select 'already_member', invite.family_id, membership;
    return;
  end if;
  if invite.revoked_at is not null then
    return query select 'revoked', invite.family_id, null::uuid;
    return;
  elsif invite.expires_at <= now() then
    return query select 'expired', invite.family_id, null::uuid;
    return;
  elsif invite.use_count >= invite.max_uses then
    return query select 'used', invite.family_id, null::uuid;
    return;
  elsif invite.email is not null and lower(invite.email) is distinct from caller_email then
    return query select 'email_mismatch', invite.family_id, null::uuid;
    return;
  end if;
  if invite.member_id is not null then
    update public.family_members m
       set user_id = caller, role = invite.role, from_managed_profile = true,
           updated_at = now()
     where m.id = invite.member_id and m.user_id is null
    returning m.id into membership;
    if membership is null then  -- the profile got a login in the meantime
      return query select 'used', invite.family_id, null::uuid;
      return;
    end if;
  else
    select coalesce(nullif(u.full_name, ''), split_part(u.email, '@', 1), 'Member')
      into display from public.users u where u.id = caller;
    insert into public.family_members (family_id, user_id, display_name, role)
      values (invite.family_id, caller, coalesce(display, 'Member'), invite.role)
      returning id into membership;
  end if;
  update public.invitations i set use_count = i.use_count + 1 where i.id = invite.id;
  return query select 'accepted', invite.family_id, membership;
end
$$;
"""

ACCEPT_INVITATION_0002 = """
create or replace function public.accept_invitation(p_token_hash text)
returns table (outcome text, family_id uuid, member_id uuid)
language plpgsql security definer set search_path = ''
as $$
declare
  caller uuid := auth.uid();
  caller_email text :=
    lower(nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email');
  invite public.invitations%rowtype;
  membership uuid;
  display text;
begin
  if caller is null then
    raise exception 'no authenticated user' using errcode = 'insufficient_privilege';
  end if;
  select * into invite from public.invitations i where i.token_hash = p_token_hash for update;
  if not found then
    return query select 'not_found', null::uuid, null::uuid;
    return;
  end if;
  -- One accept per family at a time: two invitations to the same family accepted at once
  -- by one login must still yield one membership (the second sees the first's row).
  perform 1 from public.families f where f.id = invite.family_id for update;
  select m.id into membership from public.family_members m
    where m.family_id = invite.family_id and m.user_id = caller;
  if membership is not null then
    return query select 'already_member', invite.family_id, membership;
    return;
  end if;
  if invite.revoked_at is not null then
    return query select 'revoked', invite.family_id, null::uuid;
    return;
  elsif invite.expires_at <= now() then
    return query select 'expired', invite.family_id, null::uuid;
    return;
  elsif invite.use_count >= invite.max_uses then
    return query select 'used', invite.family_id, null::uuid;
    return;
  elsif invite.email is not null and lower(invite.email) is distinct from caller_email then
    return query select 'email_mismatch', invite.family_id, null::uuid;
    return;
  end if;
  if invite.member_id is not null then
    update public.family_members m
       set user_id = caller, role = invite.role, updated_at = now()
     where m.id = invite.member_id and m.user_id is null
    returning m.id into membership;
    if membership is null then  -- the profile got a login in the meantime
      return query select 'used', invite.family_id, null::uuid;
      return;
    end if;
  else
    select coalesce(nullif(u.full_name, ''), split_part(u.email, '@', 1), 'Member')
      into display from public.users u where u.id = caller;
    insert into public.family_members (family_id, user_id, display_name, role)
      values (invite.family_id, caller, coalesce(display, 'Member'), invite.role)
      returning id into membership;
  end if;
  update public.invitations i set use_count = i.use_count + 1 where i.id = invite.id;
  return query select 'accepted', invite.family_id, membership;
end
$$;
"""

# The login itself leaving a profile it was bound to: the profile stays, managed again.
# SECURITY DEFINER because who a membership belongs to (`user_id`) is not updatable through
# the API's grants; the function only ever unbinds the caller's own membership.
LEAVE_MANAGED_PROFILE = """
create function public.leave_managed_profile(p_member_id uuid) returns boolean
language plpgsql security definer set search_path = ''
as $$
begin
  update public.family_members m
     set user_id = null, role = 'member', updated_at = now()
   where m.id = p_member_id and m.user_id = auth.uid() and m.from_managed_profile;
  return found;
end
$$
"""

# An account deleted (DELETE /v1/me, or the auth user removed, which cascades to
# public.users): its bound profiles are unbound before the cascade reaches the memberships.
UNBIND_ON_USER_DELETE = """
create function public.unbind_managed_profiles() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  update public.family_members m
     set user_id = null, role = 'member', updated_at = now()
   where m.user_id = old.id and m.from_managed_profile;
  return old;
end
$$
"""

# --- grants (requests run as loopin_api; the Data API's roles get nothing, migration 0005) ---
GRANTS = (
    "revoke all on function public.leave_managed_profile(uuid)"
    " from public, anon, authenticated, service_role",
    "grant execute on function public.leave_managed_profile(uuid) to loopin_api",
    "revoke all on function public.unbind_managed_profiles()"
    " from public, anon, authenticated, service_role",
)
TRIGGER = """
create trigger unbind_managed_profiles before delete on public.users
  for each row execute function public.unbind_managed_profiles()
"""


def upgrade() -> None:
    op.add_column(
        "family_members",
        sa.Column(
            "from_managed_profile", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
    )
    # Memberships that accepted an invitation bound to a profile, before this column existed.
    op.execute(
        "update public.family_members m set from_managed_profile = true"
        " where m.user_id is not null and exists (select 1 from public.invitations i"
        " where i.member_id = m.id and i.use_count > 0)"
    )
    op.execute(ACCEPT_INVITATION_MARKING)
    op.execute(LEAVE_MANAGED_PROFILE)
    op.execute(UNBIND_ON_USER_DELETE)
    for statement in GRANTS:
        op.execute(statement)
    op.execute(TRIGGER)


def downgrade() -> None:
    op.execute("drop trigger unbind_managed_profiles on public.users")
    op.execute("drop function public.unbind_managed_profiles()")
    op.execute("drop function public.leave_managed_profile(uuid)")
    op.execute(ACCEPT_INVITATION_0002)
    op.drop_column("family_members", "from_managed_profile")
