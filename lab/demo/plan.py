"""What `lab demo` races, checked before anything starts: every mistake is one line (`DemoError`).

demo_plan = plan("pool")            # the scenario's own burst (60 x 200 ms) and twins
demo_plan = plan("sleep", 20, 100, "broken,sync")
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from lab.durations import duration
from lab.errors import BurstError, DemoError, LabError
from lab.load.burst import check_url as burst_check_url
from lab.load.compare import check_compare_arguments
from lab.scenarios import SCENARIOS, VARIANTS, Scenario

__all__ = ["DemoPlan", "check_save_path", "check_url", "parse_seconds", "plan"]

MAX_DEMO_REQUESTS = 200  # more bars than a screen can show in groups that still read as waves
MAX_SERIALIZED_S = 60.0  # the broken twin takes requests x delay: keep a demo shorter than a minute
SAVE_SUFFIXES = (".svg", ".html", ".htm", ".json")  # a frame for slides, or the whole race to replay


@dataclass(frozen=True)
class DemoPlan:
    scenario: Scenario
    requests: int
    delay_ms: int
    variants: tuple[str, ...]

    def caption(self, variant: str) -> str:
        return self.scenario.demo.captions[variant]

    @property
    def takeaway(self) -> str:
        return self.scenario.explain(self.requests, self.delay_ms)


def plan(
    scenario: str = "sleep",
    requests: int | None = None,
    delay_ms: int | None = None,
    variants: str | None = None,
) -> DemoPlan:
    """The demo to run, with the scenario's own defaults; every mistake is a one-line `DemoError`."""
    if scenario not in SCENARIOS:
        raise DemoError(f"unknown scenario {scenario!r}: choose one of {', '.join(SCENARIOS)}", usage=True)
    book = SCENARIOS[scenario].demo
    requests = book.requests if requests is None else requests
    delay_ms = book.delay_ms if delay_ms is None else delay_ms
    if requests > MAX_DEMO_REQUESTS:
        raise DemoError(f"requests must be between 2 and {MAX_DEMO_REQUESTS} for a demo, got {requests}", usage=True)
    try:
        chosen = check_compare_arguments(scenario, requests, delay_ms)
    except LabError as exc:
        raise DemoError(str(exc), usage=True) from None
    if requests * delay_ms / 1000 > MAX_SERIALIZED_S:
        raise DemoError(
            f"{requests} requests x {delay_ms} ms would keep the broken twin busy for "
            f"{duration(requests * delay_ms / 1000)}: keep it under {MAX_SERIALIZED_S:.0f} s",
            usage=True,
        )
    names = book.variants if variants is None else tuple(v.strip() for v in variants.split(",") if v.strip())
    unknown = [v for v in names if v not in VARIANTS]
    if unknown or not names or len(set(names)) != len(names):
        raise DemoError(
            f"--variants takes distinct names among {', '.join(VARIANTS)} (comma-separated), got {variants!r}",
            usage=True,
        )
    return DemoPlan(chosen, requests, delay_ms, names)


def check_url(url: str) -> str:
    """The base URL of a running server, or a usage error (the burst engine's own URL check)."""
    try:
        burst_check_url(url)
    except BurstError:
        raise DemoError(
            f"--url must be a server's http(s) address like http://127.0.0.1:8000, got {url!r}", usage=True
        ) from None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def check_save_path(path: Path) -> Path:
    """Refuse, before the demo starts, a file the final frame could not be written to."""
    if path.suffix.lower() not in SAVE_SUFFIXES:
        raise DemoError(
            f"--save writes .svg or .html (the final frame) or .json (the whole race) files, got {str(path)!r}",
            usage=True,
        )
    if path.is_dir():
        raise DemoError(f"--save cannot write {str(path)!r}: it is a directory", usage=True)
    if not path.parent.is_dir():
        raise DemoError(f"--save cannot write {str(path)!r}: there is no directory {str(path.parent)!r}", usage=True)
    # Try it for real: permission bits do not tell root, nor a read-only or special file system.
    existed = path.exists()
    try:
        with path.open("a"):
            pass
    except OSError as exc:
        raise DemoError(f"--save cannot write {str(path)!r}: {exc.strerror or exc}", usage=True) from None
    if not existed:
        path.unlink()
    return path


def parse_seconds(text: str) -> float | None:
    """A guess as the room says it: "1", "1.5 s", "300ms", "2 seconds". Bare numbers are seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|sec|secs|seconds?)?\s*", text.lower())
    if match is None:
        return None
    value = float(match.group(1))
    seconds = value / 1000 if match.group(2) == "ms" else value
    return seconds if 0 < seconds <= 3600 else None
