from tenantry.core.errors import TenantryError


class InvalidCursor(TenantryError):
    status_code = 400
    code = "invalid_cursor"
    detail = "The cursor is not one this listing gave out; start again without it."
