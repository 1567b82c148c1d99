"""The database roles the API relies on, and the ones it must never be reachable through.

Requests run as `REQUEST_ROLE` (created by migration 0005, granted only to the role that
migrates and serves). `DATA_API_ROLES` are the roles Supabase's Data API (PostgREST,
pg_graphql) switches to for a caller's token: none of them may hold a privilege on our tables
or functions, which `loopin doctor` checks and `tests/test_data_api_matrix.py` proves.
"""

from __future__ import annotations

REQUEST_ROLE = "loopin_api"
DATA_API_ROLES = ("anon", "authenticated", "service_role")
