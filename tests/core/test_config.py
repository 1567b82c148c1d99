from __future__ import annotations

from pathlib import Path

import pytest

from app.core.config import DatabaseUrl, PoolMode, SettingsError, load_settings


class TestDatabaseUrl:
    def test_postgres_scheme_becomes_asyncpg(self) -> None:
        url = DatabaseUrl("postgres://u:p@db.example.com:5432/app")
        assert url.sqlalchemy_url == "postgresql+asyncpg://u:p@db.example.com:5432/app"

    def test_supabase_pooler_parameters_are_stripped_and_detected(self) -> None:
        url = DatabaseUrl(
            "postgresql://postgres.ref:pw@aws-0-eu.pooler.supabase.com:6543/postgres"
            "?pgbouncer=true&connection_limit=1&sslmode=require"
        )
        assert "pgbouncer" not in url.sqlalchemy_url
        assert "connection_limit" not in url.sqlalchemy_url
        assert "sslmode" not in url.sqlalchemy_url
        assert "ssl=require" in url.sqlalchemy_url
        assert url.looks_pooled

    @pytest.mark.parametrize(
        ("raw", "pooled"),
        [
            ("postgresql://u@h:6543/db", True),
            ("postgresql://u@h:5432/db?pgbouncer=true", True),
            ("postgresql://u@h:5432/db", False),
            ("postgresql://u@h/db", False),
        ],
    )
    def test_pooler_detection(self, raw: str, pooled: bool) -> None:
        assert DatabaseUrl(raw).looks_pooled is pooled

    def test_redacted_hides_password(self) -> None:
        assert DatabaseUrl("postgresql://u:secret@h/db").redacted() == "postgresql://u:***@h/db"

    @pytest.mark.parametrize(
        ("raw", "reason"),
        [
            ("mysql://u@h/db", "must start with postgresql://"),
            ("postgresql://u@h", "names no database"),
            ("postgresql://u@h/db?sslmode=sometimes", "sslmode"),
        ],
    )
    def test_rejects_with_reason(self, raw: str, reason: str) -> None:
        with pytest.raises(ValueError, match=reason):
            DatabaseUrl(raw)


class TestLoadSettings:
    @pytest.fixture(autouse=True)
    def _clean_env(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
        for name in ("DATABASE_URL", "DIRECT_URL", "DATABASE_POOL_MODE", "SUPABASE_URL"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.chdir(tmp_path)  # no stray .env

    def test_bad_setting_is_one_line_naming_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DATABASE_URL", "mysql://nope/db")
        with pytest.raises(SettingsError) as caught:
            load_settings()
        message = str(caught.value)
        assert message.startswith("setting DATABASE_URL:")
        assert "\n" not in message

    def test_wrong_type_names_the_setting(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DATABASE_POOL_SIZE", "lots")
        with pytest.raises(SettingsError, match="DATABASE_POOL_SIZE"):
            load_settings()

    def test_direct_url_falls_back_to_database_url(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DATABASE_URL", "postgresql://u@h:6543/db")
        settings = load_settings()
        assert settings.migration_url is not None
        assert settings.migration_url.port == 6543
        assert settings.pool_mode is PoolMode.TRANSACTION

    def test_explicit_pool_mode_wins(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("DATABASE_URL", "postgresql://u@h:6543/db")
        monkeypatch.setenv("DATABASE_POOL_MODE", "session")
        assert load_settings().pool_mode is PoolMode.SESSION

    def test_env_file_is_read(self, tmp_path: Path) -> None:
        (tmp_path / ".env").write_text("DIRECT_URL=postgresql://u@direct:5432/db\n")
        settings = load_settings()
        assert settings.migration_url is not None
        assert settings.migration_url.host == "direct"

    def test_production_requires_auth(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ENVIRONMENT", "production")
        monkeypatch.delenv("SUPABASE_JWT_SECRET", raising=False)
        with pytest.raises(SettingsError, match="SUPABASE_URL or SUPABASE_JWT_SECRET"):
            load_settings()

    @pytest.mark.parametrize("spelling", ["production", "Production", " PRODUCTION "])
    def test_production_in_any_case_requires_issuer_and_https_url(
        self, monkeypatch: pytest.MonkeyPatch, spelling: str
    ) -> None:
        monkeypatch.setenv("ENVIRONMENT", spelling)
        monkeypatch.setenv("SUPABASE_URL", "http://abc.supabase.co")
        monkeypatch.setenv("JWT_ISSUER", "https://abc.supabase.co/auth/v1")
        with pytest.raises(SettingsError, match="SUPABASE_URL must be the project's https://"):
            load_settings()
        monkeypatch.setenv("SUPABASE_URL", "https://abc.supabase.co")
        monkeypatch.delenv("JWT_ISSUER")
        with pytest.raises(SettingsError, match="JWT_ISSUER must be set"):
            load_settings()
        monkeypatch.delenv("SUPABASE_URL")
        monkeypatch.setenv("SUPABASE_JWT_SECRET", "x" * 40)
        monkeypatch.setenv("JWT_ISSUER", "https://abc.supabase.co/auth/v1")
        with pytest.raises(SettingsError, match="SUPABASE_URL must be the project's https://"):
            load_settings()
        monkeypatch.setenv("SUPABASE_URL", "https://abc.supabase.co")
        settings = load_settings()
        assert settings.is_production
        assert settings.environment == "production"

    def test_http_supabase_url_is_fine_in_development(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SUPABASE_URL", "http://127.0.0.1:54321")
        settings = load_settings()
        assert not settings.is_production
        assert settings.jwks_url == "http://127.0.0.1:54321/auth/v1/.well-known/jwks.json"

    def test_jwks_url_from_supabase_url(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("SUPABASE_URL", "https://abc.supabase.co/")
        assert load_settings().jwks_url == "https://abc.supabase.co/auth/v1/.well-known/jwks.json"
