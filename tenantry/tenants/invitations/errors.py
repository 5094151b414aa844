from tenantry.core.errors import Conflict, NotFound, TenantryError


class InvitationNotFound(NotFound):
    code = "invitation_not_found"
    detail = "No such open invitation."


class InvitationPending(Conflict):
    code = "invitation_pending"
    detail = "This address already has an open invitation; resend or revoke it instead."


class InvalidInvitationToken(TenantryError):
    # One answer for unknown, expired, used and revoked tokens: the caller learns nothing more.
    status_code = 400
    code = "invalid_token"
    detail = "The invitation is invalid, expired, revoked or already used. Ask for a new one."
