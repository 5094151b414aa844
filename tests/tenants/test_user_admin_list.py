"""Listing users: filters, sorting and keyset pagination through the HTTP API."""

import base64
import json
from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select

from tenantry.core.clock import utcnow
from tenantry.core.database import Database
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.roles.models import Role
from tenantry.tenants.roles.service import role_service
from tenantry.tenants.users.models import User, UserStatus
from tests.fixtures.app import TenantFactory
from tests.fixtures.identity import DEFAULT_PASSWORD, Account, Login, RoleUserFactory, login

USERS = "/api/v1/users"
SEEDED = 120


async def seed_users(database: Database, tenant: Tenant, count: int) -> None:
    """Users straight into the schema (no password hashing): keys with ties on purpose, so the
    id tie-breaker is exercised, and some without a display name."""
    base = utcnow() - timedelta(days=1)
    async with database.tenant_transaction(tenant.schema) as session:
        for i in range(count):
            session.add(
                User(
                    email=f"u{(i * 37) % count:03d}@example.com",
                    display_name=None if i % 10 == 0 else f"Name{(i * 7) % 40:03d}",
                    created_at=base + timedelta(seconds=i // 3),
                )
            )


@pytest.fixture(scope="module")
async def crowd(
    make_tenant: TenantFactory, make_admin: RoleUserFactory, database: Database
) -> Tenant:
    tenant = await make_tenant()
    await seed_users(database, tenant, SEEDED)
    await make_admin(tenant, email="zz-admin@example.com")
    return tenant


@pytest.fixture
async def admin(client: httpx.AsyncClient, crowd: Tenant, database: Database) -> Login:

    async with database.tenant_session(crowd.schema) as session:
        user = await session.scalar(select(User).where(User.email == "zz-admin@example.com"))
        assert user is not None
    return await login(client, Account(crowd, user.id, user.email, DEFAULT_PASSWORD))


SORT_KEYS: dict[str, Callable[[User], object]] = {
    "created_at": lambda user: user.created_at,
    "email": lambda user: user.email.lower(),
    "display_name": lambda user: (user.display_name or "").lower(),
}


async def everyone(database: Database, tenant: Tenant) -> list[User]:
    async with database.tenant_session(tenant.schema) as session:
        return list(await session.scalars(select(User)))


async def walk(client: httpx.AsyncClient, admin: Login, **params: str | int) -> list[list[str]]:
    """Every page of a listing, following next_cursor to the end."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(USERS, params=query, headers=admin.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 20, "pagination does not end"


@pytest.mark.parametrize("sort", sorted(SORT_KEYS))
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_every_user_once_in_order(
    client: httpx.AsyncClient,
    admin: Login,
    crowd: Tenant,
    database: Database,
    sort: str,
    order: str,
) -> None:
    users = await everyone(database, crowd)
    key = SORT_KEYS[sort]
    expected = [
        str(user.id)
        for user in sorted(users, key=lambda u: (key(u), u.id), reverse=order == "desc")
    ]
    pages = await walk(client, admin, sort=sort, order=order, limit=50)
    assert [len(page) for page in pages] == [50, 50, SEEDED + 1 - 100]
    assert [user_id for page in pages for user_id in page] == expected


async def test_default_order_and_page_size(
    client: httpx.AsyncClient, admin: Login, crowd: Tenant, database: Database
) -> None:
    users = sorted(await everyone(database, crowd), key=lambda u: (u.created_at, u.id))
    first = (await client.get(USERS, headers=admin.headers)).json()
    assert [item["id"] for item in first["items"]] == [str(u.id) for u in users[:50]]
    assert first["next_cursor"]


async def test_filters(
    client: httpx.AsyncClient, admin: Login, crowd: Tenant, database: Database
) -> None:
    users = {user.email: user for user in await everyone(database, crowd)}
    async with database.tenant_transaction(crowd.schema) as session:
        for email, status in [("u001@example.com", "locked"), ("u002@example.com", "disabled")]:
            found = await session.get(User, users[email].id)
            assert found is not None
            found.status = status
        special = await session.get(User, users["u003@example.com"].id)
        assert special is not None
        special.given_name, special.family_name = "Ada", "Lovelace_100%"
        manager_holder = await session.get(User, users["u004@example.com"].id)
        assert manager_holder is not None
        await role_service.grant_builtin(session, manager_holder, "manager")

    async def ids(**params: str | int) -> set[UUID]:
        response = await client.get(USERS, params={**params, "limit": 200}, headers=admin.headers)
        assert response.status_code == 200, response.text
        return {UUID(item["id"]) for item in response.json()["items"]}

    assert await ids(status="locked") == {users["u001@example.com"].id}
    assert await ids(status="disabled") == {users["u002@example.com"].id}
    assert len(await ids(status="active")) == SEEDED + 1 - 2
    roles = {role.name: str(role.id) for role in await _roles(database, crowd)}
    assert await ids(role=roles["manager"]) == {users["u004@example.com"].id}
    assert len(await ids(role=roles["admin"])) == 1
    assert await ids(q="LOVELACE") == {users["u003@example.com"].id}
    assert await ids(q="ada") == {users["u003@example.com"].id}
    # LIKE wildcards in the search are literal characters.
    assert await ids(q="_100%") == {users["u003@example.com"].id}
    assert await ids(q="%") == {users["u003@example.com"].id}
    assert await ids(q="U005@EXAMPLE") == {users["u005@example.com"].id}
    named = {u.id for u in users.values() if (u.display_name or "").lower().startswith("name00")}
    assert named
    assert await ids(q="name00") == named
    assert await ids(q="nobody-by-this-name") == set()
    combined = await ids(q="u00", status="active")
    assert users["u001@example.com"].id not in combined
    assert users["u005@example.com"].id in combined


async def _roles(database: Database, tenant: Tenant) -> list[Role]:
    async with database.tenant_session(tenant.schema) as session:
        return list(await role_service.roles(session))


async def test_filters_and_pagination_together(client: httpx.AsyncClient, admin: Login) -> None:
    pages = await walk(client, admin, q="name", sort="display_name", limit=7)
    ids = [user_id for page in pages for user_id in page]
    assert len(ids) == len(set(ids)) == SEEDED - SEEDED // 10


def forged(values: list[object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "!!!",
        forged(["users:created_at:asc", "yesterday", "not-a-uuid"]),
        forged(["users:email:asc", "a@example.com", str(UUID(int=0))]),
        forged(
            ["invitations", "2026-01-01T00:00:00+00:00", "00000000-0000-0000-0000-000000000000"]
        ),
        forged({"k": 1}),  # type: ignore[arg-type]
        forged(["users:created_at:asc", 5, 6]),
        "x" * 600,
    ],
)
async def test_malformed_cursor_is_400(
    client: httpx.AsyncClient, admin: Login, cursor: str
) -> None:
    response = await client.get(USERS, params={"cursor": cursor}, headers=admin.headers)
    assert response.status_code in {400, 422}
    expected = "validation_error" if len(cursor) > 512 else "invalid_cursor"
    assert response.json()["error"] == expected


async def test_cursor_of_another_sort_is_refused(client: httpx.AsyncClient, admin: Login) -> None:
    first = (await client.get(USERS, params={"sort": "email"}, headers=admin.headers)).json()
    response = await client.get(
        USERS,
        params={"sort": "email", "order": "desc", "cursor": first["next_cursor"]},
        headers=admin.headers,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_cursor"


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 201}, {"sort": "password_hash"}, {"order": "up"}, {"status": "gone"},
     {"role": "admin"}, {"q": "x" * 201}],
)  # fmt: skip
async def test_bad_parameters_are_422(
    client: httpx.AsyncClient, admin: Login, params: dict[str, str | int]
) -> None:
    response = await client.get(USERS, params=params, headers=admin.headers)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"


async def test_items_carry_roles_and_no_secrets(client: httpx.AsyncClient, admin: Login) -> None:
    body = (await client.get(USERS, params={"q": "zz-admin"}, headers=admin.headers)).json()
    (item,) = body["items"]
    assert [role["name"] for role in item["roles"]] == ["admin"]
    assert "password_hash" not in item
    assert "failed_login_count" not in item
    assert body["next_cursor"] is None


def test_status_values_are_the_models() -> None:
    assert {status.value for status in UserStatus} == {"active", "locked", "disabled"}
