"""What a tenant slug may be. Slugs become host names, so they follow DNS label rules, and a few
words that would collide with the service's own hosts or confuse users are reserved."""

from tenantry.core.tenancy.context import SLUG_PATTERN
from tenantry.platform.tenants.errors import InvalidSlug

RESERVED_SLUGS = frozenset(
    {
        "platform", "www", "api", "admin", "app", "auth", "login", "logout", "oauth", "sso",
        "id", "account", "accounts", "static", "assets", "cdn", "mail", "email", "smtp",
        "status", "health", "healthz", "readyz", "metrics", "docs", "help", "support",
        "billing", "dashboard", "console", "default", "public", "system", "internal", "root",
        "tenant", "tenants", "operator", "operators", "localhost", "test", "dev", "staging",
    }
)  # fmt: skip


def validate_slug(slug: str, *, allow_reserved: bool = False) -> str:
    if not SLUG_PATTERN.fullmatch(slug):
        raise InvalidSlug(
            "3 to 40 characters: lower-case letters, digits and hyphens, starting with a letter "
            "and ending with a letter or digit"
        )
    if "--" in slug:
        raise InvalidSlug("no two hyphens in a row")
    if slug in RESERVED_SLUGS and not allow_reserved:
        raise InvalidSlug(f"{slug!r} is reserved")
    return slug
