"""Imports every control-plane model so that metadata (and Alembic) see them all."""

from tenantry.platform.tenants.models import TenantDomain, TenantRecord

__all__ = ["TenantDomain", "TenantRecord"]
