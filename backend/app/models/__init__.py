"""Every model, imported so the metadata (and Alembic) sees every table."""

from app.models.base import Base

__all__ = ["Base"]
