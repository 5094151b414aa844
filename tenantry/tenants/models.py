"""Imports every tenant-plane model so that metadata (and Alembic) see them all."""

from tenantry.tenants.auth.models import AuthSession, OneTimeToken, RefreshToken
from tenantry.tenants.users.models import User

__all__ = ["AuthSession", "OneTimeToken", "RefreshToken", "User"]
