"""Imports every tenant-plane model so that metadata (and Alembic) see them all."""

from tenantry.tenants.audit.models import AuditEvent
from tenantry.tenants.auth.models import AuthSession, OneTimeToken, RefreshToken
from tenantry.tenants.invitations.models import Invitation
from tenantry.tenants.roles.models import Role, RolePermission, UserRole
from tenantry.tenants.users.models import User

__all__ = [
    "AuditEvent",
    "AuthSession",
    "Invitation",
    "OneTimeToken",
    "RefreshToken",
    "Role",
    "RolePermission",
    "User",
    "UserRole",
]
