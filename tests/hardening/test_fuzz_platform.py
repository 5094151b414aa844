"""Schemathesis against the control plane (/platform/v1), signed in as an operator.

The same checks as test_fuzz_openapi.py: no 5xx, every status documented, every response in its
documented content type and schema. Its cases provision, rename, suspend, delete, purge and
import tenants, so the app serves a database of its own (created and migrated for this module,
dropped after it): nothing the fuzzer makes reaches the rest of the suite.
"""

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import schemathesis
from fastapi import FastAPI

from tenantry.core.database import Database, create_engine
from tenantry.core.security.passwords import PasswordHasher
from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import PLATFORM_TENANT_SLUG
from tenantry.platform.router import platform_routers
from tenantry.platform.tenants.repository import TenantRepository
from tenantry.tenants.roles.service import role_service
from tenantry.tenants.users.models import User
from tests.fixtures.database import create_database, drop_database, migrate
from tests.fixtures.identity import DEFAULT_PASSWORD, Account
from tests.hardening.fuzzing import (
    SignedIn,
    documented_labels,
    fuzz,
    load_schema,
    operation_labels,
    served,
)

TENANTS = "/platform/v1/tenants"
LABELS = operation_labels(platform_routers())


@pytest.fixture(scope="module")
async def fleet_settings(settings: Settings, database_server: str) -> AsyncIterator[Settings]:
    url = await create_database(database_server, prefix="tenantry_fuzz")
    try:
        await migrate(url)
        yield settings.model_copy(update={"database_url": url})
    finally:
        await drop_database(database_server, url)


@pytest.fixture(scope="module")
async def operator_account(fleet_settings: Settings) -> Account:
    """An operator, written before the fuzzed app starts: its first policy load sees the grant."""
    database = Database(create_engine(fleet_settings))
    hasher = PasswordHasher.from_settings(fleet_settings)
    try:
        async with database.platform_session() as session:
            record = await TenantRepository(session).get_by_slug(PLATFORM_TENANT_SLUG)
        assert record is not None, "upgrade_fleet provisions the platform tenant"
        platform = record.to_tenant()
        async with database.tenant_transaction(platform.schema) as session:
            user = User(
                email=f"ops-{uuid.uuid4().hex[:8]}@example.com",
                email_verified=True,
                password_hash=await hasher.hash(DEFAULT_PASSWORD),
            )
            session.add(user)
            await session.flush()
            await role_service.grant_builtin(session, user, "operator")
        return Account(platform, user.id, user.email, DEFAULT_PASSWORD)
    finally:
        await database.engine.dispose()


@pytest.fixture(scope="module")
def fleet_app(fleet_settings: Settings, operator_account: Account) -> Iterator[FastAPI]:
    with served(fleet_settings) as app:
        yield app


@pytest.fixture(scope="module")
def fleet_schema(fleet_app: FastAPI) -> schemathesis.BaseSchema:
    return load_schema(fleet_app)


@pytest.fixture(scope="module")
def operator(
    fleet_app: FastAPI, fleet_schema: schemathesis.BaseSchema, operator_account: Account
) -> SignedIn:
    return SignedIn(fleet_app, operator_account)


def target_tenant(operator: SignedIn) -> str:
    """A tenant of its own for one operation's cases to suspend, delete, purge or export."""
    tag = uuid.uuid4().hex[:10]
    body = {"slug": f"fuzzed-{tag}", "display_name": "Fuzzed", "admin_email": f"{tag}@example.com"}
    return operator.create(TENANTS, body)


@pytest.mark.parametrize("label", LABELS)
def test_operation_conforms(
    label: str, fleet_schema: schemathesis.BaseSchema, operator: SignedIn
) -> None:
    known = {"tenant_id": target_tenant(operator)} if "{tenant_id}" in label else None
    fuzz(fleet_schema, label, operator, known)


def test_every_operation_is_fuzzed(fleet_schema: schemathesis.BaseSchema) -> None:
    documented = documented_labels(fleet_schema)
    assert {label for label in documented if " /platform/" in label} == set(LABELS)
