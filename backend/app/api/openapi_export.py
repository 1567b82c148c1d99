"""The committed OpenAPI document (`openapi.json`, `make openapi`): the app as the code declares
it, built with placeholder settings so no environment changes it."""

from __future__ import annotations

import json
import sys
from typing import Any

from app.core.config import Settings
from app.main import create_app


def openapi_document() -> dict[str, Any]:
    """The document as the code declares it, independent of any environment."""
    settings = Settings(
        database_url="postgresql://openapi@localhost/openapi",
        supabase_jwt_secret="openapi-export-placeholder-secret-0000000000",  # noqa: S106
        _env_file=None,
    )
    return create_app(settings).openapi()


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":  # `python -m app.api.openapi_export > openapi.json`
    sys.stdout.write(render(openapi_document()))
