"""Operators: users of the reserved `platform` tenant holding its `operator` role.

One identity implementation serves both planes (as Keycloak's master realm): operators log in
through the ordinary token endpoint with `X-Tenant: platform`, and the operator role's
`platform:*` permissions open the control plane. The first operator can only come from the CLI,
which has database access; there is no bootstrap endpoint to attack.
"""

from collections.abc import Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.security.passwords import ensure_strong_password
from tenantry.platform.operators.repository import OperatorRepository
from tenantry.tenants.auth.context import IdentityContext
from tenantry.tenants.roles.service import role_service
from tenantry.tenants.user_admin.errors import EmailTaken
from tenantry.tenants.users.models import User
from tenantry.tenants.users.repository import UserRepository
from tenantry.tenants.users.service import password_context, user_service

log = structlog.get_logger(__name__)

OPERATOR_ROLE = "operator"


class OperatorService:
    async def create(
        self,
        session: AsyncSession,
        ctx: IdentityContext,
        *,
        email: str,
        password: str,
        display_name: str | None = None,
    ) -> User:
        """A verified user of the platform tenant holding `operator`; the platform tenant's
        password policy applies. `session` is bound to the platform tenant's schema."""
        if not ctx.tenant.is_platform:
            raise RuntimeError("operators belong to the platform tenant")
        if await UserRepository(session).get_by_email(email) is not None:
            raise EmailTaken()
        ensure_strong_password(
            password,
            min_length=ctx.settings.password_min_length,
            check_common=ctx.settings.password_check_common,
            context=password_context(email),
        )
        user = await user_service.create(
            session,
            email=email,
            password_hash=await ctx.hasher.hash(password),
            email_verified=True,
            display_name=display_name,
        )
        await role_service.grant_builtin(session, user, OPERATOR_ROLE)
        log.info("operator.created", user_id=str(user.id))
        return user

    async def list(self, session: AsyncSession) -> Sequence[User]:
        return await OperatorRepository(session).holders_of(OPERATOR_ROLE)


operator_service = OperatorService()
