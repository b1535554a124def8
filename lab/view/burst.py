"""A burst's report and a comparison's: results in, tables and timelines out (`lab burst`, `lab compare`)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from lab.durations import counted, duration
from lab.load.measure import Sample
from lab.load.verdict import process_pool, site_sentence, unawaited_sentence
from lab.protocol import ServerStats
from lab.view.theme import verdict_style

if TYPE_CHECKING:
    from lab.load.burst import BurstResult
    from lab.load.compare import Comparison
    from lab.protocol import ServerStats

BAR_WIDTH = 50
MIN_STALL_S = 0.001  # a site charged less than this rounds to "0 ms": nothing to name


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
        bar = Text(" " * begin) + _phases(sample, begin, length, scale)
        status = str(sample.status) if sample.status is not None else (sample.error or "error")
        table.add_row(f"#{sample.index + 1}", bar, f"{duration(sample.latency_s)} {status}")
    if len(shown) < len(ordered):
        table.add_row("", Text(f"({len(shown)} of {len(ordered)} requests shown, evenly spaced)", style="dim"), "")
    return table


def _phases(sample: Sample, begin: int, length: int, scale: float) -> Text:
    """One request's bar: queued (░) until its handler ran, in the handler (█), answering (▒) after,
    from the server's own stamps; a server without them gives one solid bar."""
    style = "green" if sample.ok else "red"
    if sample.handler_start_s is None or sample.handler_end_s is None:
        return Text("█" * length, style=style)
    queued = min(length - 1, max(0, round(sample.handler_start_s * scale) - begin))
    handled = min(length - queued, max(1, round(sample.handler_end_s * scale) - begin - queued))
    return (
        Text("░" * queued, style="yellow")
        + Text("█" * handled, style=style)
        + Text("▒" * (length - queued - handled), style="cyan" if sample.ok else "red")
    )


def verdict_text(result: BurstResult) -> Text:
    verdict = result.verdict
    text = Text("verdict: ") + Text(str(verdict), style=verdict_style(verdict.kind))
    if verdict.reasons:
        text += Text(" — " + "; ".join(verdict.reasons), style="dim")
    return text


def summary_table(result: BurstResult) -> Table:
    """The layout users of hey and oha expect: totals, latency percentiles, status codes."""
    table = Table(title=f"{result.method} {result.url}", title_justify="left", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    rows = _client_rows(result)
    if result.server is not None:
        rows += _server_rows(result.server, result.summary.pids)
    for name, value in rows:
        table.add_row(name, value)
    return table


def _client_rows(result: BurstResult) -> list[tuple[str, str]]:
    """What the client saw: counts, wall time, latencies, status codes, errors."""
    s = result.summary
    lat = s.latency
    rows = [
        ("Requests", f"{result.requests} ({result.concurrency} at a time)"),
        ("Total (wall)", duration(s.wall_s)),
        ("Slowest", duration(lat.max if lat else None)),
        ("Fastest", duration(lat.min if lat else None)),
        ("Average", duration(lat.mean if lat else None)),
        ("Requests/sec", f"{s.requests_per_s:,.1f}"),
        ("p50 / p95 / p99", " / ".join(duration(v) for v in ((lat.p50, lat.p95, lat.p99) if lat else (None,) * 3))),
        ("Status codes", ", ".join(f"[{code}] {n}" for code, n in s.status_counts.items()) or "-"),
    ]
    if s.errors:
        rows.append(("Errors", ", ".join(f"{kind}: {n}" for kind, n in s.errors.items())))
    return rows


def _server_rows(server: ServerStats, pids: int) -> list[tuple[str, str]]:
    """What a lab server saw of the same burst (`pids`: how many worker processes answered)."""
    rows = []
    if pids > 1:  # each worker process keeps its own readings: say whose these are
        rows.append(("Server: processes", _workers_text(server.workers, pids)))
    rows += [
        ("Server: in a handler", in_handlers(server)),
        ("Server: max loop lag", _lag_text(server)),
        ("Server: thread tokens", f"{server.thread_tokens_peak} of {server.thread_tokens_total} at peak"),
    ]
    waiting = _waiting_text(server)
    if waiting:
        rows.append(("Server: waiting", waiting))
    if server.blocking and server.blocking[0].stalled_s >= MIN_STALL_S:
        rows.append(("Server: blocking line", site_sentence(server.blocking[0])))
    rows += [("Server: never awaited", unawaited_sentence(coroutine)) for coroutine in server.unawaited[:3]]
    if server.threadpools:
        rows.append(("Server: intra-op threads", intra_op_text(server)))
    return rows


def _waiting_text(server: ServerStats) -> str:
    """What requests waited for at the server: a thread token, a process of the pool ("" if nothing)."""
    waiting = []
    if server.peak_token_waiters:
        waiting.append(f"up to {counted(server.peak_token_waiters, 'request')} for a thread token")
    busy, for_process = process_pool(server)
    if for_process:
        waiting.append(f"up to {for_process} for one of {busy} processes")
    return "; ".join(waiting)


def _workers_text(read: int, answered: int) -> str:
    """ "2 answered; the readings below are from 1 of them": each worker process keeps its own."""
    if read >= answered:
        return f"{answered} answered; the readings below are from all of them (peaks and lag: the busiest one's)"
    return f"{answered} answered; the readings below are from {read} of them only (each keeps its own)"


def in_handlers(server: ServerStats) -> str:
    """ "12 at once (30 inside the app)": handlers really running, beside requests merely inside."""
    if not server.peak_in_handler:
        return f"{counted(server.peak_in_flight, 'request')} inside the app at once"
    text = f"{counted(server.peak_in_handler, 'request')} at once"
    if server.peak_in_flight > server.peak_in_handler:
        text += f" ({server.peak_in_flight} inside the app)"
    return text


def _lag_text(server: ServerStats) -> str:
    """The worst lag, and how much of the lateness was the machine's (it ran none of the server's threads)."""
    text = f"{duration(server.loop_lag_max_s)}, the longest single stall"
    if server.loop_lag_starved_s >= 0.05:
        text += (
            f" ({duration(server.loop_lag_judged_s)} leaving out {duration(server.loop_lag_starved_s)} in which the"
            " machine ran no thread of the server)"
        )
    return text


def intra_op_text(server: ServerStats, cores: int | None = None) -> str:
    """Each native pool's threads per call, times the processes that run it, against the cores.

    `openblas (blas): 2 threads x 2 processes = 4 on 2 cores`: every request thread of every worker can
    start that many, so more than the cores is oversubscribed even before FastAPI's own threads.
    """
    cores = cores or os.cpu_count() or 1
    groups = Counter((p.library, p.api, p.threads) for p in server.threadpools)
    parts = []
    for (library, api, threads), processes in sorted(groups.items()):
        total = f" x {processes} processes = {threads * processes}" if processes > 1 else ""
        parts.append(f"{library} ({api}): {threads} thread{'s' if threads != 1 else ''}{total}")
    return "; ".join(parts) + f" on {cores} cores"


def burst_report(result: BurstResult) -> RenderableType:
    return Group(
        summary_table(result),
        Text(""),
        Text(
            "Timeline (each bar: one request, from the shared start; ░ queued, █ in its handler, ▒ answering)",
            style="bold",
        ),
        timeline(result.samples, result.summary.wall_s),
        Text(""),
        verdict_text(result),
    )


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
        server = result.server
        speedup = comparison.speedup(name)
        verdict = Text(str(result.verdict), style=verdict_style(result.verdict.kind))
        table.add_row(
            name,
            duration(result.summary.wall_s),
            duration(lat.p50 if lat else None),
            duration(lat.max if lat else None),
            "-" if server is None else str(server.peak_in_handler or server.peak_in_flight),
            duration(None if server is None else server.loop_lag_max_s),
            "-" if speedup is None else f"{speedup:.1f}x",
            verdict,
        )
    return table


def comparison_report(comparison: Comparison) -> RenderableType:
    parts: list[RenderableType] = [
        Text(comparison.scenario.summary, style="italic"),
        comparison_table(comparison),
        Text(
            "overlap: most requests in a handler at once (their endpoint running); lag: worst event-loop delay",
            style="dim",
        ),
        Text(""),
    ]
    for name, result in comparison.variants.items():
        parts += [
            Text(f"/{comparison.scenario.name}/{name}", style="bold"),
            timeline(result.samples, _longest(comparison)),
        ]
    explanation = comparison.scenario.explain(comparison.requests, comparison.delay_ms)
    parts += [Text(""), Text("Why: ", style="bold") + Text(explanation)]
    servers = [r.server for r in comparison.variants.values() if r.server is not None and r.server.threadpools]
    if servers:
        parts.append(Text("Intra-op threads: ", style="bold") + Text(intra_op_text(servers[-1])))
    note = comparison.scenario.gil_note()
    if note is not None:
        parts.append(Text("Free-threaded: ", style="bold yellow") + Text(note))
    return Group(*parts)


def _longest(comparison: Comparison) -> float:
    """One time scale for every timeline, so bars compare across variants."""
    return max(result.summary.wall_s for result in comparison.variants.values())
