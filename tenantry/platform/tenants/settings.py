"""Changing a tenant's settings: merged over what is stored, validated by `TenantSettings`.

Only explicitly set values are stored, so a tenant follows the defaults it never overrode when a
later release changes them.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from tenantry.core.tenancy.settings import TenantSettings
from tenantry.platform.tenants.errors import InvalidTenantSettings


def validated_settings(
    stored: Mapping[str, Any],
    changes: Mapping[str, Any],
    *,
    loc: Sequence[str] = ("body", "settings"),
) -> dict[str, Any]:
    """`stored` with `changes` applied (a None value removes the override), or field errors."""
    merged = dict(stored)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    try:
        checked = TenantSettings.model_validate(merged)
    except ValidationError as exc:
        raise InvalidTenantSettings(exc.errors(include_input=False), loc=loc) from None
    return checked.model_dump(mode="json", exclude_unset=True)


def effective_settings(stored: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting, defaults included, as the identity code sees them."""
    return TenantSettings.model_validate(stored).model_dump(mode="json")
