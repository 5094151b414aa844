"""What every `tenantry` command shares: settings, a database for one run, output and errors.

Data goes to stdout (a Rich table, or JSON with `--json`); progress, messages and logs go to
stderr, so that `tenantry ... --json | jq` always reads clean JSON. Exit codes: 0 done, 1 refused
or failed (the message says why), 2 misconfigured (no database URL, unreadable input).
"""

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Annotated, Any, NoReturn, TypeVar

import structlog
import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from tenantry.core.database import Database, create_engine
from tenantry.core.errors import TenantryError, ValidationFailed
from tenantry.core.observability.logging import configure_logging
from tenantry.core.settings import Settings, get_settings

console = Console(stderr=True)  # messages
out = Console(highlight=False, soft_wrap=True)  # data

T = TypeVar("T")
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def cli_settings() -> Settings:
    settings = get_settings()
    if settings.database_url is None:
        console.print("[red]TENANTRY_DATABASE_URL is not set.[/red]")
        raise typer.Exit(2)
    configure_logging(settings)
    # Logs to stderr: stdout is for the command's output.
    structlog.configure(logger_factory=lambda *_: structlog.PrintLogger(sys.stderr))
    return settings


def fail(
    code: str,
    detail: str,
    *,
    as_json: bool,
    fields: Sequence[Mapping[str, Any]] = (),
    exit_code: int = 1,
) -> NoReturn:
    if as_json:
        body: dict[str, Any] = {"error": code, "detail": detail}
        if fields:
            body["fields"] = list(fields)
        typer.echo(json.dumps(body))
    else:
        console.print(f"[red]error:[/red] {detail}", highlight=False)
        for field in fields:
            where = ".".join(str(part) for part in field.get("loc", ()) if part != "body")
            console.print(f"  {where}: {field.get('msg')}", highlight=False)
    raise typer.Exit(exit_code)


def run(settings: Settings, work: Callable[[Database], Awaitable[T]], *, as_json: bool) -> T:
    """Run `work` on a database opened for this command; domain errors end the command."""

    async def runner() -> T:
        database = Database(create_engine(settings))
        try:
            return await work(database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(runner())
    except ValidationFailed as exc:
        fail(exc.code, exc.detail, as_json=as_json, fields=exc.fields)
    except TenantryError as exc:
        fail(exc.code, exc.detail, as_json=as_json)


def validated(model: type[BaseModel], values: Mapping[str, Any], *, as_json: bool) -> Any:
    """`model` from command-line values, or the same field errors the API would give."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        fields = [
            {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
            for error in exc.errors(include_input=False)
        ]
        fail("validation_error", "The input is invalid.", as_json=as_json, fields=fields)


def parse_settings(pairs: Sequence[str], *, as_json: bool) -> dict[str, Any]:
    """`--setting key=value`: the value is read as JSON when it parses (numbers, true, lists),
    else taken as a string (`signup=open`); `key=null` returns a setting to its default."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            fail("invalid_setting", f"--setting wants key=value, got {pair!r}", as_json=as_json,
                 exit_code=2)  # fmt: skip
        try:
            parsed[key.strip()] = json.loads(raw)
        except ValueError:
            parsed[key.strip()] = raw
    return parsed


def emit(data: BaseModel | Mapping[str, Any], *, as_json: bool, human: Callable[[], None]) -> None:
    if as_json:
        payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
        typer.echo(json.dumps(payload, default=str))
    else:
        human()


def key_values(rows: Sequence[tuple[str, object]]) -> Table:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, "" if value is None else str(value))
    return table
