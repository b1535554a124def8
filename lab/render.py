"""Rendering: the only module that builds rich renderables. Results in, tables and timelines out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lab.measure import Sample

if TYPE_CHECKING:
    from lab.burst import BurstResult
    from lab.compare import Comparison

VERDICT_STYLES = {"concurrent": "bold green", "serialized": "bold red", "waves": "bold yellow"}
BAR_WIDTH = 50


def ms(seconds: float | None) -> str:
    """Milliseconds below 10 s, seconds above: short enough for narrow tables."""
    if seconds is None:
        return "-"
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def timeline(
    samples: Sequence[Sample], wall_s: float, width: int = BAR_WIDTH, label_width: int = 5, max_rows: int = 20
) -> Table:
    """One bar per request over the burst: a staircase when serialized, stacked bars when concurrent.

    Rows are ordered by when each response came back, so a serialized burst reads as a staircase.
    Above `max_rows` requests, evenly spaced rows stand for the rest (the caption says so).
    """
    ordered = sorted(samples, key=lambda s: (s.end_s, s.index))
    shown = ordered
    if len(ordered) > max_rows:
        step = (len(ordered) - 1) / (max_rows - 1)
        shown = [ordered[round(i * step)] for i in range(max_rows)]
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right", width=label_width, style="dim")
    table.add_column(width=width + 1, no_wrap=True)
    table.add_column(justify="right", style="dim", no_wrap=True)
    scale = width / wall_s if wall_s > 0 else 0.0
    for sample in shown:
        begin = round(sample.start_s * scale)
        length = max(1, round(sample.end_s * scale) - begin)
        style = "green" if sample.ok else "red"
        bar = Text(" " * begin) + Text("█" * length, style=style)
        status = str(sample.status) if sample.status is not None else (sample.error or "error")
        table.add_row(f"#{sample.index + 1}", bar, f"{ms(sample.latency_s)} {status}")
    if len(shown) < len(ordered):
        table.add_row("", Text(f"({len(shown)} of {len(ordered)} requests shown, evenly spaced)", style="dim"), "")
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


EXPLANATIONS = {
    "sleep": (
        "The broken handler is `async def` but calls `time.sleep`. An `async def` handler runs on the event-loop "
        "thread, and `time.sleep` never gives that thread back, so the server cannot even read the next request "
        "until this one is done: {n} requests take {n} x {d} ms. `def` works because FastAPI runs it in a worker "
        "thread; `async def` + `await asyncio.sleep` works because awaiting hands the loop to the other requests."
    ),
    "predict": (
        "The broken /predict is `async def` with a blocking call (a synchronous SDK, simulated by `time.sleep`). It "
        "holds the event loop for the whole call, so requests are served one at a time: {n} x {d} ms. Either make the "
        "handler `def` (a worker thread blocks instead of the loop) or await an async client."
    ),
    "cpu": (
        "CPU-bound Python in `async def` blocks the event loop: one request at a time. Moving it to `def` keeps the "
        "server answering (other requests, /health) but is no faster: threads take turns holding the GIL. Only "
        "separate processes (a process pool made in the lifespan, or more workers) compute in parallel, up to the "
        "number of cores."
    ),
    "pool": (
        "`asyncio.to_thread` looks right but uses asyncio's default executor, min(32, cores + 4) threads, not "
        "AnyIO's pool of 40 tokens that `def` handlers use: a large burst runs in small waves. Above 40 requests even "
        "`def` handlers run in waves. A limiter sized for your load removes the waves."
    ),
    "downstream": (
        "The broken handler calls the feature store with a synchronous HTTP client inside `async def`: the event loop "
        "waits for each call, so the store sees one request at a time. One `AsyncClient`, made in the lifespan and "
        "awaited, lets every call wait at once."
    ),
}


def comparison_table(comparison: Comparison) -> Table:
    table = Table(
        title=f"{comparison.scenario.name}: {comparison.requests} requests at once, {comparison.delay_ms} ms each",
        title_justify="left",
        box=box.SIMPLE_HEAD,  # no vertical rules, one space of padding: fits an 80-column terminal
        padding=(0, 1, 0, 0),
        pad_edge=False,
    )
    for column in ("variant", "wall", "p50", "max", "overlap", "lag", "speedup", "verdict"):
        left = column in ("variant", "verdict")
        table.add_column(column, justify="left" if left else "right", no_wrap=column != "verdict")
    for name, result in comparison.variants.items():
        lat = result.summary.latency
        server = result.server or {}
        speedup = comparison.speedup(name)
        verdict = Text(str(result.verdict), style=VERDICT_STYLES.get(result.verdict.kind, "bold"))
        table.add_row(
            name,
            ms(result.summary.wall_s),
            ms(lat.p50 if lat else None),
            ms(lat.max if lat else None),
            str(server.get("peak_in_flight", "-")),
            ms(server.get("loop_lag_max_s")),
            "-" if speedup is None else f"{speedup:.1f}x",
            verdict,
        )
    return table


def comparison_report(comparison: Comparison) -> RenderableType:
    parts: list[RenderableType] = [
        Text(comparison.scenario.summary, style="italic"),
        comparison_table(comparison),
        Text("overlap: most requests in the server's handlers at once; lag: worst event-loop delay", style="dim"),
        Text(""),
    ]
    for name, result in comparison.variants.items():
        parts += [
            Text(f"/{comparison.scenario.name}/{name}", style="bold"),
            timeline(result.samples, _longest(comparison)),
        ]
    explanation = EXPLANATIONS[comparison.scenario.name].format(n=comparison.requests, d=comparison.delay_ms)
    parts += [Text(""), Text("Why: ", style="bold") + Text(explanation)]
    return Group(*parts)


def _longest(comparison: Comparison) -> float:
    """One time scale for every timeline, so bars compare across variants."""
    return max(result.summary.wall_s for result in comparison.variants.values())
