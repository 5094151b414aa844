from datetime import datetime
from uuid import UUID

from sqlalchemy import DateTime, Index, LargeBinary, String, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from tenantry.core.models import TenantBase, uuid_pk


class Invitation(TenantBase):
    __tablename__ = "invitations"

    id: Mapped[UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(320))
    role_ids: Mapped[list[UUID]] = mapped_column(ARRAY(Uuid()), default=list, server_default="{}")
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    invited_by: Mapped[UUID | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_sent_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


Index("ix_invitations_email_lower", func.lower(Invitation.email))
