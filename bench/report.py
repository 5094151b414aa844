"""The results table (Markdown), machine facts, and where they are written."""

import os
import platform
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bench.wrk import WrkResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes

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
    label: str = ""  # short name for the chart; the scenario text when empty
    ratio_goal: float | None = None  # the goal's threshold on `ratio`, drawn on the chart

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
        # The build matters as much as the version: see `make bench` in the Makefile.
        "python": f"{platform.python_version()} ({os.path.realpath(sys.executable)})",
        "postgresql": postgres_version,
        "load generator": f"{wrk_version}, on the same cores as the server and PostgreSQL",
        "commit": git_revision(),
    }


def render(
    rows: Sequence[Row],
    facts: dict[str, str],
    settings: dict[str, str],
    notes: Sequence[str],
    *,
    when: datetime | None = None,
    chart: str | None = None,
) -> str:
    """The Markdown report; `chart` is the PNG's name next to it, shown under the table."""
    stamp = (when or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"# Tenantry benchmarks, {stamp}", "", table(rows), ""]
    if chart is not None:
        parts += [f"![chart]({chart})", ""]
    row_notes = [f"- {row.scenario}: {note}" for row in rows for note in row.notes]
    row_notes += [
        f"- {row.scenario}: {row.result.cpu.describe(row.result.rps)}"
        for row in rows
        if row.result is not None and row.result.cpu is not None
    ]
    row_notes += [
        f"- {row.scenario}: {row.result.gc}"
        for row in rows
        if row.result is not None and row.result.gc is not None
    ]
    if row_notes or notes:
        parts += ["Notes:", "", *[f"- {note}" for note in notes], *row_notes, ""]
    parts += ["Machine:", ""]
    parts += [f"- {name}: {value}" for name, value in facts.items()]
    parts += ["", "Run:", ""]
    parts += [f"- {name}: {value}" for name, value in settings.items()]
    return "\n".join(parts) + "\n"


def write(
    rows: Sequence[Row],
    facts: dict[str, str],
    settings: dict[str, str],
    notes: Sequence[str],
    results_dir: Path = RESULTS_DIR,
) -> list[Path]:
    """bench/results/latest.md and latest.png, and timestamped copies under results/history/."""
    when = datetime.now(UTC)
    history = results_dir / "history"
    history.mkdir(parents=True, exist_ok=True)
    charted = write_chart(rows, results_dir / "latest.png")
    written = []
    for directory, name in ((results_dir, "latest"), (history, when.strftime("%Y%m%dT%H%M%SZ"))):
        chart = directory / f"{name}.png"
        if charted and name != "latest":
            shutil.copyfile(results_dir / "latest.png", chart)
        markdown = render(
            rows, facts, settings, notes, when=when, chart=chart.name if charted else None
        )
        (directory / f"{name}.md").write_text(markdown, encoding="utf-8")
        written += [directory / f"{name}.md", *([chart] if charted else [])]
    return written


PASS_COLOR, FAIL_COLOR, REFERENCE_COLOR = "#4c9a2a", "#c0392b", "#8c96a0"


def write_chart(rows: Sequence[Row], path: Path) -> bool:
    """Draw the run to a PNG: each ratio against its goal, and p50/p99 of every measured row.

    Returns False, after saying why, when there is nothing to draw or drawing fails: the
    Markdown table is what a run must leave behind, minutes of measuring are not lost for a chart.
    """
    ratios = [row for row in rows if row.ratio is not None]
    timed = [row for row in rows if row.result is not None]
    if not ratios and not timed:
        return False
    try:
        # The Agg canvas directly: no pyplot, so no display backend and no global figure state.
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        panels = [panel for panel in (ratios, timed) if panel]
        figure = Figure(figsize=(11, 1.5 + 0.6 * sum(len(panel) for panel in panels)))
        FigureCanvasAgg(figure)
        axes = figure.subplots(
            len(panels), 1, squeeze=False, height_ratios=[len(panel) + 1 for panel in panels]
        )[:, 0]
        if ratios:
            _draw_ratios(axes[0], ratios)
        if timed:
            _draw_latency(axes[-1], timed)
        figure.set_layout_engine("constrained")
        figure.savefig(path, dpi=110)
    except Exception as exc:
        print(f"no chart: {type(exc).__name__}: {exc}")
        return False
    return True


def _chart_label(row: Row) -> str:
    return row.label or textwrap.shorten(row.scenario, width=40, placeholder="...")


def _color(row: Row) -> str:
    if row.passed is None:
        return REFERENCE_COLOR
    return PASS_COLOR if row.passed else FAIL_COLOR


def _draw_ratios(axes: "Axes", rows: Sequence[Row]) -> None:
    positions = range(len(rows))
    bars = axes.barh(
        positions,
        [row.ratio or 0.0 for row in rows],
        color=[_color(row) for row in rows],
        height=0.6,
    )
    axes.bar_label(bars, fmt="%.2f", padding=3)
    for position, row in zip(positions, rows, strict=True):
        if row.ratio_goal is not None:
            axes.vlines(row.ratio_goal, position - 0.4, position + 0.4, colors="black", lw=2)
            axes.annotate(
                f"goal {row.goal}", (row.ratio_goal, position + 0.4), xytext=(3, 2),
                textcoords="offset points", fontsize=8, va="top",
            )  # fmt: skip
    axes.set_yticks(list(positions), [_chart_label(row) for row in rows])
    axes.invert_yaxis()
    axes.set_xlim(0, max(max(row.ratio or 0 for row in rows), *_goals(rows)) * 1.3)
    axes.set_title(
        "ratio to the baseline of the same run (tenants: p99 at the most / at the fewest); "
        "black bar: goal; green pass, red fail, grey no goal",
        fontsize=9,
    )


def _goals(rows: Sequence[Row]) -> list[float]:
    return [row.ratio_goal for row in rows if row.ratio_goal is not None] or [0.0]


def _draw_latency(axes: "Axes", rows: Sequence[Row]) -> None:
    positions = range(len(rows))
    p50 = [row.result.p50_ms if row.result else 0.0 for row in rows]
    p99 = [row.result.p99_ms if row.result else 0.0 for row in rows]
    above = axes.barh([p - 0.2 for p in positions], p50, height=0.4, label="p50", color="#5b8def")
    below = axes.barh([p + 0.2 for p in positions], p99, height=0.4, label="p99", color="#f0a030")
    axes.bar_label(above, fmt="%.1f", padding=3, fontsize=8)
    axes.bar_label(below, fmt="%.1f", padding=3, fontsize=8)
    axes.set_yticks(list(positions), [_chart_label(row) for row in rows])
    axes.invert_yaxis()
    axes.set_xlim(0, max(*p99, 1.0) * 1.15)
    axes.set_xlabel("ms (wrk, closed loop)")
    axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes.set_title("latency per measured row: p50 and p99", fontsize=9)
