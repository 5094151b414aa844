"""Users of one tenant. Emails are unique per tenant, ignoring case."""

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import Boolean, DateTime, Index, Integer, String, Text, func, literal_column
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.models import TenantBase, Timestamped, uuid_pk


class UserStatus(StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"  # by an administrator, until unlocked
    DISABLED = "disabled"


class User(Timestamped, TenantBase):
    __tablename__ = "users"

    id: Mapped[UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    status: Mapped[str] = mapped_column(
        String(16), default=UserStatus.ACTIVE.value, server_default=UserStatus.ACTIVE.value
    )
    password_hash: Mapped[str | None] = mapped_column(Text)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Automatic lockout after repeated failures; lifts by itself when this time passes.
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    display_name: Mapped[str | None] = mapped_column(String(200))
    given_name: Mapped[str | None] = mapped_column(String(100))
    family_name: Mapped[str | None] = mapped_column(String(100))
    avatar_url: Mapped[str | None] = mapped_column(String(2048))
    locale: Mapped[str | None] = mapped_column(String(35))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    bio: Mapped[str | None] = mapped_column(String(2000))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")

    @property
    def is_active(self) -> bool:
        return self.status == UserStatus.ACTIVE.value


# Emails are unique per tenant regardless of case.
Index("uq_users_email_lower", func.lower(User.email), unique=True)

# Keyset pagination of the admin user list: one index per sort, the id breaking ties, so any page
# is an index range scan from the cursor (t0004). The literal '' (not a bound parameter) keeps the
# query's expression identical to the index's, or the planner could not use it.
DISPLAY_NAME_SORT_KEY = func.lower(func.coalesce(User.display_name, literal_column("''")))
EMAIL_SORT_KEY = func.lower(User.email)
Index("ix_users_created_at_id", User.created_at, User.id)
Index("ix_users_email_sort", EMAIL_SORT_KEY, User.id)
Index("ix_users_display_name_sort", DISPLAY_NAME_SORT_KEY, User.id)
