"""User administration: an organization's users as its administrators manage them. On top of
the permission each route declares, the rules in `guards` protect accounts from their managers.

Deletion is a hard delete. The user row goes, and with it (ON DELETE CASCADE) their sessions,
refresh and one-time tokens and role assignments; audit events keep only the user's id, never
their email or name. We chose it over a soft delete with a retention window because a deleted
person's data should really be gone (GDPR erasure), the address becomes free for a new account at
once, and no query needs a "not deleted" condition that someone will one day forget. To keep an
account without letting it sign in, disable it instead: that is reversible.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.clock import utcnow
from tenantry.core.email import OutgoingEmail
from tenantry.core.errors import ValidationFailed
from tenantry.core.security.passwords import ensure_strong_password
from tenantry.tenants.audit.actions import AuditAction, AuditTarget
from tenantry.tenants.audit.service import audit_service
from tenantry.tenants.auth.context import IdentityContext
from tenantry.tenants.auth.models import TokenPurpose
from tenantry.tenants.auth.repository import OneTimeTokenRepository, SessionRepository
from tenantry.tenants.invitations.models import Invitation
from tenantry.tenants.invitations.service import (
    ensure_grantable,
    existing_roles,
    invitation_service,
)
from tenantry.tenants.roles.errors import LastOwner, RoleEscalation, SelfRoleChange
from tenantry.tenants.roles.models import Role
from tenantry.tenants.roles.service import role_service
from tenantry.tenants.user_admin.cursor import decode_cursor, encode_cursor
from tenantry.tenants.user_admin.errors import EmailTaken, InvalidCursor
from tenantry.tenants.user_admin.guards import (
    AdminAction,
    get_user,
    guarded_target,
    lock_owner_role,
    refused,
    target,
)
from tenantry.tenants.user_admin.repository import UserAdminRepository, UserFilter
from tenantry.tenants.user_admin.schemas import SortKey, SortOrder, UserAdminUpdate, UserCreate
from tenantry.tenants.users.models import User, UserStatus
from tenantry.tenants.users.repository import UserRepository
from tenantry.tenants.users.service import password_context


@dataclass(frozen=True, slots=True)
class UserListPage:
    items: Sequence[tuple[User, list[Role]]]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Creation:
    """Either a user, or (created without a password) an invitation and its email."""

    user: User | None = None
    invitation: Invitation | None = None
    email: OutgoingEmail | None = None


def _cursor_kind(sort: SortKey, order: SortOrder) -> str:
    return f"users:{sort.value}:{order.value}"


def _cursor_position(cursor: str, sort: SortKey, order: SortOrder) -> tuple[object, UUID]:
    value, last_id = decode_cursor(cursor, _cursor_kind(sort, order), 2)
    try:
        key: object = datetime.fromisoformat(value) if sort is SortKey.CREATED_AT else value
        position = (key, UUID(last_id))
    except ValueError as exc:
        raise InvalidCursor() from exc
    # Only UTC instants are issued: a naive one is forged, and would compare as local time.
    if isinstance(key, datetime) and key.tzinfo is None:
        raise InvalidCursor()
    return position


def _moved(user: User, source: UserStatus, to: UserStatus) -> UserStatus:
    """`to` when the user is in `source`, else the status they have (a no-op)."""
    return to if user.status == source.value else UserStatus(user.status)


class UserAdminService:
    async def page(
        self,
        session: AsyncSession,
        filters: UserFilter,
        *,
        sort: SortKey,
        order: SortOrder,
        limit: int,
        cursor: str | None,
    ) -> UserListPage:
        after = _cursor_position(cursor, sort, order) if cursor is not None else None
        repository = UserAdminRepository(session)
        rows = await repository.page(filters, sort=sort, order=order, after=after, limit=limit + 1)
        page = rows[:limit]
        roles = await repository.roles_by_user(user.id for user, _ in page)
        next_cursor = None
        if len(rows) > limit:
            last, value = page[-1]
            text = value.isoformat() if isinstance(value, datetime) else str(value)
            next_cursor = encode_cursor(_cursor_kind(sort, order), [text, str(last.id)])
        return UserListPage([(user, roles[user.id]) for user, _ in page], next_cursor)

    async def get(self, session: AsyncSession, user_id: UUID) -> User:
        return await get_user(session, user_id)

    async def roles_of(self, session: AsyncSession, user_id: UUID) -> list[Role]:
        return list(await role_service.roles_of(session, user_id))

    async def create(self, act: AdminAction, ctx: IdentityContext, body: UserCreate) -> Creation:
        """A user with a password at once; without one, an invitation (no user yet)."""
        if body.password is None:
            return await self._invite(act, ctx, body)
        session = act.session
        roles = await existing_roles(session, body.role_ids)
        ensure_grantable(act.policy, act.actor.id, roles)
        if await UserRepository(session).get_by_email(body.email) is not None:
            raise EmailTaken()
        ensure_strong_password(
            body.password,
            min_length=ctx.settings.password_min_length,
            check_common=ctx.settings.password_check_common,
            context=password_context(body.email),
        )
        user = User(
            email=body.email,
            email_verified=body.email_verified,
            password_hash=await ctx.hasher.hash(body.password),
            password_changed_at=utcnow(),
            **body.profile(),
        )
        UserRepository(session).add(user)
        await self._flush_unique_email(session)
        if roles:
            await role_service.set_user_roles(
                session, act.policy, actor=act.actor, target=user, role_ids=[r.id for r in roles]
            )
        await session.refresh(user)
        await audit_service.record(
            session,
            act.audit,
            AuditAction.USER_CREATED,
            target_type=AuditTarget.USER,
            target_id=user.id,
            details={"via": "admin", "roles": sorted(role.name for role in roles)},
        )
        return Creation(user=user)

    async def update(self, act: AdminAction, user_id: UUID, body: UserAdminUpdate) -> User:
        user = await target(act, user_id)
        changes = body.changes()
        new_email = changes.pop("email", None)
        if new_email is not None and new_email.lower() != user.email.lower():
            await self._change_email(act.session, user, new_email, changes.get("email_verified"))
        elif new_email is not None:  # the same address in another case
            user.email = new_email
        for field, value in changes.items():
            setattr(user, field, value)
        await self._flush_unique_email(act.session)
        await act.session.refresh(user)
        fields = sorted(body.model_fields_set)
        await audit_service.record(
            act.session,
            act.audit,
            AuditAction.USER_UPDATED,
            target_type=AuditTarget.USER,
            target_id=user.id,
            details={"fields": fields},
        )
        return user

    async def disable(self, act: AdminAction, user_id: UUID) -> User:
        """Disabled users cannot sign in until enabled again; their sessions end now."""
        user = await guarded_target(act, user_id, AuditAction.USER_DISABLED)
        return await self._set_status(
            act, user, UserStatus.DISABLED, AuditAction.USER_DISABLED, end=True
        )

    async def enable(self, act: AdminAction, user_id: UUID) -> User:
        """Undo a disable; a locked user stays locked (unlocking is its own decision)."""
        user = await target(act, user_id)
        status = _moved(user, UserStatus.DISABLED, UserStatus.ACTIVE)
        return await self._set_status(act, user, status, AuditAction.USER_ENABLED)

    async def lock(self, act: AdminAction, user_id: UUID) -> User:
        """An administrative lock, until unlocked; a disabled user stays disabled (the stronger
        state). Sessions end now."""
        user = await guarded_target(act, user_id, AuditAction.USER_LOCKED)
        status = _moved(user, UserStatus.ACTIVE, UserStatus.LOCKED)
        return await self._set_status(act, user, status, AuditAction.USER_LOCKED, end=True)

    async def unlock(self, act: AdminAction, user_id: UUID) -> User:
        """Lift an administrative lock and the automatic lockout after failed logins alike."""
        user = await target(act, user_id)
        user.locked_until = None
        user.failed_login_count = 0
        status = _moved(user, UserStatus.LOCKED, UserStatus.ACTIVE)
        return await self._set_status(act, user, status, AuditAction.USER_UNLOCKED)

    async def delete(self, act: AdminAction, user_id: UUID) -> None:
        """Hard delete (see the module docstring for why)."""
        user = await guarded_target(act, user_id, AuditAction.USER_DELETED)
        # Ids only: the audit trail must not keep a deleted person's email or name.
        await audit_service.record(
            act.session,
            act.audit,
            AuditAction.USER_DELETED,
            target_type=AuditTarget.USER,
            target_id=user.id,
        )
        await UserAdminRepository(act.session).delete(user.id)
        act.session.expunge(user)

    async def revoke_sessions(self, act: AdminAction, user_id: UUID) -> int:
        """Force logout: every session (and so every refresh token) of the user ends now."""
        user = await target(act, user_id)
        count = await SessionRepository(act.session).revoke_all(user.id, utcnow(), "admin_logout")
        await audit_service.record(
            act.session,
            act.audit,
            AuditAction.USER_SESSIONS_REVOKED,
            target_type=AuditTarget.USER,
            target_id=user.id,
            details={"sessions_revoked": count},
        )
        return count

    async def set_roles(
        self, act: AdminAction, user_id: UUID, role_ids: Sequence[UUID]
    ) -> list[Role]:
        """`role_service.set_user_roles` decides (self change, escalation, last owner)."""
        session = act.session
        user = await self.get(session, user_id)
        await lock_owner_role(session)
        before = {role.id: role.name for role in await role_service.roles_of(session, user.id)}
        try:
            roles = await role_service.set_user_roles(
                session, act.policy, actor=act.actor, target=user, role_ids=role_ids
            )
        except (SelfRoleChange, RoleEscalation, LastOwner) as exc:
            raise await refused(act, AuditAction.USER_ROLES_CHANGED, user.id, exc) from None
        after = {role.id: role.name for role in roles}
        await audit_service.record(
            session,
            act.audit,
            AuditAction.USER_ROLES_CHANGED,
            target_type=AuditTarget.USER,
            target_id=user.id,
            details={
                "added": sorted(after[r] for r in after.keys() - before.keys()),
                "removed": sorted(before[r] for r in before.keys() - after.keys()),
            },
        )
        return sorted(roles, key=lambda role: role.name)

    async def _invite(self, act: AdminAction, ctx: IdentityContext, body: UserCreate) -> Creation:
        # An invitation carries an email and roles only: the invitee fills in their own profile.
        extra = sorted(body.model_fields_set - {"email", "role_ids", "password"})
        if extra:
            raise ValidationFailed(
                "Without a password an invitation is sent, which carries only email and roles.",
                fields=[
                    {"loc": ["body", name], "msg": "needs a password", "type": "invitation_field"}
                    for name in extra
                ],
            )
        invitation, email = await invitation_service.invite(
            act.session,
            ctx,
            email=body.email,
            role_ids=body.role_ids,
            invited_by=act.actor.id,
            audit=act.audit,
            policy=act.policy,
        )
        return Creation(invitation=invitation, email=email)

    async def _set_status(
        self,
        act: AdminAction,
        user: User,
        status: UserStatus,
        action: AuditAction,
        *,
        end: bool = False,
    ) -> User:
        """Set the status; `end` also ends every session of the user."""
        details: dict[str, Any] = {"from": user.status, "to": status.value}
        user.status = status.value
        if end:
            details["sessions_revoked"] = await SessionRepository(act.session).revoke_all(
                user.id, utcnow(), action.replace(".", "_")
            )
        await act.session.flush()
        await act.session.refresh(user)
        await audit_service.record(
            act.session,
            act.audit,
            action,
            target_type=AuditTarget.USER,
            target_id=user.id,
            details=details,
        )
        return user

    async def _change_email(
        self, session: AsyncSession, user: User, email: str, verified: bool | None
    ) -> None:
        if await UserRepository(session).get_by_email(email) is not None:
            raise EmailTaken()
        user.email = email
        user.email_verified = bool(verified)
        # Links mailed to the old address must not verify the new one or reset the password.
        tokens = OneTimeTokenRepository(session)
        for purpose in (TokenPurpose.VERIFY_EMAIL, TokenPurpose.RESET_PASSWORD):
            await tokens.retire_all(user.id, purpose, utcnow())

    async def _flush_unique_email(self, session: AsyncSession) -> None:
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:  # the same address taken concurrently
            raise EmailTaken() from exc


user_admin_service = UserAdminService()
