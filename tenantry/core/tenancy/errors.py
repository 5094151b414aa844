from tenantry.core.errors import TenantryError


class TenantNotFound(TenantryError):
    status_code = 404
    code = "tenant_not_found"
    detail = "No tenant answers to this host or X-Tenant header."


class TenantSuspended(TenantryError):
    status_code = 403
    code = "tenant_suspended"
    detail = "This tenant is suspended."


class TenantDeleting(TenantryError):
    status_code = 410
    code = "tenant_deleted"
    detail = "This tenant is being deleted."


class TenantRequired(TenantryError):
    status_code = 400
    code = "tenant_required"
    detail = "This route needs a tenant: use the tenant's host or the X-Tenant header."


class TenantMismatch(TenantryError):
    status_code = 400
    code = "tenant_mismatch"
    detail = "The X-Tenant header names another tenant than the host."
