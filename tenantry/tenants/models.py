"""Imports every tenant-plane model so that metadata (and Alembic) see them all."""

from tenantry.tenants.users.models import User

__all__ = ["User"]
