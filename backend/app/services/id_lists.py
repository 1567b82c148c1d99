"""Lists of ids as one array parameter: moved to `app.repositories.id_lists` (repositories
may not import services); this name stays for the services that still build queries."""

from __future__ import annotations

from app.repositories.id_lists import among

__all__ = ["among"]
