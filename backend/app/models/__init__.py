"""Every model, imported so the metadata (and Alembic) sees every table."""

from app.models.auth import auth_users
from app.models.base import Base
from app.models.family import Family, FamilyMember
from app.models.invitation import Invitation
from app.models.user import User

__all__ = ["Base", "Family", "FamilyMember", "Invitation", "User", "auth_users"]
