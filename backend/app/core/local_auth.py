"""The HS256 secret of local development, so `make run` needs no Supabase project.

With the embedded database and no auth configured, `loopin serve` generates one secret per
data folder (`<LOOPIN_DATA_DIR>/jwt-secret`, mode 0600), kept across restarts so tokens stay
valid, and `loopin token` signs with it. A deployment with DATABASE_URL never gets one: it
must configure SUPABASE_URL or SUPABASE_JWT_SECRET itself.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from app.core.config import Settings, SettingsError

SECRET_FILE_NAME = "jwt-secret"  # noqa: S105 (a file name)


def uses_local_secret(settings: Settings) -> bool:
    """Embedded database and no auth setting: the local secret is the one that counts."""
    return settings.database_url is None and not (
        settings.supabase_url or settings.supabase_jwt_secret
    )


def local_secret_path(settings: Settings) -> Path:
    return settings.loopin_data_dir.expanduser().resolve() / SECRET_FILE_NAME


def ensure_local_secret(path: Path) -> str:
    """The secret stored at `path`, generated on first use. The file appears complete or not
    at all (written aside, then hard-linked into place), so two processes starting at once
    agree on one secret."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process won the race: its secret is the one
        finally:
            draft.unlink()
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise SettingsError(
            f"setting SUPABASE_JWT_SECRET: the local secret file {path} is empty; "
            "delete it and a new one is generated"
        )
    return secret


def hs256_secret(settings: Settings) -> str | None:
    """The secret that signs tokens this configuration accepts: SUPABASE_JWT_SECRET, else the
    local one when it applies, else none (JWKS only, or auth not configured)."""
    if settings.jwt_secret:
        return settings.jwt_secret
    if uses_local_secret(settings):
        return ensure_local_secret(local_secret_path(settings))
    return None
