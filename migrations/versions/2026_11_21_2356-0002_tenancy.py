"""Tenancy: users, families, members, invitations, and the RLS that isolates families.

Row-level security repeats the services' tenancy rules inside Postgres: request transactions
run as `authenticated` with the caller's JWT claims, so a service bug still leaks nothing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 23:56:45.380482+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# asyncpg prepares every statement, and a prepared statement holds one command: each
# constant below is a tuple of single statements.

# Membership as seen by the caller (`auth.uid()`). SECURITY DEFINER so that policies on
# family_members can use it without recursing into their own policy; `set search_path = ''`
# so no caller-controlled schema can shadow what it reads. The role enum is declared from most
# to least powerful, so `role <= p_min_role` means "at least p_min_role".
MEMBERSHIP_FUNCTIONS = (
    """
create function public.my_family_ids(p_min_role public.member_role default 'member')
returns setof uuid
language sql stable security definer set search_path = ''
as $$
  select m.family_id from public.family_members m
  where m.user_id = auth.uid() and m.role <= p_min_role
$$;
    """,
    """
revoke execute on function public.my_family_ids(public.member_role) from public;
    """,
    """
grant execute on function public.my_family_ids(public.member_role) to authenticated;
    """,
)

# At least one owner per family, checked by the database at commit. The family row is locked
# first, so two transactions demoting the last two owners cannot both pass: the second one
# waits, then counts again and sees the first one's change.
OWNER_INVARIANT = (
    """
create function public.ensure_family_has_owner() returns trigger
language plpgsql security definer set search_path = ''
as $$
begin
  perform 1 from public.families f where f.id = old.family_id for update;
  if not found then
    return null;  -- the family itself is being deleted, with everything in it
  end if;
  if not exists (
    select 1 from public.family_members m where m.family_id = old.family_id and m.role = 'owner'
  ) then
    raise exception 'family % would be left without an owner', old.family_id
      using errcode = 'check_violation', constraint = 'family_has_owner';
  end if;
  return null;
end
$$;
    """,
    """
create constraint trigger family_has_owner
  after update of role or delete on public.family_members
  deferrable initially deferred
  for each row when (old.role = 'owner')
  execute function public.ensure_family_has_owner();
    """,
)

# Creating a family makes the caller its owner in one step; neither row could pass RLS alone
# (the caller is no member of a family that does not exist yet).
CREATE_FAMILY = (
    """
create function public.create_family(
  p_id uuid, p_name text, p_timezone text, p_display_name text, p_member_id uuid default null
) returns uuid
language plpgsql security definer set search_path = ''
as $$
declare
  caller uuid := auth.uid();
begin
  if caller is null then
    raise exception 'no authenticated user' using errcode = 'insufficient_privilege';
  end if;
  insert into public.families (id, name, timezone, created_by)
    values (p_id, p_name, p_timezone, caller)
    on conflict (id) do nothing;
  if not found then
    return null;  -- the id is taken (by a family the caller may not even see)
  end if;
  insert into public.family_members (id, family_id, user_id, display_name, role)
    values (coalesce(p_member_id, gen_random_uuid()), p_id, caller, p_display_name, 'owner');
  return p_id;
end
$$;
    """,
    """
revoke execute on function public.create_family(uuid, text, text, text, uuid) from public;
    """,
    """
grant execute on function public.create_family(uuid, text, text, text, uuid) to authenticated;
    """,
)

# Accepting needs to read an invitation of a family the caller is not (yet) in: the token is
# the capability. The row lock serialises concurrent accepts, so a one-use invitation yields
# exactly one membership; an existing member gets their membership back without using it up.
ACCEPT_INVITATION = (
    """
create function public.accept_invitation(p_token_hash text)
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
    """,
    """
revoke execute on function public.accept_invitation(text) from public;
    """,
    """
grant execute on function public.accept_invitation(text) to authenticated;
    """,
)

# Owners alone touch owner rows (grant, remove, invite an owner); admins manage the rest; a
# member may only leave. `(select ...)` makes Postgres evaluate the membership once per
# statement, not per row.
ROW_LEVEL_SECURITY = (
    """
alter table public.users enable row level security;
    """,
    """
create policy users_self on public.users for all to authenticated
  using (id = auth.uid()) with check (id = auth.uid());
    """,
    """
alter table public.families enable row level security;
    """,
    """
create policy families_read on public.families for select to authenticated
  using (id in (select public.my_family_ids()));
    """,
    """
create policy families_update on public.families for update to authenticated
  using (id in (select public.my_family_ids('admin')))
  with check (id in (select public.my_family_ids('admin')));
    """,
    """
create policy families_delete on public.families for delete to authenticated
  using (id in (select public.my_family_ids('owner')));
    """,
    """
alter table public.family_members enable row level security;
    """,
    """
create policy family_members_read on public.family_members for select to authenticated
  using (family_id in (select public.my_family_ids()));
    """,
    """
create policy family_members_insert on public.family_members for insert to authenticated
  with check (
    family_id in (select public.my_family_ids('admin')) and user_id is null and role = 'member'
  );
    """,
    """
create policy family_members_update on public.family_members for update to authenticated
  using (
    family_id in (select public.my_family_ids('admin'))
    and (role <> 'owner' or family_id in (select public.my_family_ids('owner')))
  )
  with check (
    family_id in (select public.my_family_ids('admin'))
    and (role <> 'owner' or family_id in (select public.my_family_ids('owner')))
  );
    """,
    """
create policy family_members_delete on public.family_members for delete to authenticated
  using (
    user_id = auth.uid()
    or (
      family_id in (select public.my_family_ids('admin'))
      and (role <> 'owner' or family_id in (select public.my_family_ids('owner')))
    )
  );
    """,
    """
alter table public.invitations enable row level security;
    """,
    """
create policy invitations_admin on public.invitations for all to authenticated
  using (family_id in (select public.my_family_ids('admin')))
  with check (
    family_id in (select public.my_family_ids('admin'))
    and (role <> 'owner' or family_id in (select public.my_family_ids('owner')))
  );
    """,
    """
grant select, insert, delete
  on public.users, public.families, public.family_members, public.invitations
  to authenticated;
    """,
    # Column grants: who a membership belongs to (user_id, family_id) never changes through
    # the API; logins join only through create_family / accept_invitation.
    """
grant update (full_name, timezone, day_start_hour, notification_enabled, updated_at)
  on public.users to authenticated;
    """,
    """
grant update (name, timezone, version, updated_at) on public.families to authenticated;
    """,
    """
grant update (display_name, role, updated_at) on public.family_members to authenticated;
    """,
    """
grant update (revoked_at) on public.invitations to authenticated;
    """,
)

DROP_FUNCTIONS = (
    """
drop function if exists public.ensure_family_has_owner();
    """,
    """
drop function if exists public.accept_invitation(text);
    """,
    """
drop function if exists public.create_family(uuid, text, text, text, uuid);
    """,
    """
drop function if exists public.my_family_ids(public.member_role);
    """,
)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("full_name", sa.String(length=200), nullable=True),
        sa.Column("timezone", sa.Text(), server_default=sa.text("'UTC'"), nullable=False),
        sa.Column("day_start_hour", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "notification_enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "day_start_hour between 0 and 23", name=op.f("ck_users_day_start_hour_range")
        ),
        sa.ForeignKeyConstraint(
            ["id"], ["auth.users.id"], name=op.f("fk_users_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
    )
    op.create_table(
        "families",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.Text(), server_default=sa.text("'UTC'"), nullable=False),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_families_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_families")),
    )
    op.create_index(op.f("ix_families_created_by"), "families", ["created_by"], unique=False)
    op.create_table(
        "family_members",
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.Enum("owner", "admin", "member", name="member_role"), nullable=False),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["families.id"],
            name=op.f("fk_family_members_family_id_families"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_family_members_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_family_members")),
    )
    op.create_index(
        op.f("ix_family_members_family_id"), "family_members", ["family_id"], unique=False
    )
    op.create_index("ix_family_members_user_id", "family_members", ["user_id"], unique=False)
    op.create_index(
        "uq_family_members_family_id_user_id",
        "family_members",
        ["family_id", "user_id"],
        unique=True,
        postgresql_where=sa.text("user_id is not null"),
    )
    op.create_table(
        "invitations",
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.Enum("owner", "admin", "member", name="member_role"), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("member_id", sa.Uuid(), nullable=True),
        sa.Column("max_uses", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("use_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.CheckConstraint("max_uses > 0", name=op.f("ck_invitations_max_uses_positive")),
        sa.CheckConstraint(
            "use_count between 0 and max_uses", name=op.f("ck_invitations_use_count_range")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_invitations_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["family_id"],
            ["families.id"],
            name=op.f("fk_invitations_family_id_families"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["family_members.id"],
            name=op.f("fk_invitations_member_id_family_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_invitations_token_hash")),
    )
    op.create_index(op.f("ix_invitations_created_by"), "invitations", ["created_by"], unique=False)
    op.create_index(op.f("ix_invitations_family_id"), "invitations", ["family_id"], unique=False)
    op.create_index(op.f("ix_invitations_member_id"), "invitations", ["member_id"], unique=False)

    for statement in (
        *MEMBERSHIP_FUNCTIONS,
        *OWNER_INVARIANT,
        *CREATE_FAMILY,
        *ACCEPT_INVITATION,
        *ROW_LEVEL_SECURITY,
    ):
        op.execute(statement)


def downgrade() -> None:
    op.drop_index(op.f("ix_invitations_member_id"), table_name="invitations")
    op.drop_index(op.f("ix_invitations_family_id"), table_name="invitations")
    op.drop_index(op.f("ix_invitations_created_by"), table_name="invitations")
    op.drop_table("invitations")
    op.drop_index(
        "uq_family_members_family_id_user_id",
        table_name="family_members",
        postgresql_where=sa.text("user_id is not null"),
    )
    op.drop_index("ix_family_members_user_id", table_name="family_members")
    op.drop_index(op.f("ix_family_members_family_id"), table_name="family_members")
    op.drop_table("family_members")
    op.drop_index(op.f("ix_families_created_by"), table_name="families")
    op.drop_table("families")
    op.drop_table("users")
    # Policies and the trigger went with their tables; now what they called.
    for statement in DROP_FUNCTIONS:
        op.execute(statement)
    op.execute("drop type member_role")
