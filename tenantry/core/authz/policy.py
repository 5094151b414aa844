"""The built-in policy files and one tenant's enforcer.

`policies/roles.csv` writes `*` for the domain; loading instantiates it with the tenant id, so
each enforcer holds one tenant's rules only and the model can match domains by equality.
"""

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import casbin
from cachetools import LRUCache
from casbin.model import FastModel

from tenantry.core.resources import resource_dir

ANY_DOMAIN = "*"
_INDEX = [2, 3]  # positions of obj and act in a request and in a policy
_DECISIONS_KEPT = 50_000
MEMBER_ROLE = "member"


def role_subject(key: str) -> str:
    return f"role:{key}"


def user_subject(user_id: object) -> str:
    return f"user:{user_id}"


def split_permission(permission: str) -> tuple[str, str]:
    resource, sep, action = permission.partition(":")
    if not sep or not resource or not action:
        raise ValueError(f"permission {permission!r} is not resource:action")
    return resource, action


@dataclass(frozen=True, slots=True)
class BuiltinPolicy:
    grants: tuple[tuple[str, str], ...]  # (role subject, permission)
    inherits: tuple[tuple[str, str], ...]  # (role subject, inherited role subject)

    @property
    def permissions(self) -> frozenset[str]:
        """The whole vocabulary: every permission some built-in role holds."""
        return frozenset(permission for _, permission in self.grants)

    @property
    def roles(self) -> frozenset[str]:
        subjects = {subject for subject, _ in self.grants} | {
            s for pair in self.inherits for s in pair
        }
        return frozenset(subject.removeprefix("role:") for subject in subjects)


@lru_cache(maxsize=1)
def builtin_policy() -> BuiltinPolicy:
    grants: list[tuple[str, str]] = []
    inherits: list[tuple[str, str]] = []
    lines = (resource_dir("policies") / "roles.csv").read_text().splitlines()
    rows = csv.reader(line for line in lines if line.strip() and not line.lstrip().startswith("#"))
    for row in rows:
        kind, *fields = (field.strip() for field in row)
        if kind == "p" and len(fields) == 4 and fields[1] == ANY_DOMAIN:
            grants.append((fields[0], f"{fields[2]}:{fields[3]}"))
        elif kind == "g" and len(fields) == 3 and fields[2] == ANY_DOMAIN:
            inherits.append((fields[0], fields[1]))
        else:
            raise ValueError(f"roles.csv: cannot read {row!r}")
    return BuiltinPolicy(tuple(grants), tuple(inherits))


@lru_cache(maxsize=1)
def _model_text() -> str:
    return (resource_dir("policies") / "model.conf").read_text()


class TenantPolicy:
    """One tenant's Casbin enforcer: the built-in grants plus the tenant's roles and assignments."""

    def __init__(
        self,
        domain: str,
        *,
        grants: Iterable[tuple[str, str]] = (),
        assignments: Iterable[tuple[str, str]] = (),
    ) -> None:
        self.domain = domain
        builtin = builtin_policy()
        # FastModel indexes policies by (obj, act): a check only scans the rules of its own
        # permission, however many custom roles the tenant has.
        model = FastModel(_INDEX)
        model.load_model_from_text(_model_text())
        self._enforcer = casbin.FastEnforcer(model, cache_key_order=_INDEX)
        rules = [
            [subject, domain, *split_permission(permission)]
            for subject, permission in (*builtin.grants, *grants)
        ]
        links = [[child, parent, domain] for child, parent in (*builtin.inherits, *assignments)]
        if rules:
            self._enforcer.add_policies(rules)
        if links:
            self._enforcer.add_grouping_policies(links)
        # A policy never changes once built (a change builds a new one), so each decision can be
        # remembered: pycasbin re-parses its matcher expression on every enforce.
        self._decisions: LRUCache[tuple[str, str], bool] = LRUCache(maxsize=_DECISIONS_KEPT)

    def allows(self, subject: str, permission: str) -> bool:
        key = (subject, permission)
        decision = self._decisions.get(key)
        if decision is None:
            resource, action = split_permission(permission)
            decision = bool(self._enforcer.enforce(subject, self.domain, resource, action))
            self._decisions[key] = decision
        return decision

    def rules(self) -> list[list[str]]:
        """The loaded `p` rules (subject, domain, resource, action)."""
        return [list(rule) for rule in self._enforcer.get_policy()]

    def links(self) -> list[tuple[str, str]]:
        """The loaded role links (member, role), the domain left out."""
        return [(rule[0], rule[1]) for rule in self._enforcer.get_grouping_policy()]

    def permissions_of(self, subject: str) -> frozenset[str]:
        """Every permission of the vocabulary that `subject` (a user or a role) holds."""
        return frozenset(p for p in builtin_policy().permissions if self.allows(subject, p))
