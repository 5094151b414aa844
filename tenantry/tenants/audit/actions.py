"""The audit trail's vocabulary. Every feature records these names, so that one filter finds one
kind of event whoever wrote it; add a name here (and to docs/audit.md) before recording it.

An action is `<target type>.<what happened>`: the prefix names the kind of thing the event is
about, and `target_id` says which one (`user.*` events target a user, `session.*` a session).
"""

from enum import StrEnum


class AuditAction(StrEnum):
    # Identity: sign-up, login, sessions, passwords.
    USER_REGISTERED = "user.registered"
    USER_EMAIL_VERIFIED = "user.email_verified"
    USER_LOGIN_SUCCEEDED = "user.login_succeeded"
    USER_LOGIN_FAILED = "user.login_failed"
    USER_LOCKED_OUT = "user.locked_out"
    USER_LOGGED_OUT = "user.logged_out"
    USER_LOGGED_OUT_EVERYWHERE = "user.logged_out_everywhere"
    USER_PROFILE_UPDATED = "user.profile_updated"
    # S105 mistakes these event names for passwords because of their names.
    USER_PASSWORD_CHANGED = "user.password_changed"  # noqa: S105
    USER_PASSWORD_CHANGE_FAILED = "user.password_change_failed"  # noqa: S105
    USER_PASSWORD_RESET_REQUESTED = "user.password_reset_requested"  # noqa: S105
    USER_PASSWORD_RESET = "user.password_reset"  # noqa: S105
    SESSION_REVOKED = "session.revoked"
    SESSION_REUSE_DETECTED = "session.reuse_detected"

    # Administration: user management, roles, invitations, tenant settings.
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DISABLED = "user.disabled"
    USER_ENABLED = "user.enabled"
    USER_LOCKED = "user.locked"
    USER_UNLOCKED = "user.unlocked"
    USER_DELETED = "user.deleted"
    USER_ROLES_CHANGED = "user.roles_changed"
    USER_SESSIONS_REVOKED = "user.sessions_revoked"
    ROLE_CREATED = "role.created"
    ROLE_UPDATED = "role.updated"
    ROLE_DELETED = "role.deleted"
    INVITATION_CREATED = "invitation.created"
    INVITATION_RESENT = "invitation.resent"
    INVITATION_REVOKED = "invitation.revoked"
    INVITATION_ACCEPTED = "invitation.accepted"
    TENANT_SETTINGS_CHANGED = "tenant.settings_changed"


class AuditOutcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"  # the attempt failed: wrong password, replayed token
    DENIED = "denied"  # the attempt was refused by a rule: missing permission, escalation


class AuditTarget(StrEnum):
    USER = "user"
    SESSION = "session"
    ROLE = "role"
    INVITATION = "invitation"
    TENANT = "tenant"
