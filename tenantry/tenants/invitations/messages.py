"""The text of the invitation email."""

from tenantry.core.email import OutgoingEmail
from tenantry.tenants.auth.context import IdentityContext


def invitation_email(ctx: IdentityContext, to: str, token: str) -> OutgoingEmail:
    link = f"{ctx.issuer}/accept-invitation?token={token}"
    days = ctx.settings.invitation_days
    return OutgoingEmail(
        to=to,
        subject=f"You are invited to {ctx.tenant.display_name}",
        text=(
            f"You have been invited to join {ctx.tenant.display_name}. "
            f"Accept by opening this link and choosing a password:\n\n{link}\n\n"
            f"It works once and expires in {days} days. "
            "If you did not expect this invitation, ignore this message."
        ),
    )
