"""Invitations: an email with roles, a single-use expiring link, and the account it becomes.

Only the SHA-256 digest of a token is stored. Services flush, never commit; emails are returned to
the caller, who sends them after the transaction commits (a mail outage loses no change).

The first user of a tenant is its owner: accepting an invitation in a tenant where nobody holds the
owner role yet also grants it. That is how the control plane's invitation of a new tenant's first
administrator makes them its owner. (Two such acceptances racing in one brand-new tenant could both
become owners; both were invited by the system, so that is harmless.)
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.authz.policy import TenantPolicy, role_subject, user_subject
from tenantry.core.clock import utcnow
from tenantry.core.email import OutgoingEmail
from tenantry.core.security.opaque import digest_of, new_opaque_token
from tenantry.core.security.passwords import ensure_strong_password
from tenantry.tenants.audit.actions import AuditAction, AuditTarget
from tenantry.tenants.audit.service import AuditContext, audit_service
from tenantry.tenants.auth.context import IdentityContext
from tenantry.tenants.invitations import messages
from tenantry.tenants.invitations.errors import (
    InvalidInvitationToken,
    InvitationNotFound,
    InvitationPending,
)
from tenantry.tenants.invitations.models import Invitation
from tenantry.tenants.invitations.repository import InvitationRepository
from tenantry.tenants.roles.errors import RoleEscalation, RoleNotFound
from tenantry.tenants.roles.models import Role
from tenantry.tenants.roles.repository import RoleRepository
from tenantry.tenants.roles.service import OWNER, role_service
from tenantry.tenants.user_admin.cursor import decode_cursor, encode_cursor
from tenantry.tenants.user_admin.errors import EmailTaken, InvalidCursor
from tenantry.tenants.users.models import User
from tenantry.tenants.users.repository import UserRepository
from tenantry.tenants.users.service import password_context

CURSOR_KIND = "invitations"


def ensure_grantable(policy: TenantPolicy, actor_id: UUID, roles: Iterable[Role]) -> None:
    """The rule of `role_service.set_user_roles`, before there is a user to set roles on: a role
    may be handed out only by someone holding every permission in it."""
    held = policy.permissions_of(user_subject(actor_id))
    if any(not policy.permissions_of(role_subject(role.key)) <= held for role in roles):
        raise RoleEscalation()


async def existing_roles(session: AsyncSession, role_ids: Iterable[UUID]) -> Sequence[Role]:
    """The roles named, all of them, or `RoleNotFound`."""
    wanted = set(role_ids)
    roles = await RoleRepository(session).get_many(wanted) if wanted else []
    if len(roles) != len(wanted):
        raise RoleNotFound()
    return roles


@dataclass(frozen=True, slots=True)
class InvitationPage:
    items: Sequence[Invitation]
    next_cursor: str | None


class InvitationService:
    async def invite(
        self,
        session: AsyncSession,
        ctx: IdentityContext,
        *,
        email: str,
        role_ids: Sequence[UUID],
        invited_by: UUID | None,
        audit: AuditContext,
        policy: TenantPolicy | None = None,
    ) -> tuple[Invitation, OutgoingEmail]:
        """Invite `email` with roles. `invited_by` None means the system (the control plane
        inviting a tenant's first owner) and skips the escalation check; otherwise the inviter
        must hold every permission of every role (`policy` is read from the schema when not
        given)."""
        email = email.strip()
        if await UserRepository(session).get_by_email(email) is not None:
            raise EmailTaken()
        now = utcnow()
        invitations = InvitationRepository(session)
        if await invitations.pending_for_email(email, now) is not None:
            raise InvitationPending()
        roles = await existing_roles(session, role_ids)
        if invited_by is not None:
            policy = policy or await role_service.load_policy(session, ctx.tenant)
            ensure_grantable(policy, invited_by, roles)
        issued = new_opaque_token()
        invitation = Invitation(
            email=email,
            role_ids=sorted({role.id for role in roles}),
            digest=issued.digest,
            invited_by=invited_by,
            created_at=now,
            last_sent_at=now,
            expires_at=now + timedelta(days=ctx.settings.invitation_days),
        )
        invitations.add(invitation)
        await session.flush()
        await audit_service.record(
            session,
            audit,
            AuditAction.INVITATION_CREATED,
            target_type=AuditTarget.INVITATION,
            target_id=invitation.id,
            details={"roles": sorted(role.name for role in roles)},
        )
        return invitation, messages.invitation_email(ctx, email, issued.value)

    async def pending(
        self, session: AsyncSession, *, limit: int, cursor: str | None
    ) -> InvitationPage:
        after: tuple[datetime, UUID] | None = None
        if cursor is not None:
            created_at, last_id = decode_cursor(cursor, CURSOR_KIND, 2)
            try:
                after = (datetime.fromisoformat(created_at), UUID(last_id))
            except ValueError as exc:
                raise InvalidCursor() from exc
            if after[0].tzinfo is None:  # we only issue UTC instants; a naive one is forged
                raise InvalidCursor()
        rows = await InvitationRepository(session).page_pending(
            utcnow(), limit=limit + 1, after=after
        )
        items = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(CURSOR_KIND, [last.created_at.isoformat(), str(last.id)])
        return InvitationPage(items, next_cursor)

    async def revoke(
        self, session: AsyncSession, invitation_id: UUID, *, audit: AuditContext
    ) -> None:
        if not await InvitationRepository(session).revoke(invitation_id, utcnow()):
            raise InvitationNotFound()
        await audit_service.record(
            session,
            audit,
            AuditAction.INVITATION_REVOKED,
            target_type=AuditTarget.INVITATION,
            target_id=invitation_id,
        )

    async def resend(
        self,
        session: AsyncSession,
        ctx: IdentityContext,
        policy: TenantPolicy,
        invitation_id: UUID,
        *,
        actor: User,
        audit: AuditContext,
    ) -> tuple[Invitation, OutgoingEmail]:
        """A new token (the old one stops working) and a renewed expiry. Resending re-issues the
        grant, so the resender must be able to grant the invited roles, too."""
        invitation = await InvitationRepository(session).get_open_for_update(invitation_id)
        if invitation is None:
            raise InvitationNotFound()
        if await UserRepository(session).get_by_email(invitation.email) is not None:
            raise EmailTaken()
        ensure_grantable(policy, actor.id, await self._surviving_roles(session, invitation))
        issued = new_opaque_token()
        now = utcnow()
        invitation.digest = issued.digest
        invitation.last_sent_at = now
        invitation.expires_at = now + timedelta(days=ctx.settings.invitation_days)
        await session.flush()
        await audit_service.record(
            session,
            audit,
            AuditAction.INVITATION_RESENT,
            target_type=AuditTarget.INVITATION,
            target_id=invitation.id,
        )
        return invitation, messages.invitation_email(ctx, invitation.email, issued.value)

    async def accept(
        self,
        session: AsyncSession,
        ctx: IdentityContext,
        policy: TenantPolicy,
        *,
        token: str,
        password: str,
        display_name: str | None,
        audit: AuditContext,
    ) -> User:
        """Create the invited user with a verified email (the link proves the mailbox), their
        password and the invited roles; the first user of a tenant also becomes its owner."""
        digest = digest_of(token)
        invitations = InvitationRepository(session)
        # Read first, so that a weak password is refused (and the hash computed) before the
        # invitation row is locked and spent.
        found = await invitations.find_pending(digest, utcnow())
        if found is None:
            raise InvalidInvitationToken()
        ensure_strong_password(
            password,
            min_length=ctx.settings.password_min_length,
            check_common=ctx.settings.password_check_common,
            context=password_context(found.email),
        )
        password_hash = await ctx.hasher.hash(password)
        invitation = await invitations.consume(digest, utcnow())
        if invitation is None:  # accepted, revoked or resent meanwhile
            raise InvalidInvitationToken()
        user = await self._create_user(session, invitation.email, password_hash, display_name)
        roles = await self._surviving_roles(session, invitation)
        await role_service.set_user_roles(
            session, policy, actor=None, target=user, role_ids=[role.id for role in roles]
        )
        names = sorted(role.name for role in roles)
        owner = await RoleRepository(session).by_name(OWNER)
        if owner is not None and not await RoleRepository(session).holders_count(owner.id):
            await role_service.grant_builtin(session, user, OWNER)
            names = sorted({*names, OWNER})
        as_user = audit.as_user(user.id)
        await audit_service.record(
            session,
            as_user,
            AuditAction.INVITATION_ACCEPTED,
            target_type=AuditTarget.INVITATION,
            target_id=invitation.id,
        )
        await audit_service.record(
            session,
            as_user,
            AuditAction.USER_CREATED,
            target_type=AuditTarget.USER,
            target_id=user.id,
            details={"via": "invitation", "invited_by": str(invitation.invited_by), "roles": names},
        )
        return user

    async def _create_user(
        self, session: AsyncSession, email: str, password_hash: str, display_name: str | None
    ) -> User:
        user = User(
            email=email,
            email_verified=True,
            password_hash=password_hash,
            password_changed_at=utcnow(),
            display_name=display_name,
        )
        UserRepository(session).add(user)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:  # an account with this address appeared since the invite
            raise EmailTaken() from exc
        await session.refresh(user)
        return user

    async def _surviving_roles(self, session: AsyncSession, invitation: Invitation) -> list[Role]:
        # A custom role deleted since the invitation was sent is simply not granted.
        if not invitation.role_ids:
            return []
        return list(await RoleRepository(session).get_many(invitation.role_ids))


invitation_service = InvitationService()
