"""One `Settings` object, read from `TENANTRY_*` environment variables."""

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url


class Environment(StrEnum):
    DEVELOPMENT = "development"
    TEST = "test"
    PRODUCTION = "production"


class LogFormat(StrEnum):
    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"


_POSTGRES_SCHEMES = {"postgres", "postgresql", "postgresql+asyncpg"}


def normalize_database_url(raw: str) -> str:
    """Accept `postgresql://...` as people write it; return the asyncpg form SQLAlchemy needs."""
    url = make_url(raw)
    if url.drivername not in _POSTGRES_SCHEMES:
        raise ValueError(f"expected a postgresql:// URL, got scheme {url.drivername!r}")
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def _split_list(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


DatabaseURL = Annotated[str, AfterValidator(normalize_database_url)]


class Settings(BaseSettings):
    """Every knob of the service; development defaults need no configuration at all."""

    model_config = SettingsConfigDict(env_prefix="TENANTRY_", extra="ignore", frozen=True)

    env: Environment = Environment.DEVELOPMENT
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = None

    database_url: DatabaseURL | None = None
    # Overflow connections are closed when they come back to a full pool, so load that keeps more
    # requests in flight than the pool holds opens a PostgreSQL connection (a forked backend, a
    # login, cold statement caches) per request past it: the pool itself should cover the load.
    # Measured: 32 requests in flight on 20 pooled connections cost /users/me 15% of its
    # throughput in new connections; on 30, none (bench/README.md).
    database_pool_size: int = Field(default=30, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    database_pool_timeout: float = Field(default=5.0, gt=0)
    database_statement_timeout_ms: int = Field(default=10_000, ge=0)
    # Tenant schemas one PostgreSQL backend may serve before the pool replaces it: a backend
    # keeps catalog caches for every relation it touched, for life (tenantry.core.database).
    database_schemas_per_backend: int = Field(default=500, ge=1)
    # Prepared statements kept per connection (least recently used dropped first). Every tenant
    # shares one statement text per query (tenantry.core.pgconnection), so this is sized by the
    # API's queries, not by the number of tenants: the test suite sends 325 distinct tenant
    # statements, most of them rare variants (filters, sorts, list lengths); the hot ones of the
    # routes clients call all the time fit in 100, and each connection's backend keeps a plan per
    # cached statement, so a bigger cache costs server memory on every connection.
    database_statement_cache_size: int = Field(default=100, ge=0)
    database_ping_after_idle_seconds: float = Field(default=1.0, ge=0)
    data_dir: Path = Path(".data")

    base_domain: str = "localhost"
    tenant_header: bool | None = None
    tenant_cache_ttl_seconds: float = Field(default=300.0, ge=0)
    tenant_cache_size: int = Field(default=10_000, ge=1)
    # As many as the tenant cache: a small tenant's enforcer is about 20 KiB and builds in under a
    # millisecond plus three reads, which a fleet of thousands would otherwise pay on most requests.
    authz_cache_size: int = Field(default=10_000, ge=1)

    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.AUTO

    readiness_timeout_seconds: float = Field(default=2.0, gt=0)

    # Identity: JWT signing keys (PEM; the first signs, all verify) and the token audience.
    signing_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    token_audience: str = "tenantry"  # noqa: S105 - an audience name, not a secret
    # argon2id cost, OWASP / ASVS 5.0 appendix C: m=19 MiB, t=2, p=1.
    password_hash_memory_kib: int = Field(default=19_456, ge=8_192)
    password_hash_time_cost: int = Field(default=2, ge=1)
    password_hash_parallelism: int = Field(default=1, ge=1)
    # Password grants that may hold a database connection at once: the rest wait for a turn
    # before their first query, so a flood of logins cannot take every pooled connection while it
    # queues for the hashing threads. None: twice the hashing threads, at most half the pool.
    # Must be smaller than the pool. Sign-ups take a turn for their hash too. One that waits
    # longer than the wait answers 503.
    password_check_slots: int | None = Field(default=None, ge=1)
    password_check_wait_seconds: float = Field(default=10.0, gt=0)

    # Per-IP throttling of the token endpoint; memory by default, Redis to share across replicas.
    rate_limit_url: str | None = None
    rate_limit_token_endpoint: str = "30/minute"  # noqa: S105 - a rate, not a secret

    # Outgoing email. Without a host, development writes messages to the log instead.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    smtp_sender: str = "Tenantry <no-reply@localhost>"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)

    # `make run` seeds the demo tenant's admin with these, or generates them.
    demo_admin_email: str = "admin@demo.example"
    demo_admin_password: SecretStr | None = None

    # Observability. Tenant slugs as label values multiply series by tenants: off unless the
    # fleet is small. With a token, /metrics wants `Authorization: Bearer <token>`.
    metrics_tenant_labels: bool = False
    metrics_token: SecretStr | None = None
    # `tenantry serve` lets in-flight requests finish for this long after SIGTERM; keep it under
    # the pod's terminationGracePeriodSeconds.
    shutdown_timeout_seconds: int = Field(default=20, ge=1)
    # With --workers N, uvicorn's supervisor pings each worker and replaces one that does not
    # answer within this many seconds. A new worker answers only once it has imported the app,
    # which takes seconds on a CPU-throttled pod; uvicorn's own 5 s killed workers mid-start.
    worker_healthcheck_timeout_seconds: int = Field(default=30, ge=1)

    # Control plane: how long a tenant marked for deletion waits before `purge` may drop it.
    tenant_deletion_grace_hours: float = Field(default=72.0, ge=0)

    # Request bodies above this many bytes answer 413 before anything reads them. The largest
    # legitimate body (a profile with 16 KiB of attributes) is far below it.
    max_body_bytes: int = Field(default=1_048_576, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _split_lists(cls, data: object) -> object:
        if isinstance(data, dict) and "signing_keys" in data:
            data["signing_keys"] = _split_pem_list(data["signing_keys"])
        return data

    @model_validator(mode="after")
    def _leave_connections_beside_logins(self) -> Self:
        slots = self.password_check_slots
        if slots is not None and slots >= self.database_pool_size:
            raise ValueError(
                f"password_check_slots ({slots}) must be smaller than database_pool_size "
                f"({self.database_pool_size}), or a login flood can hold every pooled connection"
            )
        return self

    @model_validator(mode="after")
    def _refuse_incomplete_production(self) -> Self:
        if self.env is not Environment.PRODUCTION:
            return self
        missing = [
            name
            for name, present in (
                ("TENANTRY_DATABASE_URL", self.database_url is not None),
                ("TENANTRY_SIGNING_KEYS", bool(self.signing_keys)),
                ("TENANTRY_PUBLIC_URL", self.public_url is not None),
            )
            if not present
        ]
        if missing:
            raise ValueError(f"production mode needs {', '.join(missing)}")
        return self

    @property
    def is_development(self) -> bool:
        return self.env is not Environment.PRODUCTION

    @property
    def tenant_header_enabled(self) -> bool:
        if self.tenant_header is None:
            return self.is_development
        return self.tenant_header

    @property
    def json_logs(self) -> bool:
        if self.log_format is LogFormat.AUTO:
            return self.env is Environment.PRODUCTION
        return self.log_format is LogFormat.JSON


_PEM_END = "-----END"


def _split_pem_list(value: object) -> object:
    """Several PEM keys may share one variable; split after each END line."""
    if not isinstance(value, str):
        return value
    if _PEM_END not in value:
        return _split_list(value)
    keys: list[str] = []
    current: list[str] = []
    for line in value.replace("\\n", "\n").splitlines():
        if not line.strip():
            continue
        current.append(line.strip())
        if line.strip().startswith(_PEM_END):
            keys.append("\n".join(current) + "\n")
            current = []
    return keys


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
