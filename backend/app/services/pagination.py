"""Keyset pagination now lives with the queries it shapes (`app.repositories.pagination`);
this name stays for the services that still build their own page queries."""

from __future__ import annotations

from app.repositories.pagination import page_of, paginate

__all__ = ["page_of", "paginate"]
