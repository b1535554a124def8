"""The scan benchmark: `lab scan` over a 30-route app, as a user runs it (its own process). Target: <= 15 s.

    python -m bench.scan

The app (written to a temporary folder): 24 clean `async def` routes awaiting 10 ms, 3 `def` routes with a path
parameter drawn from the schema, 3 `async def` routes blocking 20 ms each. The floor is the bursts themselves
(each route's own wall time, summed): what any scan that bursts every route must spend. The rest is per route
(one request alone, the burst's warm-up, the server's read-outs) and once (a server's start, the schema,
Hypothesis' import, stopping it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import Figure, record

TARGET_S = 15.0
ROUTES = 30
CLEAN, WITH_PARAMETER, BLOCKING = 24, 3, 3

HEAD = """
import asyncio
import time

from fastapi import FastAPI

app = FastAPI()
"""
CLEAN_ROUTE = """

@app.get("/clean/{i}")
async def clean_{i}() -> dict:
    await asyncio.sleep(0.01)
    return {{}}
"""
PARAMETER_ROUTE = """

@app.get("/items{i}/{{item_id}}")
def item_{i}(item_id: int, kind: str) -> dict:
    return {{"id": item_id, "kind": kind}}
"""
BLOCKING_ROUTE = """

@app.get("/blocking/{i}")
async def blocking_{i}() -> dict:
    time.sleep(0.02)
    return {{}}
"""


def write_app(folder: Path) -> Path:
    parts = [HEAD]
    parts += [CLEAN_ROUTE.format(i=i) for i in range(CLEAN)]
    parts += [PARAMETER_ROUTE.format(i=i) for i in range(WITH_PARAMETER)]
    parts += [BLOCKING_ROUTE.format(i=i) for i in range(BLOCKING)]
    path = folder / "thirty.py"
    path.write_text("".join(parts))
    return path


def main() -> None:
    print(f"\n== lab scan, a {ROUTES}-route app ==")
    with tempfile.TemporaryDirectory() as folder:
        app = write_app(Path(folder))
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "lab", "scan", str(app), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        wall_s = time.perf_counter() - started
    report = json.loads(done.stdout)
    routes = report["routes"]
    scanned = [r for r in routes if r["scanned"]]
    bursts_s = sum(r["burst_wall_s"] for r in scanned)
    per_route_s = sum(r["took_s"] for r in scanned) / len(scanned)
    blocking = sorted(r["path"] for r in routes if r["finding"] and r["finding"]["blocks"])
    print(
        f"{len(scanned)} of {len(routes)} routes scanned, {len(blocking)} blocking ({', '.join(blocking)}); "
        f"per route {per_route_s * 1000:.0f} ms (its burst alone {bursts_s / len(scanned) * 1000:.0f} ms); "
        f"once per scan {wall_s - per_route_s * len(scanned):.2f} s (start, schema, stop, the command's imports)"
    )
    if len(blocking) != BLOCKING or len(scanned) != ROUTES:
        print(f"MISSED: expected {BLOCKING} blocking routes of {ROUTES} scanned")
    record(
        Figure(
            f"`lab scan`, a {ROUTES}-route app ({BLOCKING} blocking)",
            f"{wall_s:.2f} s, {per_route_s * 1000:.0f} ms a route",
            f"<= {TARGET_S:.0f} s",
            wall_s <= TARGET_S and len(blocking) == BLOCKING and len(scanned) == ROUTES,
            f"bursts {bursts_s:.2f} s",
            wall_s / bursts_s,
        )
    )


if __name__ == "__main__":
    main()
    from bench.report import FIGURES

    for figure in FIGURES:
        print(figure.line())
