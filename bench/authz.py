"""Authorization benchmark: `.venv/bin/python -m bench.authz` (also run by `make bench`).

One tenant with 1,000 users, 20 custom roles and every assignable permission in use, as the
authorization issue asks. Measured in-process, since enforcement never leaves the process:

1. enforce latency: 10,000 distinct (user, permission) checks, each timed alone, p50/p99 in
   microseconds: the first time (Casbin decides) and again (the policy's memo answers);
2. enforcer build time: from rows already in memory, and from the tenant's real schema (what
   the cache does on a miss after a NOTIFY), p50 of repeated builds.

The vocabulary has 14 permissions (policies/README.md), not 50: the custom roles share them.
"""

import asyncio
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import insert

from bench.database import bench_database
from tenantry.core.authz.policy import TenantPolicy, builtin_policy
from tenantry.core.database import Database, create_engine
from tenantry.core.settings import Environment, Settings
from tenantry.platform.migrations.service import upgrade_fleet
from tenantry.platform.tenants.service import tenant_service
from tenantry.tenants.roles.models import Role, RolePermission, UserRole
from tenantry.tenants.roles.repository import RoleRepository
from tenantry.tenants.roles.service import assignable_permissions, role_service
from tenantry.tenants.users.models import User

USERS = 1_000
CUSTOM_ROLES = 20
CHECKS = 10_000
BUILDS = 20
RESULT = Path(__file__).parent / "results" / "authz.md"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def seed(database: Database, rng: random.Random) -> tuple[str, object]:
    async with database.platform_transaction() as session:
        record = await tenant_service.provision(session, slug="authz-bench", display_name="Bench")
    permissions = sorted(assignable_permissions())
    async with database.tenant_transaction(record.schema_name) as session:
        builtin = [r.id for r in await RoleRepository(session).all()]
        custom = [
            Role(id=uuid.uuid4(), name=f"custom-{i}", builtin=False) for i in range(CUSTOM_ROLES)
        ]
        session.add_all(custom)
        users = [
            {"id": uuid.uuid4(), "email": f"u{i}@bench.example", "email_verified": True}
            for i in range(USERS)
        ]
        await session.execute(insert(User), users)
        await session.flush()
        grants = [
            {"role_id": role.id, "permission": p}
            for role in custom
            for p in rng.sample(permissions, k=rng.randint(3, len(permissions)))
        ]
        await session.execute(insert(RolePermission), grants)
        role_ids = builtin + [role.id for role in custom]
        assignments = {
            (user["id"], role_id)
            for user in users
            for role_id in rng.sample(role_ids, k=rng.randint(1, 2))
        }
        await session.execute(
            insert(UserRole), [{"user_id": u, "role_id": r} for u, r in assignments]
        )
    return record.schema_name, record.to_tenant()


async def run() -> str:
    rng = random.Random(7)
    # The directory goes too, not only the database inside it.
    with (
        tempfile.TemporaryDirectory(prefix="tenantry-authz-") as workdir,
        bench_database(Path(workdir)) as target,
    ):
        settings = Settings(env=Environment.TEST, database_url=target.url, log_level="WARNING")
        database = Database(create_engine(settings))
        try:
            await upgrade_fleet(database.engine)
            schema, tenant = await seed(database, rng)
            db_builds: list[float] = []
            for _ in range(BUILDS):
                started = time.perf_counter()
                async with database.tenant_session(schema) as session:
                    policy = await role_service.load_policy(session, tenant)  # type: ignore[arg-type]
                db_builds.append((time.perf_counter() - started) * 1000)
        finally:
            await database.dispose()

    # Rebuild the same rules from memory, to separate Casbin's share from the queries'.
    rules = [(s, p) for s, p in _grants_of(policy)]
    links = list(_links_of(policy))
    memory_builds = []
    for _ in range(BUILDS):
        started = time.perf_counter()
        TenantPolicy(policy.domain, grants=rules, assignments=links)
        memory_builds.append((time.perf_counter() - started) * 1000)

    subjects = sorted({child for child, _ in links if child.startswith("user:")})
    vocabulary = sorted(builtin_policy().permissions)
    pairs = [(s, p) for s in subjects for p in vocabulary]
    rng.shuffle(pairs)
    pairs = pairs[:CHECKS]
    # First time each pair is asked: Casbin decides. Then again: the policy's memo answers.
    cold, allowed = _timed(policy, pairs)
    warm, _ = _timed(policy, pairs)

    table = "\n".join(
        [
            "| measure | p50 | p99 | n |",
            "| --- | ---: | ---: | ---: |",
            f"| enforce, first time per (user, permission): Casbin (µs) "
            f"| {percentile(cold, 0.5):.1f} | {percentile(cold, 0.99):.1f} "
            f"| {len(pairs)} ({allowed} allowed) |",
            f"| enforce, repeated: the policy's memo (µs) | {percentile(warm, 0.5):.1f} "
            f"| {percentile(warm, 0.99):.1f} | {len(pairs)} |",
            f"| enforcer build from the tenant schema (ms) | {statistics.median(db_builds):.1f} "
            f"| {max(db_builds):.1f} (max) | {BUILDS} |",
            f"| enforcer build from memory (ms) | {statistics.median(memory_builds):.1f} "
            f"| {max(memory_builds):.1f} (max) | {BUILDS} |",
        ]
    )
    header = (
        f"# Authorization benchmark\n\n{USERS} users, {CUSTOM_ROLES} custom roles, "
        f"{len(rules)} custom grants, {len(links)} user-role assignments, on top of the built-in "
        "grants and hierarchy; run `.venv/bin/python -m bench.authz`.\n\n"
    )
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(header + table + "\n")
    return header + table


def _timed(policy: TenantPolicy, pairs: list[tuple[str, str]]) -> tuple[list[float], int]:
    latencies = []
    allowed = 0
    for subject, permission in pairs:
        started = time.perf_counter_ns()
        allowed += policy.allows(subject, permission)
        latencies.append((time.perf_counter_ns() - started) / 1000)
    return latencies, allowed


def _grants_of(policy: TenantPolicy) -> list[tuple[str, str]]:
    builtin = set(builtin_policy().grants)
    return [
        (rule[0], f"{rule[2]}:{rule[3]}")
        for rule in policy.rules()
        if (rule[0], f"{rule[2]}:{rule[3]}") not in builtin
    ]


def _links_of(policy: TenantPolicy) -> list[tuple[str, str]]:
    builtin = set(builtin_policy().inherits)
    return [(child, parent) for child, parent in policy.links() if (child, parent) not in builtin]


if __name__ == "__main__":
    print(asyncio.run(run()))
