"""The asyncpg connection class the engine uses: prepared statements are closed at a steady pace.

Every tenant schema gives a statement its own text (`schema_translate_map` qualifies every table),
so with thousands of tenants the per-connection prepared-statement cache keeps missing. SQLAlchemy's
cache (`prepared_statement_cache_size`) lets itself grow to one and a half times its size and then
drops a third of it at once; asyncpg queues the dropped statements and, before the next statement
it prepares, closes every queued one with a round trip of its own. With the cache of 500 we had,
that was 250 round trips inside one unlucky request: measured at 1.4 to 2.8 s under load with
5,000 tenants, which made the p99 of the whole benchmark (bench/README.md).

`PacedConnection` closes one queued statement per statement prepared instead. The queue then
drains exactly as fast as it fills (SQLAlchemy drops 250 after 250 new ones), each prepare pays
at most one extra round trip, and a dropped statement merely stays on the server a little longer.
It keeps asyncpg's own protocol-level Close (not a batched SQL `DEALLOCATE`, which would save the
round trips): PgBouncer in transaction mode tracks protocol-level prepared statements only, and
ARCHITECTURE.md promises that the service runs behind it.

This overrides a private method of asyncpg (`Connection._cleanup_stmts`, as asyncpg 0.32 has it;
`tests/core/test_pgconnection.py` fails if an upgrade stops calling it).
"""

from typing import Any, cast

import asyncpg
from asyncpg.protocol import NO_TIMEOUT


class PacedConnection(asyncpg.Connection):
    async def _cleanup_stmts(self) -> None:
        # asyncpg calls this after preparing a statement, whenever statements await closing.
        state = cast(Any, self)
        pending: set[Any] = state._stmts_to_close
        if pending:
            # Already marked closed by asyncpg when they were queued: nothing can use them.
            await state._protocol.close_statement(pending.pop(), NO_TIMEOUT)
