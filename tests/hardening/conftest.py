"""Fixtures shared by the attack suites: one client and one populated tenant per module."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.fixtures.app import TenantFactory, client_for
from tests.fixtures.identity import RoleUserFactory, UserFactory
from tests.hardening.attacks import Org, build_org


@pytest.fixture(scope="module")
async def http(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as client:
        yield client


@pytest.fixture(scope="module")
async def org(
    http: httpx.AsyncClient,
    make_tenant: TenantFactory,
    make_admin: RoleUserFactory,
    make_user: UserFactory,
) -> Org:
    return await build_org(http, make_tenant, make_admin, make_user)
