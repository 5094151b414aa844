"""A tenant's whole life through /platform/v1/tenants, as an operator drives it."""

import uuid
from typing import Any

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import text
from structlog.testing import capture_logs

from tenantry.core.database import Database
from tenantry.core.tenancy.context import Tenant, TenantStatus
from tenantry.platform.migrations.alembic_runner import tenant_head
from tests.fixtures.app import unique_slug
from tests.fixtures.identity import Account, Login, UserFactory, login, token_from
from tests.fixtures.smtp import SmtpSink
from tests.platform.conftest import TENANTS, eventually

PASSWORD = "a long and unusual passphrase"


async def create(
    client: httpx.AsyncClient, operator: Login, slug: str, **extra: Any
) -> dict[str, Any]:
    body = {"slug": slug, "display_name": "Acme Corp", "admin_email": f"boss@{slug}.example"}
    response = await client.post(TENANTS, json={**body, **extra}, headers=operator.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def as_tenant(body: dict[str, Any]) -> Tenant:
    return Tenant(
        id=uuid.UUID(body["id"]),
        slug=body["slug"],
        display_name=body["display_name"],
        status=TenantStatus(body["status"]),
        schema=body["schema_name"],
    )


async def schema_exists(database: Database, schema: str) -> bool:
    async with database.engine.connect() as connection:
        found = await connection.scalar(
            text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
        )
    return found is not None


async def test_create_invites_an_owner_who_can_sign_in(
    client: httpx.AsyncClient, operator: Login, smtp_sink: SmtpSink
) -> None:
    slug = unique_slug("acme")
    created = await create(client, operator, slug, settings={"password_min_length": 12})
    assert created["slug"] == slug
    assert created["status"] == "active"
    assert created["schema_version"] == tenant_head()
    assert created["settings"]["password_min_length"] == 12
    assert created["settings"]["lockout_threshold"] == 10  # defaults filled in
    assert created["urls"]["issuer"] == f"http://{slug}.localhost:8000"
    assert created["urls"]["token_endpoint"].endswith("/api/v1/oauth/token")
    assert created["invitation"]["email"] == f"boss@{slug}.example"

    message = await smtp_sink.wait_for(f"boss@{slug}.example")
    accepted = await client.post(
        "/api/v1/invitations/accept",
        json={"token": token_from(message), "password": PASSWORD},
        headers={"X-Tenant": slug},
    )
    assert accepted.status_code == 201, accepted.text
    tenant = as_tenant(created)
    owner = await login(
        client, Account(tenant, uuid.UUID(accepted.json()["id"]), f"boss@{slug}.example", PASSWORD)
    )
    # Only an owner may read the organization's users and roles; the invitation made them one.
    users = await client.get("/api/v1/users", headers=owner.headers)
    assert users.status_code == 200, users.text

    detail = await client.get(f"{TENANTS}/{created['id']}", headers=operator.headers)
    assert detail.status_code == 200
    assert detail.json()["user_count"] == 1
    assert detail.json()["schema_current"] is True


async def test_a_line_break_in_the_name_still_invites_the_owner(
    client: httpx.AsyncClient, operator: Login, smtp_sink: SmtpSink
) -> None:
    # Found by tests/hardening/test_fuzz_platform.py: the name goes into the invitation's subject,
    # where a vertical tab raised ValueError after the 201, and the owner was never invited.
    slug = unique_slug("acme")
    await create(client, operator, slug, display_name="Acme\vCorp\u2028Ltd")

    message = await smtp_sink.wait_for(f"boss@{slug}.example")
    assert message["Subject"] == "You are invited to Acme Corp Ltd"


async def test_create_refuses_bad_input_field_by_field(
    client: httpx.AsyncClient, operator: Login
) -> None:
    bad_settings = await client.post(
        TENANTS,
        json={
            "slug": unique_slug(),
            "display_name": "X",
            "admin_email": "a@b.example",
            "settings": {"password_min_length": 3, "nonsense": True},
        },
        headers=operator.headers,
    )
    assert bad_settings.status_code == 422
    locations = {tuple(field["loc"]) for field in bad_settings.json()["fields"]}
    assert ("body", "settings", "password_min_length") in locations
    assert ("body", "settings", "nonsense") in locations
    for slug in ("platform", "Bad Slug"):
        response = await client.post(
            TENANTS,
            json={"slug": slug, "display_name": "X", "admin_email": "a@b.example"},
            headers=operator.headers,
        )
        assert response.status_code == 422
        assert response.json()["fields"][0]["loc"] == ["body", "slug"]
    taken = await create(client, operator, unique_slug())
    again = await client.post(
        TENANTS,
        json={"slug": taken["slug"], "display_name": "X", "admin_email": "a@b.example"},
        headers=operator.headers,
    )
    assert again.status_code == 409
    assert again.json()["error"] == "slug_taken"


async def test_list_filters_and_pages(client: httpx.AsyncClient, operator: Login) -> None:
    marker = uuid.uuid4().hex[:8]
    slugs = sorted([f"list-{marker}-{n}" for n in range(5)])
    ids = {}
    for slug in slugs:
        ids[slug] = (await create(client, operator, slug))["id"]
    await client.post(f"{TENANTS}/{ids[slugs[0]]}/suspend", headers=operator.headers)

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"q": marker, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(TENANTS, params=params, headers=operator.headers)).json()
        seen += [item["slug"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == slugs
    suspended = await client.get(
        TENANTS, params={"q": marker, "status": "suspended"}, headers=operator.headers
    )
    assert [item["slug"] for item in suspended.json()["items"]] == [slugs[0]]
    bad = await client.get(TENANTS, params={"cursor": "nonsense"}, headers=operator.headers)
    assert bad.status_code == 400


async def test_patch_settings_domains_and_rename_keeps_data(
    client: httpx.AsyncClient, operator: Login, make_user: UserFactory, database: Database
) -> None:
    created = await create(client, operator, unique_slug("old"))
    tenant_id, old_slug = created["id"], created["slug"]
    tenant = as_tenant(created)
    member = await make_user(tenant)

    invalid = await client.patch(
        f"{TENANTS}/{tenant_id}",
        json={"settings": {"session_idle_minutes": 100, "session_absolute_minutes": 50}},
        headers=operator.headers,
    )
    assert invalid.status_code == 422
    assert invalid.json()["fields"][0]["loc"][:2] == ["body", "settings"]

    new_slug = unique_slug("new")
    changed = await client.patch(
        f"{TENANTS}/{tenant_id}",
        json={
            "display_name": "Acme Renamed",
            "slug": new_slug,
            "add_domains": ["login.acme-corp.example"],
            "settings": {"lockout_threshold": 3},
        },
        headers=operator.headers,
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["slug"], body["display_name"]) == (new_slug, "Acme Renamed")
    assert body["schema_name"] == created["schema_name"]  # the schema never changes
    assert body["domains"] == ["login.acme-corp.example"]
    assert body["settings"]["lockout_threshold"] == 3

    # The old slug is gone at once (NOTIFY cleared every cache); the new one and the domain work.
    old = await eventually(
        lambda: client.get("/.well-known/openid-configuration", headers={"X-Tenant": old_slug}),
        404,
    )
    assert old.json()["error"] == "tenant_not_found"
    renamed = Account(
        Tenant(tenant.id, new_slug, "Acme Renamed", tenant.status, tenant.schema),
        member.user_id, member.email, member.password,
    )  # fmt: skip
    session = await login(client, renamed)
    me = await client.get("/api/v1/users/me", headers=session.headers)
    assert me.json()["email"] == member.email
    by_domain = await client.get(
        "/.well-known/openid-configuration", headers={"Host": "login.acme-corp.example"}
    )
    assert by_domain.status_code == 200

    reset = await client.patch(
        f"{TENANTS}/{tenant_id}",
        json={
            "settings": {"lockout_threshold": None},
            "remove_domains": ["login.acme-corp.example"],
        },
        headers=operator.headers,
    )
    assert reset.json()["settings"]["lockout_threshold"] == 10
    assert reset.json()["domains"] == []
    clash = await client.patch(
        f"{TENANTS}/{tenant_id}", json={"add_domains": ["x.localhost"]}, headers=operator.headers
    )
    assert clash.status_code == 422


async def test_suspend_ends_sessions_and_resume_serves_again(
    client: httpx.AsyncClient, operator: Login, make_user: UserFactory, make_tenant: Any
) -> None:
    tenant: Tenant = await make_tenant()
    member = await login(client, await make_user(tenant))
    suspended = await client.post(f"{TENANTS}/{tenant.id}/suspend", headers=operator.headers)
    assert suspended.json()["status"] == "suspended"
    refused = await eventually(lambda: client.get("/api/v1/users/me", headers=member.headers), 403)
    assert (refused.status_code, refused.json()["error"]) == (403, "tenant_suspended")
    twice = await client.post(f"{TENANTS}/{tenant.id}/suspend", headers=operator.headers)
    assert twice.status_code == 409

    resumed = await client.post(f"{TENANTS}/{tenant.id}/resume", headers=operator.headers)
    assert resumed.json()["status"] == "active"
    # The suspension ended every session: the old token stays dead, a new login works.
    ended = await eventually(lambda: client.get("/api/v1/users/me", headers=member.headers), 401)
    assert ended.status_code == 401
    again = await login(client, member.account)
    assert (await client.get("/api/v1/users/me", headers=again.headers)).status_code == 200


async def test_two_step_delete_then_purge(
    client: httpx.AsyncClient, operator: Login, database: Database, make_tenant: Any
) -> None:
    tenant: Tenant = await make_tenant()
    not_marked = await client.post(f"{TENANTS}/{tenant.id}/purge", headers=operator.headers)
    assert (not_marked.status_code, not_marked.json()["error"]) == (409, "purge_refused")

    marked = await client.delete(f"{TENANTS}/{tenant.id}", headers=operator.headers)
    assert marked.status_code == 202
    assert marked.json()["status"] == "deleting"
    assert marked.json()["purge_after"] is not None
    gone = await eventually(
        lambda: client.get("/.well-known/openid-configuration", headers={"X-Tenant": tenant.slug}),
        410,
    )
    assert gone.status_code == 410

    in_grace = await client.post(f"{TENANTS}/{tenant.id}/purge", headers=operator.headers)
    assert in_grace.status_code == 409
    assert await schema_exists(database, tenant.schema)
    purged = await client.post(
        f"{TENANTS}/{tenant.id}/purge", params={"force": "true"}, headers=operator.headers
    )
    assert purged.status_code == 204
    assert not await schema_exists(database, tenant.schema)
    missing = await client.get(f"{TENANTS}/{tenant.id}", headers=operator.headers)
    assert (missing.status_code, missing.json()["error"]) == (404, "tenant_not_found")


async def test_resume_cancels_a_deletion(
    client: httpx.AsyncClient, operator: Login, make_tenant: Any
) -> None:
    tenant: Tenant = await make_tenant()
    await client.delete(f"{TENANTS}/{tenant.id}", headers=operator.headers)
    resumed = await client.post(f"{TENANTS}/{tenant.id}/resume", headers=operator.headers)
    assert resumed.json()["status"] == "active"
    assert resumed.json()["purge_after"] is None


async def test_platform_tenant_is_protected(
    client: httpx.AsyncClient, operator: Login, platform_tenant: Tenant
) -> None:
    url = f"{TENANTS}/{platform_tenant.id}"
    for response in (
        await client.post(f"{url}/suspend", headers=operator.headers),
        await client.delete(url, headers=operator.headers),
        await client.post(f"{url}/purge", params={"force": "true"}, headers=operator.headers),
        await client.patch(url, json={"slug": "operators-home"}, headers=operator.headers),
    ):
        assert (response.status_code, response.json()["error"]) == (
            403,
            "platform_tenant_protected",
        )
    renamed = await client.patch(url, json={"display_name": "Ops"}, headers=operator.headers)
    assert renamed.status_code == 200


async def test_each_lifecycle_action_is_counted_and_logged(
    client: httpx.AsyncClient, operator: Login, make_tenant: Any
) -> None:
    tenant: Tenant = await make_tenant()
    actions = {
        "suspended": ("POST", f"{TENANTS}/{tenant.id}/suspend"),
        "reactivated": ("POST", f"{TENANTS}/{tenant.id}/resume"),
        "deletion_scheduled": ("DELETE", f"{TENANTS}/{tenant.id}"),
        "deleted": ("POST", f"{TENANTS}/{tenant.id}/purge?force=true"),
    }
    for action, (method, url) in actions.items():
        before = counted(action)
        with capture_logs() as logs:
            response = await client.request(method, url, headers=operator.headers)
        assert response.status_code < 300, response.text
        assert counted(action) == before + 1
        events = [e for e in logs if e["event"] == f"tenant.{action}"]
        assert [e["slug"] for e in events] == [tenant.slug]


def counted(action: str) -> float:
    return REGISTRY.get_sample_value("tenantry_tenant_lifecycle_total", {"action": action}) or 0.0


async def test_operators_are_listed(
    client: httpx.AsyncClient, operator: Login, platform_tenant: Tenant
) -> None:
    response = await client.get("/platform/v1/operators", headers=operator.headers)
    assert response.status_code == 200
    assert operator.account.email in [item["email"] for item in response.json()]
    assert all("password_hash" not in item for item in response.json())
