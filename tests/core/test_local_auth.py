"""The local HS256 secret: only for the embedded database without auth settings, generated
once per data folder, private to its owner."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from app.core.config import Settings, SettingsError
from app.core.local_auth import ensure_local_secret, hs256_secret, uses_local_secret


def settings(tmp_path: Path, **values: Any) -> Settings:
    defaults: dict[str, Any] = {
        "database_url": None,
        "supabase_url": None,
        "supabase_jwt_secret": None,
        "loopin_data_dir": tmp_path,
        "_env_file": None,
    }
    return Settings(**{**defaults, **values})


class TestUsesLocalSecret:
    def test_embedded_without_auth_settings(self, tmp_path: Path) -> None:
        assert uses_local_secret(settings(tmp_path)) is True

    @pytest.mark.parametrize(
        "values",
        [
            {"database_url": "postgresql://u@db.example.org/app"},
            {"supabase_url": "https://ref.supabase.co"},
            {"supabase_jwt_secret": "configured-secret"},
        ],
    )
    def test_never_when_anything_is_configured(self, tmp_path: Path, values: Any) -> None:
        assert uses_local_secret(settings(tmp_path, **values)) is False

    def test_a_deployment_without_auth_gets_no_secret(self, tmp_path: Path) -> None:
        deployed = settings(tmp_path, database_url="postgresql://u@db.example.org/app")

        assert hs256_secret(deployed) is None
        assert not (tmp_path / "jwt-secret").exists()


class TestEnsureLocalSecret:
    def test_generated_once_and_private(self, tmp_path: Path) -> None:
        path = tmp_path / "new-folder" / "jwt-secret"

        first = ensure_local_secret(path)
        second = ensure_local_secret(path)

        assert first == second
        assert len(first) >= 32
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert [p.name for p in path.parent.iterdir()] == ["jwt-secret"]

    def test_configured_secret_wins(self, tmp_path: Path) -> None:
        assert hs256_secret(settings(tmp_path, supabase_jwt_secret="mine")) == "mine"

    def test_empty_file_is_a_clear_error(self, tmp_path: Path) -> None:
        path = tmp_path / "jwt-secret"
        path.write_text("\n")

        with pytest.raises(SettingsError, match="delete it"):
            ensure_local_secret(path)
