"""The database guards its own integrity: rows stay in their family, schedules and zones parse.

Whatever path writes a row (a service, a hot path, a script, a superuser's session), a read
must never meet a row it cannot use:

- Composite foreign keys tie each row to its family: a habit's assignee and a routine's
  assignee are members of the habit's family, a version or a check-in belongs to a habit of
  its own `family_id` (which RLS filters on), an invitation bound to a profile binds one of
  its family. They replace the single-column keys to the same rows (same ON DELETE CASCADE).
- `public.is_valid_schedule(jsonb)` checks a schedule the way the API validates it
  (`schemas/habit.py`): `daily`, `weekdays` with 1-7 distinct ISO days, `per_period` with
  `times` 1-7 a week or 1-31 a month, and no other keys.
- Time zones reference `public.time_zones`, the server's IANA names (`pg_timezone_names`)
  copied once here: a foreign key is an index probe, where reading `pg_timezone_names` costs
  milliseconds per row.

Adding the keys and checks reads every existing row of the tables once (validation); on a
large database run it in a quiet hour.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

API_ROLE = "loopin_api"
NOBODY_ELSE = "public, anon, authenticated, service_role"

IS_VALID_SCHEDULE = """
create function public.is_valid_schedule(schedule jsonb) returns boolean
language sql immutable
as $$
  select coalesce(case schedule ->> 'kind'
    when 'daily' then schedule = '{"kind": "daily"}'::jsonb
    when 'weekdays' then
      (select array_agg(k order by k) from jsonb_object_keys(schedule) k)
        = array['kind', 'weekdays']
      and jsonb_typeof(schedule -> 'weekdays') = 'array'
      and jsonb_array_length(schedule -> 'weekdays') between 1 and 7
      and (select bool_and(d::text ~ '^[1-7]$') and count(distinct d) = count(*)
           from jsonb_array_elements(schedule -> 'weekdays') d)
    when 'per_period' then
      (select array_agg(k order by k) from jsonb_object_keys(schedule) k)
        = array['kind', 'period', 'times']
      and schedule ->> 'period' in ('week', 'month')
      and (schedule -> 'times')::text ~ '^[0-9]{1,2}$'
      and (schedule ->> 'times')::int
          between 1 and case schedule ->> 'period' when 'week' then 7 else 31 end
  end, false)
$$
"""

# (table, referencing columns, referenced table, referenced columns, the key it replaces)
FAMILY_KEYS = (
    (
        "habits",
        ("family_id", "assignee_id"),
        "family_members",
        "fk_habits_assignee_id_family_members",
    ),
    (
        "routines",
        ("family_id", "assignee_id"),
        "family_members",
        "fk_routines_assignee_id_family_members",
    ),
    (
        "invitations",
        ("family_id", "member_id"),
        "family_members",
        "fk_invitations_member_id_family_members",
    ),
    ("habit_versions", ("family_id", "habit_id"), "habits", "fk_habit_versions_habit_id_habits"),
    ("checkins", ("family_id", "habit_id"), "habits", "fk_checkins_habit_id_habits"),
    (
        "routine_versions",
        ("family_id", "routine_id"),
        "routines",
        "fk_routine_versions_routine_id_routines",
    ),
)
REFERENCED = ("family_members", "habits", "routines")
TIMEZONE_TABLES = ("users", "families")


def upgrade() -> None:
    for table in REFERENCED:
        op.create_unique_constraint(op.f(f"uq_{table}_family_id_id"), table, ["family_id", "id"])
    for table, columns, referenced, old_key in FAMILY_KEYS:
        op.drop_constraint(old_key, table, type_="foreignkey")
        op.create_foreign_key(
            op.f(f"fk_{table}_{columns[0]}_{referenced}"),
            table,
            referenced,
            list(columns),
            ["family_id", "id"],
            ondelete="CASCADE",
        )

    op.execute(IS_VALID_SCHEDULE)
    op.execute(f"revoke all on function public.is_valid_schedule(jsonb) from {NOBODY_ELSE}")
    op.execute(f"grant execute on function public.is_valid_schedule(jsonb) to {API_ROLE}")
    op.create_check_constraint(
        op.f("ck_habit_versions_schedule_valid"),
        "habit_versions",
        "public.is_valid_schedule(schedule)",
    )
    op.create_check_constraint(
        op.f("ck_routine_versions_schedule_valid"),
        "routine_versions",
        # No schedule is SQL null or JSON null (what the ORM writes for None in a JSONB column).
        "schedule is null or jsonb_typeof(schedule) = 'null' or public.is_valid_schedule(schedule)",
    )

    op.create_table(
        "time_zones",
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_time_zones")),
    )
    op.execute("insert into public.time_zones (name) select name from pg_timezone_names")
    op.execute(f"revoke all on public.time_zones from {NOBODY_ELSE}")
    op.execute(f"grant select on public.time_zones to {API_ROLE}")
    for table in TIMEZONE_TABLES:
        op.create_foreign_key(
            op.f(f"fk_{table}_timezone_time_zones"),
            table,
            "time_zones",
            ["timezone"],
            ["name"],
            onupdate="CASCADE",
        )


def downgrade() -> None:
    for table in TIMEZONE_TABLES:
        op.drop_constraint(op.f(f"fk_{table}_timezone_time_zones"), table, type_="foreignkey")
    op.drop_table("time_zones")
    op.drop_constraint(
        op.f("ck_routine_versions_schedule_valid"), "routine_versions", type_="check"
    )
    op.drop_constraint(op.f("ck_habit_versions_schedule_valid"), "habit_versions", type_="check")
    op.execute("drop function public.is_valid_schedule(jsonb)")
    for table, columns, referenced, old_key in FAMILY_KEYS:
        op.drop_constraint(op.f(f"fk_{table}_{columns[0]}_{referenced}"), table, type_="foreignkey")
        op.create_foreign_key(old_key, table, referenced, [columns[1]], ["id"], ondelete="CASCADE")
    for table in REFERENCED:
        op.drop_constraint(op.f(f"uq_{table}_family_id_id"), table, type_="unique")
