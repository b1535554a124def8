"""Rates and durations as a user types them, read into numbers, or one line saying what is allowed.

    parse_rate("50")       -> 50.0 requests a second      parse_duration("30")    -> 30.0 s
    parse_rate("50/s")     -> 50.0                        parse_duration("30s")   -> 30.0
    parse_rate("3000/m")   -> 50.0                        parse_duration("2m")    -> 120.0
                                                          parse_duration("500ms") -> 0.5

Pure: no clock, no I/O. Every wrong form (0, negative, above the cap, garbage) raises a usage
`BurstError` whose message names the value and the forms that work, so the CLI ends in one line, exit 2.
The caps bound every steady run in rate and in time, as every load loop in the lab is bounded.
`parse_seconds` is the one reader of a duration's forms: probe periods and timeouts (`lab.load.probes`) and
`--grace` use it too, each with its own bounds.
"""

from __future__ import annotations

import math
import re

from lab.errors import BurstError

__all__ = ["MAX_DURATION_S", "MAX_RATE", "parse_duration", "parse_rate", "parse_seconds", "planned_sends"]

MAX_RATE = 5_000.0  # requests a second: beyond this the client, not the server, sets the schedule on 2 cores
MAX_DURATION_S = 600.0  # ten minutes: a lesson's run, not a soak test

_RATE = re.compile(r"(?P<number>[+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*(?:/\s*(?P<unit>s|sec|m|min|h))?", re.IGNORECASE)
_DURATION = re.compile(r"(?P<number>[+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*(?P<unit>ms|s|sec|m|min|h)?", re.IGNORECASE)
_PER_SECOND = {None: 1.0, "s": 1.0, "sec": 1.0, "m": 1 / 60, "min": 1 / 60, "h": 1 / 3600}
_SECONDS = {None: 1.0, "ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
RATE_FORMS = "e.g. 50, 50/s or 3000/m"
DURATION_FORMS = "e.g. 30s, 2m or 500ms"


def parse_rate(text: str) -> float:
    """Requests a second, more than 0 and at most `MAX_RATE`."""
    match = _RATE.fullmatch(text.strip())
    if match is None:
        raise BurstError(
            f"--rate {text!r} is not a rate: give requests per second or minute ({RATE_FORMS})", usage=True
        )
    rate = float(match["number"]) * _PER_SECOND[_unit(match["unit"])]
    if not 0 < rate <= MAX_RATE:
        raise BurstError(
            f"--rate must be more than 0 and at most {MAX_RATE:,.0f}/s, got {text!r} ({RATE_FORMS})", usage=True
        )
    return rate


def parse_seconds(text: str, what: str) -> float:
    """Seconds in any form a user types (`30`, `30s`, `2m`, `500ms`, `0.1h`), sign kept: the caller bounds it."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise BurstError(f"{what} {text!r} is not a duration ({DURATION_FORMS})", usage=True)
    return float(match["number"]) * _SECONDS[_unit(match["unit"])]


def parse_duration(text: str) -> float:
    """`--duration`: seconds, more than 0 and at most `MAX_DURATION_S`; a bare number is seconds."""
    seconds = parse_seconds(text, "--duration")
    if not 0 < seconds <= MAX_DURATION_S:
        raise BurstError(
            f"--duration must be more than 0 and at most {MAX_DURATION_S / 60:.0f} min, got {text!r}", usage=True
        )
    return seconds


def planned_sends(rate: float, duration_s: float) -> int:
    """How many requests the schedule sends: one every 1/rate seconds, the first at 0, all before `duration_s`.

    At least one (the one at 0), however low the rate: a run always measures something.
    """
    # 20/s for 3 s is 60, not 61: the 61st would leave at 3.0 s. The epsilon absorbs float error (0.1 x 30).
    return max(1, math.ceil(rate * duration_s - 1e-9))


def _unit(unit: str | None) -> str | None:
    return None if unit is None else unit.lower()
