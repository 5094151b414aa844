"""Export a tenant from one Tenantry and import it into a fresh one: same users, roles, settings."""

from typing import Any

import httpx
import pytest

from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import Tenant
from tests.fixtures.app import TenantFactory, client_for, running_app, unique_slug
from tests.fixtures.identity import Account, Login, RoleUserFactory, UserFactory, login
from tests.platform.conftest import TENANTS, operator_of


async def populated_tenant(
    client: httpx.AsyncClient,
    operator: Login,
    make_tenant: TenantFactory,
    make_admin: RoleUserFactory,
    make_user: UserFactory,
) -> tuple[Tenant, list[Account]]:
    """Settings, an owner, a custom role with permissions held by a member, a plain member."""
    tenant = await make_tenant(unique_slug("src"))
    await client.patch(
        f"{TENANTS}/{tenant.id}",
        json={"settings": {"lockout_threshold": 4, "signup": "open"}},
        headers=operator.headers,
    )
    owner = await make_admin(tenant, "owner", display_name="Olivia Owner")
    owner_login = await login(client, owner)
    role = await client.post(
        "/api/v1/roles",
        json={"name": "Auditors", "description": "read the trail",
              "permissions": ["audit:read", "users:read"]},
        headers=owner_login.headers,
    )  # fmt: skip
    assert role.status_code == 201, role.text
    auditor = await make_user(tenant, given_name="Ada", attributes={"team": "blue"})
    assigned = await client.put(
        f"/api/v1/users/{auditor.user_id}/roles",
        json={"role_ids": [role.json()["id"]]},
        headers=owner_login.headers,
    )
    assert assigned.status_code == 200, assigned.text
    member = await make_user(tenant, status="disabled")
    return tenant, [owner, auditor, member]


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """What must survive the move (export times and the slug aside)."""
    return {
        "settings": document["tenant"]["settings"],
        "users": sorted(
            ({k: v for k, v in u.items() if k != "password_hash"} for u in document["users"]),
            key=lambda u: u["email"],
        ),
        "roles": sorted(
            (r["name"], r["builtin"], tuple(r["permissions"])) for r in document["roles"]
        ),
        "assignments": sorted(
            (
                next(u["email"] for u in document["users"] if u["id"] == a["user_id"]),
                next(r["name"] for r in document["roles"] if r["id"] == a["role_id"]),
            )
            for a in document["assignments"]
        ),
    }


@pytest.mark.parametrize("with_hashes", [True, False])
async def test_export_imported_into_a_fresh_database(
    client: httpx.AsyncClient,
    operator: Login,
    make_tenant: TenantFactory,
    make_admin: RoleUserFactory,
    make_user: UserFactory,
    settings: Settings,
    fresh_database_url: str,
    with_hashes: bool,
) -> None:
    tenant, (_owner, auditor, _member) = await populated_tenant(
        client, operator, make_tenant, make_admin, make_user
    )
    exported = await client.get(
        f"{TENANTS}/{tenant.id}/export",
        params={"include_password_hashes": str(with_hashes).lower()},
        headers=operator.headers,
    )
    assert exported.status_code == 200
    assert exported.headers["cache-control"] == "no-store"
    document = exported.json()
    assert document["password_hashes"] is with_hashes
    assert all((u["password_hash"] is not None) is with_hashes for u in document["users"])

    elsewhere = settings.model_copy(update={"database_url": fresh_database_url})
    async with running_app(elsewhere) as app, client_for(app) as other:
        fresh_operator = await operator_of(app, other)
        imported = await other.post(
            f"{TENANTS}/import", json=document, headers=fresh_operator.headers
        )
        assert imported.status_code == 201, imported.text
        moved = imported.json()
        assert moved["slug"] == tenant.slug
        assert moved["settings"]["lockout_threshold"] == 4

        again = await other.get(
            f"{TENANTS}/{moved['id']}/export",
            params={"include_password_hashes": "true"},
            headers=fresh_operator.headers,
        )
        assert comparable(again.json()) == comparable(document)

        new_tenant = Tenant(
            id=moved["id"], slug=moved["slug"], display_name=moved["display_name"],
            status=moved["status"], schema=moved["schema_name"],
        )  # fmt: skip
        attempt = await other.post(
            "/api/v1/oauth/token",
            data={"grant_type": "password", "username": auditor.email,
                  "password": auditor.password},
            headers={"X-Tenant": new_tenant.slug},
        )  # fmt: skip
        if with_hashes:
            assert attempt.status_code == 200, attempt.text
            signed_in = Login(
                Account(new_tenant, auditor.user_id, auditor.email, auditor.password),
                attempt.json()["access_token"], attempt.json()["refresh_token"],
            )  # fmt: skip
            # The custom role came along, with its permissions and its holder.
            audit = await other.get("/api/v1/audit-events", headers=signed_in.headers)
            assert audit.status_code == 200, audit.text
        else:
            assert attempt.status_code == 400  # no hash: they set a password by reset first


async def test_an_export_naming_unknown_rows_is_refused(
    client: httpx.AsyncClient, operator: Login, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant()
    document = (await client.get(f"{TENANTS}/{tenant.id}/export", headers=operator.headers)).json()
    document["assignments"] = [{"user_id": tenant.id.hex, "role_id": tenant.id.hex}]
    response = await client.post(
        f"{TENANTS}/import", params={"slug": unique_slug()}, json=document,
        headers=operator.headers,
    )  # fmt: skip
    assert response.status_code == 422
    taken = await client.post(f"{TENANTS}/import", json=document, headers=operator.headers)
    assert taken.status_code in (409, 422)
