"""Every enum the database stores. Postgres enums are created from these with
`values_callable`, so the stored labels are the values, not the Python names."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import Enum


class MemberRole(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"

    @property
    def rank(self) -> int:
        return {"member": 0, "admin": 1, "owner": 2}[self.value]

    def at_least(self, other: MemberRole) -> bool:
        return self.rank >= other.rank


def pg_enum(enum_type: type[enum.Enum], name: str) -> Enum:
    def values(members: Any) -> list[str]:
        return [member.value for member in members]

    return Enum(enum_type, name=name, values_callable=values, validate_strings=True)


member_role_enum = pg_enum(MemberRole, "member_role")


class HabitType(enum.StrEnum):
    BOOLEAN = "boolean"
    NUMERIC = "numeric"


class TargetDirection(enum.StrEnum):
    AT_LEAST = "at_least"
    AT_MOST = "at_most"


class CheckinStatus(enum.StrEnum):
    DONE = "done"
    SKIPPED = "skipped"


habit_type_enum = pg_enum(HabitType, "habit_type")
target_direction_enum = pg_enum(TargetDirection, "target_direction")
checkin_status_enum = pg_enum(CheckinStatus, "checkin_status")
