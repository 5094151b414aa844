"""The whole lifecycle through the `tenantry` CLI, against the suite's real database.

Each command runs in a worker thread (it calls asyncio.run itself), while the test's own loop keeps
the app alive to check through the API what the CLI did.
"""

import asyncio
import json
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from typer.testing import CliRunner, Result

from tenantry.core.settings import get_settings
from tenantry.core.tenancy.context import Tenant
from tenantry.platform.cli import app
from tests.fixtures.app import unique_slug
from tests.fixtures.identity import Account, login
from tests.fixtures.smtp import SmtpSink
from tests.platform.conftest import TENANTS, eventually

PASSWORD = "a long and unusual passphrase"


@pytest.fixture(autouse=True)
def cli_environment(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    smtp_sink: SmtpSink,
    signing_key_pem: str,
    tmp_path: Path,
) -> Iterator[None]:
    """The CLI reads its settings from the environment, like in production."""
    for name, value in {
        "TENANTRY_ENV": "test",
        "TENANTRY_DATABASE_URL": database_url,
        "TENANTRY_SIGNING_KEYS": signing_key_pem,
        "TENANTRY_SMTP_HOST": smtp_sink.host,
        "TENANTRY_SMTP_PORT": str(smtp_sink.port),
        "TENANTRY_SMTP_TLS": "none",
        "TENANTRY_DATA_DIR": str(tmp_path),
        "TENANTRY_LOG_FORMAT": "json",
    }.items():
        monkeypatch.setenv(name, value)
    logging_config = structlog.get_config()
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
    structlog.configure(**logging_config)  # the CLI points logs at stderr


async def cli(*args: str, input: str | None = None) -> Result:
    runner = CliRunner()
    return await asyncio.to_thread(lambda: runner.invoke(app, list(args), input=input))


def output(result: Result) -> Any:
    assert result.exit_code == 0, (result.exit_code, result.output)
    return json.loads(result.stdout)


async def test_operator_then_a_tenant_from_create_to_purge(
    client: httpx.AsyncClient, smtp_sink: SmtpSink, platform_tenant: Tenant, tmp_path: Path
) -> None:
    email = f"ops-{unique_slug()}@ops.example"
    weak = await cli("operators", "create", "--email", email, "--password-stdin", input="short\n")
    assert weak.exit_code == 1
    assert "password" in weak.output
    made = output(
        await cli("operators", "create", "--email", email, "--password-stdin", "--json",
                  input=f"{PASSWORD}\n")
    )  # fmt: skip
    assert made["email"] == email
    operator = await login(client, Account(platform_tenant, made["id"], email, PASSWORD))
    assert (await client.get(TENANTS, headers=operator.headers)).status_code == 200
    listed = output(await cli("operators", "list", "--json"))
    assert email in [item["email"] for item in listed["operators"]]

    slug = unique_slug("cli")
    created = output(
        await cli("tenants", "create", "--slug", slug, "--name", "CLI Org",
                  "--admin-email", f"boss@{slug}.example", "--setting", "lockout_threshold=5",
                  "--json")
    )  # fmt: skip
    assert (created["slug"], created["invitation_sent"]) == (slug, True)
    assert created["settings"]["lockout_threshold"] == 5
    await smtp_sink.wait_for(f"boss@{slug}.example")

    found = output(await cli("tenants", "list", "--search", slug, "--json"))
    assert [item["slug"] for item in found["items"]] == [slug]
    shown = output(await cli("tenants", "show", slug, "--json"))
    assert (shown["user_count"], shown["schema_current"]) == (0, True)
    human = await cli("tenants", "show", slug)
    assert human.exit_code == 0
    assert slug in human.stdout

    refused = await cli("tenants", "update", slug, "--setting", "password_min_length=3", "--json")
    assert refused.exit_code == 1
    assert json.loads(refused.stdout)["fields"][0]["loc"] == [
        "body", "settings", "password_min_length",
    ]  # fmt: skip
    renamed = unique_slug("cli2")
    assert (
        output(await cli("tenants", "update", slug, "--rename", renamed, "--json"))["slug"]
        == renamed
    )

    suspended = output(await cli("tenants", "suspend", renamed, "--json"))
    assert suspended["status"] == "suspended"
    answer = await eventually(
        lambda: client.get("/.well-known/jwks.json", headers={"X-Tenant": renamed}), 403
    )
    assert answer.status_code == 403
    assert (await cli("tenants", "suspend", renamed)).exit_code == 1
    assert output(await cli("tenants", "resume", renamed, "--json"))["status"] == "active"

    export_file = tmp_path / "export.json"
    exported = await cli("tenants", "export", renamed, "-o", str(export_file))
    assert exported.exit_code == 0, exported.output
    assert stat.S_IMODE(export_file.stat().st_mode) == 0o600
    assert json.loads(export_file.read_text())["tenant"]["slug"] == renamed

    deleted = output(await cli("tenants", "delete", renamed, "--yes", "--json"))
    assert deleted["status"] == "deleting"
    in_grace = await cli("tenants", "purge", renamed, "--yes")
    assert in_grace.exit_code == 1
    assert "grace period" in in_grace.output
    assert output(await cli("tenants", "purge", renamed, "--force", "--yes", "--json"))["purged"]
    gone = await cli("tenants", "show", renamed)
    assert gone.exit_code == 1
    assert "No tenant" in gone.output

    copy = unique_slug("cli3")
    imported = output(await cli("tenants", "import", str(export_file), "--slug", copy, "--json"))
    assert (imported["slug"], imported["settings"]["lockout_threshold"]) == (copy, 5)


async def test_db_commands_report_the_fleet() -> None:
    status = output(await cli("db", "status", "--json"))
    assert status["behind"] == []
    assert status["tenants"] >= 1
    upgraded = output(await cli("db", "upgrade", "--json"))
    assert upgraded["failed"] == {}
    assert upgraded["upgraded"] == 0


async def test_clear_failures() -> None:
    missing = await cli("tenants", "show", "no-such-tenant", "--json")
    assert missing.exit_code == 1
    assert json.loads(missing.stdout)["error"] == "tenant_not_found"
    bad = await cli("tenants", "create", "--slug", "acme", "--name", "X", "--admin-email", "nope")
    assert bad.exit_code == 1
    assert "admin_email" in bad.output
    short = await cli(
        "tenants", "create", "--slug", "x", "--name", "X", "--admin-email", "a@b.example"
    )
    assert short.exit_code == 1
    assert "Invalid slug" in short.output
    unreadable = await cli("tenants", "import", "/nonexistent/export.json")
    assert unreadable.exit_code == 2


COMMANDS = [
    [], ["serve"], ["dev"], ["db"], ["db", "upgrade"], ["db", "status"], ["operators"],
    ["operators", "create"], ["operators", "list"], ["tenants"],
    *[["tenants", name] for name in ("create", "list", "show", "update", "suspend", "resume",
                                     "delete", "purge", "export", "import")],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "tenantry")
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_missing_database_url_is_a_clear_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENANTRY_DATABASE_URL")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["tenants", "list"])
    assert result.exit_code == 2
    assert "TENANTRY_DATABASE_URL" in result.output
