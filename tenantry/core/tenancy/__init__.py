"""Tenancy plumbing: the tenant value, its resolution from a request, and session binding."""
