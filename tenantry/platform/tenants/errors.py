from collections.abc import Mapping, Sequence
from typing import Any

from tenantry.core.errors import Conflict, Forbidden, NotFound, ValidationFailed


class SlugTaken(Conflict):
    code = "slug_taken"
    detail = "Another tenant already uses this slug."


class InvalidSlug(ValidationFailed):
    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Invalid slug: {reason}",
            fields=[{"loc": ["body", "slug"], "msg": reason, "type": "invalid_slug"}],
        )


class UnknownTenant(NotFound):
    # Not core's TenantNotFound: that one is about resolving a request's own tenant.
    code = "tenant_not_found"
    detail = "No such tenant."


class PlatformTenantProtected(Forbidden):
    code = "platform_tenant_protected"
    detail = "The platform tenant holds the operators: it cannot be suspended, renamed or deleted."


class TenantStatusConflict(Conflict):
    code = "tenant_status_conflict"

    def __init__(self, status: str, action: str) -> None:
        super().__init__(f"A tenant that is {status} cannot be {action}.")


class PurgeRefused(Conflict):
    code = "purge_refused"


class DomainTaken(Conflict):
    code = "domain_taken"

    def __init__(self, hostname: str) -> None:
        super().__init__(f"The domain {hostname} is registered to another tenant.")


class InvalidDomain(ValidationFailed):
    def __init__(self, hostname: str, reason: str, *, loc: Sequence[str]) -> None:
        super().__init__(
            f"Invalid domain {hostname!r}: {reason}",
            fields=[{"loc": list(loc), "msg": reason, "type": "invalid_domain"}],
        )


class InvalidTenantSettings(ValidationFailed):
    """Field-level errors of `TenantSettings`, located under the request's `settings` object."""

    def __init__(self, errors: Sequence[Mapping[str, Any]], *, loc: Sequence[str]) -> None:
        fields = [
            {
                "loc": [*loc, *error.get("loc", ())],
                "msg": error.get("msg", ""),
                "type": error.get("type"),
            }
            for error in errors
        ]
        super().__init__("Invalid tenant settings.", fields=fields)


class InvalidExport(ValidationFailed):
    def __init__(self, reason: str) -> None:
        super().__init__(
            f"Not an importable tenant export: {reason}",
            fields=[{"loc": ["body"], "msg": reason, "type": "invalid_export"}],
        )
