"""Password hashing and the password policy.

Hashing is argon2id with the ASVS 5.0 appendix C cost; bcrypt hashes migrated from other systems
are accepted once and upgraded. Passwords are NFKC-normalised before argon2id hashing (NIST
800-63B 5.1.1.2), so the same password typed as composed or decomposed Unicode verifies the same.

The policy follows NIST 800-63B: a minimum length, a generous maximum, a deny-list of common
passwords and of the user's own identifiers, and no composition rules.
"""

import asyncio
import math
import os
import secrets
import unicodedata
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import cache, partial
from importlib import resources
from typing import Any, NamedTuple, Self, TypeVar, TypeVarTuple

import argon2
import bcrypt
from argon2.exceptions import InvalidHashError, VerificationError

from tenantry.core.errors import TenantryError, ValidationFailed
from tenantry.core.settings import Settings

# One hashing thread per core, shared by every hasher of the process: argon2id is CPU- and
# memory-bound, so more parallel hashes only queue inside the kernel, and a login flood must not
# occupy the general worker threads the rest of the application needs. Waiting hashes queue inside
# the executor, so a thread that finishes takes the next one at once; with a limiter in front of
# the general thread pool, the next hash started only once the busy event loop had run its waiter,
# and the cores sat idle in between (the login benchmark showed it).
_HASHING_THREAD_COUNT = os.cpu_count() or 1
_HASHING_THREADS = ThreadPoolExecutor(max_workers=_HASHING_THREAD_COUNT, thread_name_prefix="hash")
# Password checks let in at once: per hashing thread, one hashing and one reading its user.
_CHECK_SLOTS = 2 * _HASHING_THREAD_COUNT

_Args = TypeVarTuple("_Args")
_Result = TypeVar("_Result")

_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_BCRYPT_MAX_BYTES = 72


class PasswordCheck(NamedTuple):
    ok: bool
    new_hash: str | None = None  # set when the stored hash must be replaced by this one


_REFUSED = PasswordCheck(ok=False)


class PasswordChecksBusy(TenantryError):
    """No password-check slot came free within the wait; the server is overloaded with logins."""

    status_code = 503
    code = "temporarily_unavailable"  # RFC 6749's name for an overloaded authorization server
    detail = "Too many sign-ins are being checked right now; retry later."


def default_check_slots(pool_size: int) -> int:
    """Twice the hashing threads, at most half the pool."""
    return max(1, min(_CHECK_SLOTS, pool_size // 2))


def _normalize(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def _verify_bcrypt(stored_hash: str, password: str) -> bool:
    # bcrypt only ever reads the first 72 bytes. bcrypt>=5 raises on longer input instead of
    # truncating, but every system that produced these hashes (bcrypt<5, passlib, PHP, Spring)
    # truncated silently, so a migrated user who typed a longer password must be checked the same
    # way. The input is the raw password, as those systems saw it. This is no weaker than the
    # legacy hash itself, and the upgrade that follows hashes the whole password with argon2id.
    secret = password.encode("utf-8")[:_BCRYPT_MAX_BYTES]
    try:
        return bcrypt.checkpw(secret, stored_hash.encode("ascii"))
    except ValueError:  # malformed hash or salt, non-ASCII hash, NUL in the password
        return False


class PasswordHasher:
    """argon2id hashing with rehash-on-login and bcrypt migration; all work runs off the loop."""

    def __init__(
        self,
        *,
        memory_kib: int,
        time_cost: int,
        parallelism: int,
        executor: Executor | None = None,
        slots: int = _CHECK_SLOTS,
        slot_wait_seconds: float = 10.0,
    ) -> None:
        self._argon2 = argon2.PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=argon2.Type.ID,
        )
        self._executor = executor or _HASHING_THREADS
        self._dummy_hash: str | None = None
        self._slots = asyncio.Semaphore(slots)
        self._slot_wait = slot_wait_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """A hasher with the cost configured in `TENANTRY_PASSWORD_HASH_*`."""
        return cls(
            memory_kib=settings.password_hash_memory_kib,
            time_cost=settings.password_hash_time_cost,
            parallelism=settings.password_hash_parallelism,
            slots=settings.password_check_slots or default_check_slots(settings.database_pool_size),
            slot_wait_seconds=settings.password_check_wait_seconds,
        )

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold one of the hasher's slots; `PasswordChecksBusy` when none comes free in time.

        A login takes its turn before its first query and keeps it through the check. Logins
        past the slots then queue here holding nothing, instead of each holding a pooled
        database connection while it waits for a hashing thread: a flood of logins used to take
        every connection, and every other request of every tenant failed until it passed.
        """
        try:
            async with asyncio.timeout(self._slot_wait):
                await self._slots.acquire()
        except TimeoutError:
            retry_after = str(max(1, math.ceil(self._slot_wait)))
            raise PasswordChecksBusy(headers={"Retry-After": retry_after}) from None
        try:
            yield
        finally:
            self._slots.release()

    async def hash(self, password: str) -> str:
        """An argon2id PHC string for the (normalised, never truncated) password."""
        return await self._run(self._hash_sync, password)

    async def verify(self, stored_hash: str, password: str) -> PasswordCheck:
        """Check a password; `new_hash` is set when the stored hash is outdated and ok is true.

        Unknown or malformed hashes verify false after the same work as a real check, so a user
        without a usable password cannot be told apart from one with a wrong password.
        """
        return await self._run(self._verify_sync, stored_hash, password)

    async def verify_dummy(self, password: str) -> None:
        """Spend the time of a real verification, for unknown users (no enumeration by timing)."""
        await self._run(self._verify_dummy_sync, password)

    async def _run(self, function: Callable[[*_Args], _Result], *args: *_Args) -> _Result:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(function, *args))

    def _hash_sync(self, password: str) -> str:
        return self._argon2.hash(_normalize(password))

    def _verify_argon2(self, stored_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(stored_hash, _normalize(password))
        except (VerificationError, InvalidHashError):
            return False

    def _verify_sync(self, stored_hash: str, password: str) -> PasswordCheck:
        if stored_hash.startswith("$argon2"):
            if not self._verify_argon2(stored_hash, password):
                return _REFUSED
            try:
                outdated = self._argon2.check_needs_rehash(stored_hash)
            except InvalidHashError:
                outdated = True
        elif stored_hash.startswith(_BCRYPT_PREFIXES):
            if not _verify_bcrypt(stored_hash, password):
                return _REFUSED
            outdated = True
        else:
            self._verify_dummy_sync(password)
            return _REFUSED
        return PasswordCheck(ok=True, new_hash=self._hash_sync(password) if outdated else None)

    def _verify_dummy_sync(self, password: str) -> None:
        if self._dummy_hash is None:
            # Computed once per hasher with its own parameters; a benign race may compute it twice.
            self._dummy_hash = self._argon2.hash(secrets.token_urlsafe(16))
        self._verify_argon2(self._dummy_hash, password)


# Policy ------------------------------------------------------------------------------------------

TOO_SHORT = "too_short"
TOO_LONG = "too_long"
COMMON = "common"
CONTAINS_CONTEXT = "contains_context"

_MIN_CONTEXT_LENGTH = 4
# ASVS 5.0 6.2.9: passwords of at least 64 characters must be permitted.
_SMALLEST_MAX_LENGTH = 64


@cache
def common_passwords() -> frozenset[str]:
    """The deny-list of common passwords, lower-case, read once on first use."""
    data = resources.files("tenantry.core.security").joinpath("data", "common-passwords.txt")
    return frozenset(line for line in data.read_text("utf-8").splitlines() if line)


def _context_words(context: Sequence[str]) -> set[str]:
    words: set[str] = set()
    for raw in context:
        word = _normalize(raw).strip().lower()
        # An email address is passed whole more often than not; its local part is the name.
        words.update({word, word.partition("@")[0]})
    return {word for word in words if len(word) >= _MIN_CONTEXT_LENGTH}


def password_problems(
    password: str,
    *,
    min_length: int = 8,
    check_common: bool = True,
    max_length: int = 128,
    context: Sequence[str] = (),
) -> list[str]:
    """Machine codes of every policy rule the password breaks; empty when it is acceptable.

    Length counts Unicode code points after NFKC normalisation. `context` holds words the user is
    known by (email, name, tenant); words shorter than 4 characters are ignored.
    """
    if max_length < _SMALLEST_MAX_LENGTH:
        raise ValueError(f"max_length must allow at least {_SMALLEST_MAX_LENGTH} characters")
    normalized = _normalize(password)
    folded = normalized.lower()
    problems: list[str] = []
    if len(normalized) < min_length:
        problems.append(TOO_SHORT)
    if len(normalized) > max_length:
        problems.append(TOO_LONG)
    if check_common and folded in common_passwords():
        problems.append(COMMON)
    if any(word in folded for word in _context_words(context)):
        problems.append(CONTAINS_CONTEXT)
    return problems


def _message(code: str, *, min_length: int, max_length: int) -> str:
    messages = {
        TOO_SHORT: f"Use at least {min_length} characters.",
        TOO_LONG: f"Use at most {max_length} characters.",
        COMMON: "This password is too common; choose another.",
        CONTAINS_CONTEXT: "The password must not contain your name or email address.",
    }
    return messages.get(code, "The password is not allowed.")


class WeakPassword(ValidationFailed):
    """The password breaks the policy; `problems` holds the machine codes, one field each."""

    def __init__(
        self,
        problems: Sequence[str],
        *,
        min_length: int = 8,
        max_length: int = 128,
        loc: Sequence[str] = ("body", "password"),
    ) -> None:
        self.problems = list(problems)
        fields: list[Mapping[str, Any]] = [
            {
                "loc": list(loc),
                "msg": _message(code, min_length=min_length, max_length=max_length),
                "type": code,
            }
            for code in self.problems
        ]
        super().__init__("The password does not meet the password policy.", fields=fields)


def ensure_strong_password(
    password: str,
    *,
    min_length: int,
    check_common: bool,
    context: Sequence[str] = (),
    max_length: int = 128,
    loc: Sequence[str] = ("body", "password"),
) -> None:
    """Raise `WeakPassword` unless the password passes `password_problems`."""
    problems = password_problems(
        password,
        min_length=min_length,
        check_common=check_common,
        max_length=max_length,
        context=context,
    )
    if problems:
        raise WeakPassword(problems, min_length=min_length, max_length=max_length, loc=loc)
