"""The kernel: settings, database, errors, security, tenancy plumbing.

Nothing here imports `tenantry.platform` or `tenantry.tenants` (an architecture test checks it).
"""
