from tenantry.core.errors import Forbidden, TenantryError


class SignupClosed(Forbidden):
    code = "signup_closed"
    detail = "This organization does not accept sign-ups."


class SignupInviteOnly(Forbidden):
    code = "signup_invite_only"
    detail = "This organization accepts new users by invitation only."


class EmailDomainNotAllowed(Forbidden):
    code = "email_domain_not_allowed"
    detail = "Sign-ups from this email domain are not accepted."


class InvalidOneTimeToken(TenantryError):
    status_code = 400
    code = "invalid_token"
    detail = "The link is invalid, expired or already used. Ask for a new one."
