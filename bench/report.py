"""The results table (Markdown), machine facts, and where they are written."""

import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from bench.wrk import WrkResult

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Row:
    """One line of the table. `passed` is None for reference rows that carry no goal."""

    scenario: str
    result: WrkResult | None
    baseline: str = "-"
    ratio: float | None = None
    goal: str = "-"
    passed: bool | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.passed is None:
            return "reference"
        return "pass" if self.passed else "**FAIL**"


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| scenario | req/s | p50 ms | p99 ms | errors | baseline | ratio | goal | result |",
        "| --- | ---: | ---: | ---: | --- | --- | ---: | --- | --- |",
    ]
    for row in rows:
        measured = row.result
        cells = [
            row.scenario,
            f"{measured.rps:.1f}" if measured else "-",
            _ms(measured.p50_ms) if measured else "-",
            _ms(measured.p99_ms) if measured else "-",
            measured.error_summary() if measured else "-",
            row.baseline,
            f"{row.ratio:.2f}" if row.ratio is not None else "-",
            row.goal,
            row.verdict,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' (uncommitted changes)' if dirty else ''}"


def machine_facts(postgres_version: str, wrk_version: str) -> dict[str, str]:
    return {
        "cpu": f"{os.cpu_count()} x {cpu_model()}",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": postgres_version,
        "load generator": f"{wrk_version}, on the same cores as the server and PostgreSQL",
        "commit": git_revision(),
    }


def render(
    rows: Sequence[Row], facts: dict[str, str], settings: dict[str, str], notes: Sequence[str]
) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"# Tenantry benchmarks, {stamp}", "", table(rows), ""]
    row_notes = [f"- {row.scenario}: {note}" for row in rows for note in row.notes]
    row_notes += [
        f"- {row.scenario}: {row.result.cpu.describe(row.result.rps)}"
        for row in rows
        if row.result is not None and row.result.cpu is not None
    ]
    if row_notes or notes:
        parts += ["Notes:", "", *[f"- {note}" for note in notes], *row_notes, ""]
    parts += ["Machine:", ""]
    parts += [f"- {name}: {value}" for name, value in facts.items()]
    parts += ["", "Run:", ""]
    parts += [f"- {name}: {value}" for name, value in settings.items()]
    return "\n".join(parts) + "\n"


def write(markdown: str, results_dir: Path = RESULTS_DIR) -> tuple[Path, Path]:
    """bench/results/latest.md, and a timestamped copy under bench/results/history/."""
    history = results_dir / "history"
    history.mkdir(parents=True, exist_ok=True)
    latest = results_dir / "latest.md"
    latest.write_text(markdown, encoding="utf-8")
    stamped = history / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.md"
    stamped.write_text(markdown, encoding="utf-8")
    return latest, stamped
