"""Pure-ASGI middleware that finds the tenant of each request, failing closed.

Order: the host (`{slug}.{base_domain}` or a registered custom domain), then the `X-Tenant` header
where enabled. When both name a tenant they must agree: a header cannot move a request out of the
tenant its host belongs to. There is never a default tenant.
"""

import re

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from tenantry.core.errors import (
    DatabaseUnavailable,
    TenantryError,
    error_response,
    is_database_outage,
)
from tenantry.core.tenancy.context import SLUG_PATTERN, Tenant, TenantStatus
from tenantry.core.tenancy.directory import TenantDirectory
from tenantry.core.tenancy.errors import (
    TenantDeleting,
    TenantMismatch,
    TenantNotFound,
    TenantSuspended,
)

TENANT_HEADER = "x-tenant"
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]", "testserver"})
# What a registered custom domain can be (RFC 1123 labels, lower case). A Host header that cannot
# be one never reaches the database, as a string that cannot be a slug does not: PostgreSQL
# refuses some (a NUL byte), and the rest are a look-up for nothing.
_HOSTNAME = re.compile(r"(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*")


class TenantResolverMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        directory: TenantDirectory,
        base_domain: str,
        header_enabled: bool,
        exempt_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.directory = directory
        self.base_suffix = "." + base_domain.lower().strip(".")
        self.base_domain = base_domain.lower().strip(".")
        self.header_enabled = header_enabled
        self.exempt_paths = exempt_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        try:
            tenant = await self.resolve(Headers(scope=scope))
        except TenantryError as exc:
            await error_response(exc)(scope, receive, send)
            return
        except Exception as exc:
            if not is_database_outage(exc):
                raise
            await error_response(DatabaseUnavailable())(scope, receive, send)
            return
        scope.setdefault("state", {})["tenant"] = tenant
        await self.app(scope, receive, send)

    async def resolve(self, headers: Headers) -> Tenant | None:
        from_host = await self._from_host(headers.get("host", ""))
        slug = headers.get(TENANT_HEADER) if self.header_enabled else None
        if slug is not None:
            slug = slug.strip().lower()
            if from_host is not None:
                if from_host.slug != slug:
                    raise TenantMismatch()
            else:
                from_host = await self._by_slug(slug)
                if from_host is None:
                    raise TenantNotFound()
        if from_host is not None:
            _ensure_serving(from_host)
        return from_host

    async def _from_host(self, raw_host: str) -> Tenant | None:
        host = _hostname(raw_host)
        if not host or host == self.base_domain or host in _LOCAL_HOSTS:
            return None
        if host.endswith(self.base_suffix):
            tenant = await self._by_slug(host[: -len(self.base_suffix)])
            if tenant is None:
                raise TenantNotFound()
            return tenant
        if not _HOSTNAME.fullmatch(host):
            return None
        return await self.directory.by_domain(host)

    async def _by_slug(self, slug: str) -> Tenant | None:
        # A string that cannot be a slug never reaches the database.
        if not SLUG_PATTERN.fullmatch(slug):
            return None
        return await self.directory.by_slug(slug)


def _hostname(raw_host: str) -> str:
    host = raw_host.strip().lower()
    if host.startswith("["):  # IPv6 literal
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def _ensure_serving(tenant: Tenant) -> None:
    if tenant.status is TenantStatus.SUSPENDED:
        raise TenantSuspended()
    if tenant.status is TenantStatus.DELETING:
        raise TenantDeleting()
