"""GET /api/v1/audit-events: permission, tenant isolation, filters, order, cursor pagination."""

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tenantry.core.database import Database
from tenantry.core.models import TENANT_SCHEMA
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.audit.cursor import Position, encode_cursor
from tenantry.tenants.audit.repository import page_statement
from tenantry.tenants.audit.schemas import AuditEventFilters
from tenantry.tenants.audit.service import AuditContext, audit_service
from tenantry.tenants.roles.service import role_service
from tenantry.tenants.users.models import User
from tests.fixtures.app import TenantFactory
from tests.fixtures.identity import Account, Login, UserFactory, login

URL = "/api/v1/audit-events"
Item = dict[str, Any]
Param = str | int


async def with_role(
    database: Database, make_user: UserFactory, tenant: Tenant, role: str = "owner"
) -> Account:
    """A user holding a built-in role, granted as the system grants it."""
    account = await make_user(tenant)
    async with database.tenant_transaction(tenant.schema) as session:
        user = await session.get(User, account.user_id)
        assert user is not None
        await role_service.grant_builtin(session, user, role)
    return account


async def seed(
    database: Database,
    tenant: Tenant,
    action: str,
    count: int = 1,
    *,
    actor_id: uuid.UUID | None = None,
    outcome: str = "success",
    target_type: str | None = None,
    target_id: object | None = None,
) -> None:
    """`count` events in one transaction: they share `occurred_at`, as real ones do."""
    context = AuditContext(actor_id, "user" if actor_id else "system", request_id="seeded")
    async with database.tenant_transaction(tenant.schema) as session:
        for _ in range(count):
            await audit_service.record(
                session,
                context,
                action,
                outcome=outcome,
                target_type=target_type,
                target_id=target_id,
            )


async def listing(client: httpx.AsyncClient, admin: Login, **params: Param) -> dict[str, Any]:
    response = await client.get(URL, params=params, headers=admin.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def everything(client: httpx.AsyncClient, admin: Login, **params: Param) -> list[Item]:
    """Every page, following `next_cursor` to the end."""
    items: list[Item] = []
    cursor = None
    while True:
        page = await listing(client, admin, **params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


@pytest.fixture
async def admin(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, database: Database
) -> Login:
    return await login(client, await with_role(database, make_user, tenant))


async def test_admin_reads_the_trail(client: httpx.AsyncClient, admin: Login) -> None:
    body = await listing(client, admin)
    assert body["next_cursor"] is None
    (event,) = body["items"]
    assert event["action"] == "user.login_succeeded"
    assert event["actor_id"] == str(admin.account.user_id)
    assert set(event) == {
        "id",
        "occurred_at",
        "action",
        "outcome",
        "actor_id",
        "actor_type",
        "target_type",
        "target_id",
        "request_id",
        "ip_address",
        "details",
    }


@pytest.mark.parametrize("role", ["member", "manager"])
async def test_without_audit_read_is_403(
    client: httpx.AsyncClient,
    tenant: Tenant,
    make_user: UserFactory,
    database: Database,
    role: str,
) -> None:
    account = (
        await make_user(tenant)
        if role == "member"
        else await with_role(database, make_user, tenant, role)
    )
    response = await client.get(URL, headers=(await login(client, account)).headers)
    assert response.status_code == 403
    assert response.json()["error"] == "permission_denied"


async def test_needs_a_token(client: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await client.get(URL, headers={"X-Tenant": tenant.slug})
    assert response.status_code == 401


async def test_admin_of_one_tenant_sees_nothing_of_another(
    client: httpx.AsyncClient,
    make_tenant: TenantFactory,
    make_user: UserFactory,
    database: Database,
) -> None:
    tenant_a, tenant_b = await make_tenant(), await make_tenant()
    admin_a = await login(client, await with_role(database, make_user, tenant_a))
    admin_b = await login(client, await with_role(database, make_user, tenant_b))
    await seed(database, tenant_b, "user.login_failed", 3, outcome="failure")

    crossed = {**admin_a.headers, "X-Tenant": tenant_b.slug}
    response = await client.get(URL, headers=crossed)
    assert response.status_code == 401

    ids_a = {item["id"] for item in await everything(client, admin_a)}
    ids_b = {item["id"] for item in await everything(client, admin_b)}
    assert len(ids_b) == 4  # three seeded, and admin B's login
    assert ids_a
    assert ids_a.isdisjoint(ids_b)
    for event_id in ids_b:
        assert await everything(client, admin_a, target_id=event_id) == []


async def test_filters(
    client: httpx.AsyncClient, tenant: Tenant, admin: Login, database: Database
) -> None:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    await seed(
        database,
        tenant,
        "user.login_failed",
        2,
        outcome="failure",
        target_type="user",
        target_id=alice,
    )
    await seed(
        database,
        tenant,
        "user.password_changed",
        actor_id=alice,
        target_type="user",
        target_id=alice,
    )
    await seed(
        database, tenant, "session.revoked", actor_id=bob, target_type="session", target_id="s-1"
    )
    await seed(database, tenant, "user_x.odd")  # `_` must not act as a LIKE wildcard

    def actions(items: list[Item]) -> list[str]:
        return sorted(item["action"] for item in items)

    failed = await everything(client, admin, action="user.login_failed")
    assert actions(failed) == ["user.login_failed"] * 2
    users = await everything(client, admin, action="user.")
    assert actions(users) == [
        "user.login_failed",
        "user.login_failed",
        "user.login_succeeded",
        "user.password_changed",
    ]
    assert actions(await everything(client, admin, action="session.")) == ["session.revoked"]
    assert actions(await everything(client, admin, actor_id=str(alice))) == [
        "user.password_changed"
    ]
    assert actions(await everything(client, admin, target_type="session")) == ["session.revoked"]
    assert actions(await everything(client, admin, target_id=str(alice))) == [
        "user.login_failed",
        "user.login_failed",
        "user.password_changed",
    ]
    assert actions(await everything(client, admin, outcome="failure")) == ["user.login_failed"] * 2
    combined = await everything(client, admin, action="user.", outcome="success")
    assert actions(combined) == ["user.login_succeeded", "user.password_changed"]

    future = datetime.now(UTC) + timedelta(hours=1)
    assert await everything(client, admin, since=future.isoformat()) == []
    assert len(await everything(client, admin, until=future.isoformat())) == 6
    newest = (await listing(client, admin, limit=1))["items"][0]
    since_newest = await everything(client, admin, since=newest["occurred_at"])
    assert newest["id"] in {item["id"] for item in since_newest}
    before_newest = await everything(client, admin, until=newest["occurred_at"])
    assert newest["id"] not in {item["id"] for item in before_newest}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 201},
        {"outcome": "maybe"},
        {"actor_id": "not-a-uuid"},
        {"action": "User Login"},
        {"since": "2026-01-01T00:00:00"},  # no offset: ambiguous
        {"unknown": "filter"},
    ],
)
async def test_invalid_parameters_are_422(
    client: httpx.AsyncClient, admin: Login, params: dict[str, Param]
) -> None:
    response = await client.get(URL, params=params, headers=admin.headers)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "%%%",
        b64(b"not json"),
        b64(b"\xff\xfe"),
        b64(b'{"a": 1}'),
        b64(b"[1, 2]"),
        b64(b'["2026-01-01T00:00:00+00:00"]'),
        b64(b'["yesterday", "00000000-0000-0000-0000-000000000000"]'),
        b64(b'["2026-01-01T00:00:00+00:00", "not-a-uuid"]'),
        b64(b'["2026-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"]'),
    ],
)
async def test_malformed_cursor_is_400(
    client: httpx.AsyncClient, admin: Login, cursor: str
) -> None:
    response = await client.get(URL, params={"cursor": cursor}, headers=admin.headers)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_cursor"


async def test_pages_cover_every_event_once_newest_first(
    client: httpx.AsyncClient, tenant: Tenant, admin: Login, database: Database
) -> None:
    # Three transactions: many events share one instant, so the id must break the ties.
    for batch in range(3):
        await seed(database, tenant, f"user.batch_{batch}", 40)
    pages, cursor = [], None
    while True:
        params = {"limit": 50, **({"cursor": cursor} if cursor else {})}
        page = await listing(client, admin, **params)
        pages.append(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [len(page) for page in pages] == [50, 50, 21]  # 120 seeded, and the admin's login
    items = [item for page in pages for item in page]
    assert len({item["id"] for item in items}) == 121
    keys = [(datetime.fromisoformat(i["occurred_at"]), uuid.UUID(i["id"])) for i in items]
    assert keys == sorted(keys, reverse=True)
    assert items[0]["action"].startswith("user.batch_2")
    assert items[-1]["action"] == "user.login_succeeded"


async def test_a_page_that_ends_exactly_has_no_next_cursor(
    client: httpx.AsyncClient, tenant: Tenant, admin: Login, database: Database
) -> None:
    await seed(database, tenant, "user.login_failed", 3)
    first = await listing(client, admin, limit=2)
    assert first["next_cursor"] is not None
    second = await listing(client, admin, limit=2, cursor=first["next_cursor"])
    assert len(second["items"]) == 2
    assert second["next_cursor"] is None


async def test_cursor_past_the_end_gives_an_empty_page(
    client: httpx.AsyncClient, admin: Login
) -> None:
    oldest = Position(datetime(2000, 1, 1, tzinfo=UTC), uuid.UUID(int=0))
    body = await listing(client, admin, cursor=encode_cursor(oldest))
    assert body == {"items": [], "next_cursor": None}


async def test_pages_are_read_from_the_index_without_offset(
    tenant: Tenant, database: Database
) -> None:
    await seed(database, tenant, "user.login_failed", 20)
    after = Position(datetime.now(UTC), uuid.UUID(int=2**128 - 1))
    statement = page_statement(AuditEventFilters(), after=after, limit=51)
    assert "OFFSET" not in str(statement).upper()
    async with database.tenant_transaction(tenant.schema) as session:
        # A handful of rows would be read by a sequential scan; ask the planner what it would
        # do at scale, where only the index makes sense.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        await session.execute(text("SET LOCAL enable_bitmapscan = off"))
        compiled = statement.compile(
            dialect=(await session.connection()).dialect,
            schema_translate_map={TENANT_SCHEMA: tenant.schema},
            render_schema_translate=True,
            compile_kwargs={"literal_binds": True},
        )
        explain = text(f"EXPLAIN {compiled}")
        plan = "\n".join((await session.execute(explain)).scalars())
    assert "ix_audit_events_occurred_at_id" in plan, plan
    assert "Sort" not in plan, plan
