"""Moved to `app.repositories.id_lists` (statement building belongs to the repositories).

TODO(issue 14, lane C): import `among` from there in services/sync.py, then delete this."""

from __future__ import annotations

from app.repositories.id_lists import among

__all__ = ["among"]
