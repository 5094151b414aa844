"""The asyncpg connection class the engine uses: tenant statements shared by every tenant schema,
bound to one schema per transaction, and dropped statements closed at a steady pace.

**One statement text for every tenant.** The tenant models name the placeholder schema `tenant`.
A request's session translates it to `UNQUALIFIED` (`Database.tenant_engine`), and this class
removes that qualifier before a statement reaches the server, so `SELECT ... FROM users` is the
same text in every tenant. The session's transaction says which schema it means: the engine's
`begin` event hands the schema to `bind_search_path`, and the `BEGIN` that asyncpg sends anyway
carries `SET LOCAL search_path TO "<schema>"` in the same round trip (a simple-protocol query may
hold several commands). The prepared statement is then shared by every tenant: PostgreSQL re-plans
a prepared statement by itself when the search path it runs under changed (the PREPARE reference,
since 9.3), and the client caches, prepares and keeps one statement where it used to keep one per
tenant schema. Measured at 5,000 tenants, the per-tenant texts kept every statement new to its
connection (a Parse round trip and the client's bookkeeping on most requests, and the garbage
collector running while caches filled); see bench/README.md.

Why this cannot serve one tenant's rows to another:
- `SET LOCAL` lasts until the transaction ends, whichever way it ends; a pooled connection never
  carries a schema over to the next checkout.
- A statement that still names `UNQUALIFIED` outside a bound transaction is refused here, before
  it reaches the server (`UnboundTenantStatement`), instead of running under whatever search path
  the connection has; and the default search path holds no tenant table, so an unqualified name
  without a bound schema fails on the server too.
- It depends on transaction state only, never on session state: safe behind PgBouncer in
  transaction mode, as ARCHITECTURE.md requires (PgBouncer tracks protocol-level prepared
  statements, which asyncpg uses).
Provisioning, migrations and scripts keep naming each real schema (`schema_translated`).

**Dropped statements closed at a steady pace.** SQLAlchemy's statement cache grows to one and a
half times its size and then drops a third of it; asyncpg closes every dropped statement, a round
trip each, before the next statement it prepares. That was 250 round trips inside one unlucky
request with the cache of 500 we had (1.4 to 2.8 s under load, bench/README.md). Here one queued
statement is closed per statement prepared, with asyncpg's protocol-level Close (PgBouncer tracks
those, not a SQL `DEALLOCATE`).

Both override private asyncpg methods (`_cleanup_stmts` and `_get_statement`, as asyncpg 0.32 has
them); `tests/core/test_pgconnection.py` and `tests/core/test_search_path_binding.py` fail if an
upgrade stops calling them.
"""

from typing import Any, cast

import asyncpg
from asyncpg.protocol import NO_TIMEOUT

# The schema name tenant sessions translate `tenant` to; removed again before the server sees it.
UNQUALIFIED = "tenantry_search_path"
_QUALIFIER = f"{UNQUALIFIED}."
_TRANSACTION_ENDS = frozenset({"COMMIT;", "ROLLBACK;"})  # asyncpg's own texts; not savepoints


class UnboundTenantStatement(RuntimeError):
    def __init__(self) -> None:
        super().__init__("a tenant statement outside a transaction bound to a tenant schema")


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class TenantryConnection(asyncpg.Connection):
    _next_schema: str | None = None  # what the next BEGIN binds
    _bound_schema: str | None = None  # the open transaction's, once its BEGIN was sent

    def bind_search_path(self, schema: str | None) -> None:
        """The transaction about to begin runs with `schema` alone on its search path."""
        self._next_schema = schema

    # asyncpg's signatures, timeouts included.
    async def execute(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> str:
        if not args:
            if query.startswith("BEGIN"):
                schema, self._next_schema = self._next_schema, None
                self._bound_schema = schema
                if schema is not None:
                    query = f"{query} SET LOCAL search_path TO {quote_identifier(schema)};"
            elif query in _TRANSACTION_ENDS:
                self._bound_schema = None
        return await super().execute(self._unqualified(query), *args, timeout=timeout)

    async def _get_statement(
        self,
        query: str,
        timeout: float | None,  # noqa: ASYNC109
        **options: Any,
    ) -> Any:
        # Every prepared or executed statement with arguments comes through here.
        parent = cast(Any, super())
        return await parent._get_statement(self._unqualified(query), timeout, **options)

    def _unqualified(self, query: str) -> str:
        if _QUALIFIER not in query:
            return query
        if self._bound_schema is None:
            raise UnboundTenantStatement()
        return query.replace(_QUALIFIER, "")

    async def _cleanup_stmts(self) -> None:
        # asyncpg calls this after preparing a statement, whenever statements await closing.
        state = cast(Any, self)
        pending: set[Any] = state._stmts_to_close
        if pending:
            # Already marked closed by asyncpg when they were queued: nothing can use them.
            await state._protocol.close_statement(pending.pop(), NO_TIMEOUT)
