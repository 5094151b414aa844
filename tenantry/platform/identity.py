"""Identity settings of any tenant (issuer, keys, mailer) outside a request, for the CLI.

The API builds the same `IdentityContext` from its runtime (`identity_context`); the CLI has no
runtime, so it builds the long-lived parts once from the settings.
"""

from tenantry.core.email import build_mailer
from tenantry.core.security.keys import load_keyset
from tenantry.core.security.passwords import PasswordHasher
from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import Tenant
from tenantry.core.tenancy.settings import tenant_settings
from tenantry.platform.tenants.service import IdentityFactory
from tenantry.tenants.auth.context import IdentityContext, issuer_for


def standalone_identities(settings: Settings) -> IdentityFactory:
    keys = load_keyset(settings)
    hasher = PasswordHasher.from_settings(settings)
    mailer = build_mailer(settings)

    def identity(tenant: Tenant) -> IdentityContext:
        return IdentityContext(
            tenant=tenant,
            settings=tenant_settings(tenant),
            issuer=issuer_for(settings, tenant),
            audience=settings.token_audience,
            keys=keys,
            hasher=hasher,
            mailer=mailer,
            tenant_labels=settings.metrics_tenant_labels,
        )

    return identity
