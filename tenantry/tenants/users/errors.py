from tenantry.core.errors import TenantryError


class InvalidCurrentPassword(TenantryError):
    status_code = 400
    code = "invalid_current_password"
    detail = "The current password is wrong."


class SessionNotFound(TenantryError):
    status_code = 404
    code = "session_not_found"
    detail = "No such session."
