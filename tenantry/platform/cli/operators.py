"""`tenantry operators ...`: platform operators, who log in with `X-Tenant: platform`."""

from typing import Annotated, Any

import typer
from rich.table import Table

from tenantry.core.database import Database
from tenantry.core.tenancy.context import PLATFORM_TENANT_SLUG
from tenantry.platform.cli.common import JsonFlag, cli_settings, console, emit, out, run, validated
from tenantry.platform.identity import standalone_identities
from tenantry.platform.operators.schemas import OperatorCreate, OperatorRead
from tenantry.platform.operators.service import operator_service
from tenantry.platform.tenants.lifecycle import tenant_lifecycle

app = typer.Typer(help="Manage platform operators.", no_args_is_help=True)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line, as `printf '%s\n' "$PASSWORD" | tenantry operators create ...` gives it.
        return typer.get_text_stream("stdin").readline().rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return password


@app.command()
def create(
    email: Annotated[str, typer.Option(help="The operator's email; their login name.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
    display_name: Annotated[str | None, typer.Option(help="A name to show.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Add an operator: a verified user of the platform tenant holding the operator role."""
    settings = cli_settings()
    body: OperatorCreate = validated(
        OperatorCreate, {"email": email, "display_name": display_name}, as_json=as_json
    )
    password = read_password(password_stdin)
    identities = standalone_identities(settings)

    async def work(database: Database) -> dict[str, Any]:
        async with database.platform_session() as session:
            platform = await tenant_lifecycle.get_by_slug(session, PLATFORM_TENANT_SLUG)
        tenant = platform.to_tenant()
        async with database.tenant_transaction(tenant.schema) as session:
            user = await operator_service.create(
                session, identities(tenant), email=str(body.email), password=password,
                display_name=body.display_name,
            )  # fmt: skip
            return OperatorRead.model_validate(user).model_dump(mode="json")

    operator = run(settings, work, as_json=as_json)
    emit(operator, as_json=as_json, human=lambda: console.print(
        f"operator {operator['email']} created; log in with the header X-Tenant: "
        f"{PLATFORM_TENANT_SLUG}"
    ))  # fmt: skip


@app.command("list")
def list_(as_json: JsonFlag = False) -> None:
    """List the operators."""
    settings = cli_settings()

    async def work(database: Database) -> list[dict[str, Any]]:
        async with database.platform_session() as session:
            platform = await tenant_lifecycle.get_by_slug(session, PLATFORM_TENANT_SLUG)
        async with database.tenant_session(platform.schema_name) as session:
            users = await operator_service.list(session)
            return [OperatorRead.model_validate(u).model_dump(mode="json") for u in users]

    operators = run(settings, work, as_json=as_json)

    def human() -> None:
        table = Table("email", "name", "status", "last login")
        for item in operators:
            table.add_row(item["email"], item["display_name"] or "", item["status"],
                          (item["last_login_at"] or "never")[:19])  # fmt: skip
        out.print(table)

    emit({"operators": operators}, as_json=as_json, human=human)
