"""Tenantry: multi-tenant user management for SaaS backends."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tenantry")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"
