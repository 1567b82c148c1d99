"""The IANA time zone names the database accepts (migration 0006 copies `pg_timezone_names`).

Profiles and families reference it, so no stored time zone is one the clocks cannot read.
"""

from __future__ import annotations

from sqlalchemy import Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base


class TimeZone(Base):
    __tablename__ = "time_zones"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
