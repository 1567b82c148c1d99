"""Every model, imported so the metadata (and Alembic) sees every table."""

from app.models.auth import auth_users
from app.models.base import Base
from app.models.family import Family, FamilyMember
from app.models.habit import Checkin, Habit, HabitVersion
from app.models.import_key import ImportKey
from app.models.invitation import Invitation
from app.models.rate_limit import RateLimit
from app.models.routine import Routine, RoutineVersion
from app.models.sync import SyncChange, SyncLogState
from app.models.time_zone import TimeZone
from app.models.user import User

__all__ = [
    "Base",
    "Checkin",
    "Family",
    "FamilyMember",
    "Habit",
    "HabitVersion",
    "ImportKey",
    "Invitation",
    "RateLimit",
    "Routine",
    "RoutineVersion",
    "SyncChange",
    "SyncLogState",
    "TimeZone",
    "User",
    "auth_users",
]
