"""The text of the emails the account flows send."""

from tenantry.core.email import OutgoingEmail
from tenantry.tenants.auth.context import IdentityContext


def verification_email(ctx: IdentityContext, to: str, token: str) -> OutgoingEmail:
    link = f"{ctx.issuer}/verify-email?token={token}"
    hours = ctx.settings.email_verification_hours
    return OutgoingEmail(
        to=to,
        subject=f"Confirm your email for {ctx.tenant.display_name}",
        text=(
            f"Confirm your email address by opening this link:\n\n{link}\n\n"
            f"It works once and expires in {hours} hours. "
            "If you did not create an account, ignore this message."
        ),
    )


def reset_email(ctx: IdentityContext, to: str, token: str) -> OutgoingEmail:
    link = f"{ctx.issuer}/reset-password?token={token}"
    minutes = ctx.settings.password_reset_minutes
    return OutgoingEmail(
        to=to,
        subject=f"Reset your password for {ctx.tenant.display_name}",
        text=(
            f"Choose a new password by opening this link:\n\n{link}\n\n"
            f"It works once and expires in {minutes} minutes. All your sessions will end. "
            "If you did not ask for this, ignore this message: your password stays as it is."
        ),
    )


def already_registered_email(ctx: IdentityContext, to: str) -> OutgoingEmail:
    return OutgoingEmail(
        to=to,
        subject=f"Sign-up attempt at {ctx.tenant.display_name}",
        text=(
            "Someone tried to create an account with this email address, which already has one. "
            "If it was you, sign in, or reset your password if you have forgotten it. "
            "If not, no action is needed."
        ),
    )
