"""The tenant registry, in the control-plane schema `platform`."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, ForeignKey, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.models import PlatformBase, Timestamped, uuid_pk
from tenantry.core.tenancy.context import Tenant, TenantStatus


class TenantRecord(Timestamped, PlatformBase):
    __tablename__ = "tenants"

    id: Mapped[UUID] = uuid_pk()
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=TenantStatus.ACTIVE.value)
    schema_name: Mapped[str] = mapped_column(String(63), unique=True)
    # The tenant schema's Alembic revision, kept here so a no-op fleet upgrade is one query.
    schema_version: Mapped[str | None] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Set with status `deleting`: the end of the grace period, after which `purge` may drop it.
    purge_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def to_tenant(self) -> Tenant:
        return Tenant(
            id=self.id,
            slug=self.slug,
            display_name=self.display_name,
            status=TenantStatus(self.status),
            schema=self.schema_name,
            settings=dict(self.settings or {}),
        )


class TenantDomain(Timestamped, PlatformBase):
    __tablename__ = "tenant_domains"

    hostname: Mapped[str] = mapped_column(Text, primary_key=True)
    tenant_id: Mapped[UUID] = mapped_column(
        ForeignKey(TenantRecord.id, ondelete="CASCADE"), index=True
    )
