import time

import argon2
import bcrypt
import pytest

from tenantry.core.errors import ValidationFailed
from tenantry.core.security.passwords import (
    PasswordCheck,
    PasswordHasher,
    WeakPassword,
    common_passwords,
    ensure_strong_password,
    password_problems,
)
from tenantry.core.settings import Environment, Settings


@pytest.fixture(scope="module")
def cheap() -> PasswordHasher:
    return PasswordHasher(memory_kib=8192, time_cost=1, parallelism=1)


async def test_default_hasher_uses_argon2id_with_asvs_parameters() -> None:
    hasher = PasswordHasher.from_settings(Settings(env=Environment.TEST))
    stored = await hasher.hash("correct horse battery staple")

    parameters = argon2.extract_parameters(stored)
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (19456, 2, 1)
    assert await hasher.verify(stored, "correct horse battery staple") == PasswordCheck(True, None)
    assert await hasher.verify(stored, "correct horse battery stapler") == PasswordCheck(False)


async def test_each_hash_has_its_own_salt(cheap: PasswordHasher) -> None:
    assert await cheap.hash("same password") != await cheap.hash("same password")


async def test_changed_parameters_signal_a_rehash(cheap: PasswordHasher) -> None:
    stronger = PasswordHasher(memory_kib=8192, time_cost=2, parallelism=1)
    stored = await cheap.hash("a fine password")

    check = await stronger.verify(stored, "a fine password")

    assert check.ok
    assert check.new_hash is not None
    assert argon2.extract_parameters(check.new_hash).time_cost == 2
    assert await stronger.verify(check.new_hash, "a fine password") == PasswordCheck(True, None)
    assert await stronger.verify(stored, "wrong password") == PasswordCheck(False, None)


@pytest.mark.parametrize("prefix", ["$2a$", "$2b$", "$2y$"])
async def test_bcrypt_hash_verifies_and_upgrades_to_argon2id(
    cheap: PasswordHasher, prefix: str
) -> None:
    legacy = bcrypt.hashpw(b"legacy password", bcrypt.gensalt(rounds=4)).decode()
    legacy = prefix + legacy.removeprefix("$2b$")

    check = await cheap.verify(legacy, "legacy password")

    assert check.ok
    assert check.new_hash is not None
    assert check.new_hash.startswith("$argon2id$")
    assert (await cheap.verify(check.new_hash, "legacy password")).ok
    assert await cheap.verify(legacy, "legacy passworD") == PasswordCheck(False, None)


async def test_bcrypt_legacy_hash_of_a_long_password_checks_the_first_72_bytes(
    cheap: PasswordHasher,
) -> None:
    long_password = "é" * 40  # 80 bytes of UTF-8
    legacy = bcrypt.hashpw(long_password.encode()[:72], bcrypt.gensalt(rounds=4)).decode()

    check = await cheap.verify(legacy, long_password)

    assert check.ok
    assert check.new_hash is not None
    # The upgraded hash binds the whole password, not the legacy 72-byte prefix.
    assert (await cheap.verify(check.new_hash, long_password)).ok
    assert not (await cheap.verify(check.new_hash, long_password[:36])).ok


@pytest.mark.parametrize(
    "stored",
    ["", "plaintext", "$argon2id$v=19$m=8192,t=1,p=1$garbage", "$2b$04$short", "$1$md5$x"],
)
async def test_unknown_or_malformed_hashes_verify_false(cheap: PasswordHasher, stored: str) -> None:
    assert await cheap.verify(stored, "plaintext") == PasswordCheck(False, None)


async def test_long_and_non_ascii_passwords_are_not_truncated(cheap: PasswordHasher) -> None:
    password = "ünïcødé-🔑-" * 12 + "x" * 8
    password = password[:128]
    assert len(password) == 128
    stored = await cheap.hash(password)
    differs_at_100 = password[:99] + ("y" if password[99] != "y" else "z") + password[100:]

    assert (await cheap.verify(stored, password)).ok
    assert not (await cheap.verify(stored, differs_at_100)).ok
    assert not (await cheap.verify(stored, password[:127])).ok


async def test_equivalent_unicode_forms_verify(cheap: PasswordHasher) -> None:
    stored = await cheap.hash("caf\u00e9 au lait")  # precomposed é

    assert (await cheap.verify(stored, "cafe\u0301 au lait")).ok  # e + combining acute


async def test_dummy_verification_costs_about_a_real_one() -> None:
    hasher = PasswordHasher(memory_kib=8192, time_cost=4, parallelism=1)
    stored = await hasher.hash("the real password")
    await hasher.verify_dummy("warm up")  # the dummy hash is computed on first use

    started = time.perf_counter()
    await hasher.verify(stored, "a wrong password")
    real = time.perf_counter() - started
    started = time.perf_counter()
    await hasher.verify_dummy("a wrong password")
    dummy = time.perf_counter() - started

    assert dummy > real / 3


@pytest.mark.parametrize(
    ("password", "kwargs", "expected"),
    [
        ("a-fine-long-phrase", {}, []),
        ("short", {}, ["too_short"]),
        ("x9!k" * 8, {"min_length": 40}, ["too_short"]),
        ("q" * 129, {}, ["too_long"]),
        ("q" * 128, {}, []),
        ("w" * 65, {"max_length": 64}, ["too_long"]),
        ("password1", {}, ["common"]),
        ("QWERTY123", {}, ["common"]),
        ("QWERTY123", {"check_common": False}, []),
        ("i-am-Jdoe!2024", {"context": ["jdoe@example.com"]}, ["contains_context"]),
        ("i-am-JDOE!2024", {"context": ["Jdoe"]}, ["contains_context"]),
        ("joe-was-here-1", {"context": ["joe@example.com"]}, []),  # too short to count
        ("pass", {}, ["too_short", "common"]),
    ],
)
def test_password_problems(password: str, kwargs: dict[str, object], expected: list[str]) -> None:
    assert password_problems(password, **kwargs) == expected  # type: ignore[arg-type]


def test_length_counts_code_points_after_nfkc() -> None:
    # Seven ligatures "ﬃ" normalise to 21 characters: long enough despite 7 code points typed.
    assert password_problems("\ufb03" * 7, min_length=15) == []
    assert password_problems("🔑" * 8) == []  # 8 code points, 32 bytes


def test_max_length_below_64_is_refused() -> None:
    with pytest.raises(ValueError, match="64"):
        password_problems("anything", max_length=63)


def test_common_list_is_large_lowercase_and_deduplicated() -> None:
    entries = common_passwords()

    assert len(entries) >= 10_000
    assert {"password", "123456", "qwerty123", "iloveyou"} <= entries
    assert all(entry == entry.lower() for entry in entries)


def test_ensure_strong_password_raises_a_validation_error() -> None:
    with pytest.raises(WeakPassword) as raised:
        ensure_strong_password("password", min_length=12, check_common=True)

    error = raised.value
    assert isinstance(error, ValidationFailed)
    assert error.status_code == 422
    assert error.problems == ["too_short", "common"]
    body = error.body()
    assert body["error"] == "validation_error"
    assert [field["type"] for field in body["fields"]] == ["too_short", "common"]
    assert body["fields"][0]["loc"] == ["body", "password"]
    assert "12" in body["fields"][0]["msg"]
    ensure_strong_password("a-fine-long-phrase", min_length=12, check_common=True)
