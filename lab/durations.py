"""How the lab writes a duration, everywhere: `duration(4.053)` is "4,053 ms", `duration(12.3)` is "12.3 s".

One function, so a table, a demo slide and a grading reason never show one time two ways.
"""

from __future__ import annotations

__all__ = ["duration"]


def duration(seconds: float | None) -> str:
    """Milliseconds below 10 s (with thousands separators), seconds above; "-" for no value."""
    if seconds is None:
        return "-"
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.1f} s"
