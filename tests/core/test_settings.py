import pytest
from pydantic import ValidationError

from tenantry.core.settings import Environment, Settings, normalize_database_url


@pytest.mark.parametrize(
    "raw",
    [
        "postgresql://u:p@db:5432/app",
        "postgres://u:p@db:5432/app",
        "postgresql+asyncpg://u:p@db:5432/app",
    ],
)
def test_database_url_forms(raw: str) -> None:
    assert normalize_database_url(raw) == "postgresql+asyncpg://u:p@db:5432/app"


def test_other_databases_are_refused() -> None:
    with pytest.raises(ValueError, match="postgresql"):
        normalize_database_url("mysql://u:p@db/app")


def test_production_names_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TENANTRY_DATABASE_URL", "TENANTRY_SIGNING_KEYS", "TENANTRY_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ValidationError) as caught:
        Settings(env=Environment.PRODUCTION)
    message = str(caught.value)
    assert "TENANTRY_DATABASE_URL" in message
    assert "TENANTRY_SIGNING_KEYS" in message


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TENANTRY_PORT", "9123")
    monkeypatch.setenv("TENANTRY_DATABASE_URL", "postgresql://x@h/db")
    settings = Settings()
    assert settings.port == 9123
    assert settings.database_url == "postgresql+asyncpg://x@h/db"
    assert settings.tenant_header_enabled  # on in development


def test_header_off_by_default_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(
        env=Environment.PRODUCTION,
        database_url="postgresql://x@h/db",
        signing_keys=["k"],  # type: ignore[list-item]
        public_url="https://id.example.com",
    )
    assert not settings.tenant_header_enabled
