"""Custom domains: host names a tenant answers on besides `{slug}.{base domain}`."""

import re
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.platform.tenants.errors import DomainTaken, InvalidDomain
from tenantry.platform.tenants.models import TenantRecord
from tenantry.platform.tenants.repository import TenantRepository
from tenantry.platform.tenants.schemas import MAX_DOMAINS

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


async def tenant_domains(session: AsyncSession, record: TenantRecord) -> list[str]:
    return (await TenantRepository(session).domains_of([record.id]))[record.id]


def check_hostname(hostname: str, *, base_domain: str, loc: Sequence[str]) -> str:
    """A lower-case DNS name of two labels or more, outside the base domain (whose hosts are
    tenant slugs already: a custom domain there would never be reached)."""
    name = hostname.strip().lower().rstrip(".")
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(x) for x in labels):
        raise InvalidDomain(hostname, "not a valid host name", loc=loc)
    if labels[-1].isdigit():
        raise InvalidDomain(hostname, "an IP address is not a domain", loc=loc)
    base = base_domain.lower().strip(".")
    if name == base or name.endswith("." + base):
        raise InvalidDomain(hostname, f"hosts under {base} are tenant slugs already", loc=loc)
    return name


async def add_domains(
    session: AsyncSession,
    record: TenantRecord,
    hostnames: Sequence[str],
    *,
    base_domain: str,
    loc: Sequence[str] = ("body", "domains"),
) -> list[str]:
    """Register host names for the tenant; each may belong to one tenant only."""
    repository = TenantRepository(session)
    if not hostnames:
        return await tenant_domains(session, record)
    current = (await repository.domains_of([record.id]))[record.id]
    added: list[str] = []
    for position, hostname in enumerate(hostnames):
        name = check_hostname(hostname, base_domain=base_domain, loc=[*loc, str(position)])
        owner = await repository.domain_owner(name)
        if owner == record.id or name in added:
            continue
        if owner is not None:
            raise DomainTaken(name)
        repository.add_domain(record.id, name)
        added.append(name)
    if len(current) + len(added) > MAX_DOMAINS:
        raise InvalidDomain(hostnames[-1], f"at most {MAX_DOMAINS} domains per tenant", loc=loc)
    await session.flush()
    return sorted({*current, *added})
