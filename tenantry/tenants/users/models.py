from uuid import UUID

from sqlalchemy import Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.models import TenantBase, Timestamped, uuid_pk


class User(Timestamped, TenantBase):
    __tablename__ = "users"

    id: Mapped[UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(320))


# Emails are unique per tenant regardless of case.
Index("uq_users_email_lower", func.lower(User.email), unique=True)
