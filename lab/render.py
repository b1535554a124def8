"""Rendering: the only module that builds rich renderables. Results in, tables and timelines out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lab.measure import Sample

if TYPE_CHECKING:
    from lab.burst import BurstResult

VERDICT_STYLES = {"concurrent": "bold green", "serialized": "bold red", "waves": "bold yellow"}
BAR_WIDTH = 50


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.0f} ms"


def timeline(samples: Sequence[Sample], wall_s: float, width: int = BAR_WIDTH, label_width: int = 4) -> Table:
    """One bar per request over the burst: a staircase when serialized, stacked bars when concurrent."""
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right", width=label_width, style="dim")
    table.add_column(width=width + 1)
    table.add_column(justify="right", style="dim")
    scale = width / wall_s if wall_s > 0 else 0.0
    for sample in samples:
        begin = round(sample.start_s * scale)
        length = max(1, round(sample.end_s * scale) - begin)
        style = "green" if sample.ok else "red"
        bar = Text(" " * begin) + Text("█" * length, style=style)
        status = str(sample.status) if sample.status is not None else (sample.error or "error")
        table.add_row(f"#{sample.index + 1}", bar, f"{ms(sample.latency_s)} {status}")
    return table


def verdict_text(result: BurstResult) -> Text:
    verdict = result.verdict
    text = Text("verdict: ") + Text(str(verdict), style=VERDICT_STYLES.get(verdict.kind, "bold"))
    if verdict.reasons:
        text += Text(" — " + "; ".join(verdict.reasons), style="dim")
    return text


def summary_table(result: BurstResult) -> Table:
    """The layout users of hey and oha expect: totals, latency percentiles, status codes."""
    s = result.summary
    table = Table(title=f"{result.method} {result.url}", title_justify="left", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    lat = s.latency
    rows = [
        ("Requests", f"{result.requests} ({result.concurrency} at a time)"),
        ("Total (wall)", ms(s.wall_s)),
        ("Slowest", ms(lat.max if lat else None)),
        ("Fastest", ms(lat.min if lat else None)),
        ("Average", ms(lat.mean if lat else None)),
        ("Requests/sec", f"{s.requests_per_s:,.1f}"),
        ("p50 / p95 / p99", " / ".join(ms(v) for v in ((lat.p50, lat.p95, lat.p99) if lat else (None,) * 3))),
        ("Status codes", ", ".join(f"[{code}] {n}" for code, n in s.status_counts.items()) or "-"),
    ]
    if s.errors:
        rows.append(("Errors", ", ".join(f"{kind}: {n}" for kind, n in s.errors.items())))
    server = result.server
    if server is not None:
        rows += [
            ("Server: peak overlap", f"{server['peak_in_flight']} request(s) in handlers at once"),
            ("Server: max loop lag", ms(server["loop_lag_max_s"])),
            ("Server: thread tokens", f"{server['thread_tokens_peak']} of {server['thread_tokens_total']} at peak"),
        ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def burst_report(result: BurstResult) -> RenderableType:
    return Group(
        summary_table(result),
        Text(""),
        Text("Timeline (each bar: one request, from the shared start)", style="bold"),
        timeline(result.samples, result.summary.wall_s),
        Text(""),
        verdict_text(result),
    )
