"""Query parameters shared by the scenarios, bounded so that no request can hold a server for long."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from lab.scenarios import MAX_CPU_MS, MAX_DELAY_MS

DelayMs = Annotated[int, Query(ge=0, le=MAX_DELAY_MS, description="How long the handler waits, in ms.")]
CpuMs = Annotated[int, Query(ge=0, le=MAX_CPU_MS, description="About how long the CPU work takes, in ms.")]
