"""Roles of one tenant and who holds them. Built-in roles have rows too (their grants come from
policies/roles.csv), so every assignment points at a row and deletes can be refused while used."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.models import TenantBase, Timestamped, uuid_pk
from tenantry.tenants.users.models import User


class Role(Timestamped, TenantBase):
    __tablename__ = "roles"

    id: Mapped[UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(String(500))
    builtin: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")

    @property
    def key(self) -> str:
        """The Casbin subject key: the name for built-ins, the id for custom roles (renamable)."""
        return self.name if self.builtin else str(self.id)


Index("uq_roles_name_lower", func.lower(Role.name), unique=True)


class RolePermission(TenantBase):
    __tablename__ = "role_permissions"

    role_id: Mapped[UUID] = mapped_column(ForeignKey(Role.id, ondelete="CASCADE"), primary_key=True)
    permission: Mapped[str] = mapped_column(String(64), primary_key=True)


class UserRole(TenantBase):
    __tablename__ = "user_roles"

    user_id: Mapped[UUID] = mapped_column(ForeignKey(User.id, ondelete="CASCADE"), primary_key=True)
    # RESTRICT: a role cannot disappear while someone holds it.
    role_id: Mapped[UUID] = mapped_column(
        ForeignKey(Role.id, ondelete="RESTRICT"), primary_key=True, index=True
    )
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    granted_by: Mapped[UUID | None] = mapped_column()
