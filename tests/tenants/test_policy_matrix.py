"""The real policies/ files, every built-in role against every permission, as documented."""

import re
from pathlib import Path

import pytest

from tenantry.core.authz.policy import TenantPolicy, builtin_policy, role_subject, user_subject

README = Path(__file__).resolve().parents[2] / "policies" / "README.md"


def documented_matrix() -> dict[tuple[str, str], bool]:
    """Parse the "Built-in roles" table of policies/README.md."""
    text = README.read_text().split("## Built-in roles", 1)[1]
    lines = [line for line in text.splitlines() if line.startswith("|")]
    roles = [cell.strip() for cell in lines[0].strip("|").split("|")][1:]
    matrix: dict[tuple[str, str], bool] = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        permission = cells[0].strip("`")
        for role, answer in zip(roles, cells[1:], strict=True):
            assert answer in {"yes", "no"}, line
            matrix[(role, permission)] = answer == "yes"
    return matrix


MATRIX = documented_matrix()


def test_matrix_covers_every_role_and_permission() -> None:
    roles = {role for role, _ in MATRIX}
    permissions = {permission for _, permission in MATRIX}
    assert roles == set(builtin_policy().roles)
    assert permissions == set(builtin_policy().permissions)
    documented = set(re.findall(r"^\| `([a-z]+:[a-z]+)` \|", README.read_text(), re.M))
    assert documented == permissions


@pytest.mark.parametrize(("role", "permission"), sorted(MATRIX))
def test_role_holds_exactly_what_is_documented(role: str, permission: str) -> None:
    policy = TenantPolicy("tenant-1", assignments=[(user_subject("u1"), role_subject(role))])
    assert policy.allows(user_subject("u1"), permission) is MATRIX[(role, permission)]


def test_a_user_without_roles_is_a_member_only() -> None:
    policy = TenantPolicy("tenant-1")
    held = policy.permissions_of(user_subject("nobody"))
    assert held == {p for (role, p), yes in MATRIX.items() if role == "member" and yes}


def test_grants_stay_in_their_domain() -> None:
    policy = TenantPolicy("tenant-1", assignments=[(user_subject("u1"), role_subject("owner"))])
    other = TenantPolicy("tenant-2")
    assert policy.allows(user_subject("u1"), "users:delete")
    assert not other.allows(user_subject("u1"), "users:delete")


def test_custom_role_grants() -> None:
    policy = TenantPolicy(
        "tenant-1",
        grants=[(role_subject("r-1"), "audit:read")],
        assignments=[(user_subject("u1"), role_subject("r-1"))],
    )
    assert policy.allows(user_subject("u1"), "audit:read")
    assert not policy.allows(user_subject("u1"), "users:read")
