"""`lab demo probes` from its options to its last line: the probe race, live in the terminal or on the page.

    run_probe_demo(DemoOptions(scenario="probes", save=Path("probes.svg")), console, show)

The options a burst race takes and this one does not (`-n`, `--variants`, `--pause`, `--step`, `--replay`,
a `.json` save) are one usage line each, before a server starts. The page (`--web`) is served by this
process, as the burst race's is, and fed the probe race's JSON (`probe_race_json`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lab.demo.plan import check_save_path, check_url
from lab.demo.probe_race import ProbeDemo, ProbeDemoPlan
from lab.errors import DemoError
from lab.view.demo import SAVE_WIDTH, export
from lab.view.probe_demo import probe_frame

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

    from lab.demo.session import DemoOptions

__all__ = ["check_probe_options", "run_probe_demo"]


def check_probe_options(options: DemoOptions) -> None:
    """What `lab demo probes` does not take: one usage line each."""
    given = [
        name
        for name, value in (
            ("-n", options.requests),
            ("--variants", options.variants),
            ("--replay", options.replay),
        )
        if value is not None
    ]
    given += [name for name, on in (("--pause", options.pause), ("--step", options.step)) if on]
    if given:
        raise DemoError(
            f"lab demo probes runs steady traffic, not a burst: {', '.join(given)} do not apply", usage=True
        )
    if options.save is not None:
        check_save_path(options.save)
        if options.save.suffix.lower() == ".json":
            raise DemoError("lab demo probes saves its final frame: --save takes .svg or .html", usage=True)


def run_probe_demo(options: DemoOptions, screen: Console, show: Callable[[RenderableType], None]) -> None:
    """The probe race, shown live (terminal or page), then its final frame and what --save asked for."""
    from lab.demo.session import say

    check_probe_options(options)
    url = None if options.url is None else check_url(options.url)
    plan = ProbeDemoPlan() if options.delay_ms is None else ProbeDemoPlan(delay_ms=_delay(options.delay_ms))
    live = options.live and not options.web and screen.is_interactive
    runner = ProbeDemo(plan, screen, live=live, url=url)
    say(f"lab demo probes: each twin under {plan.rate:g} requests/s for {plan.duration_s:g} s, the kubelet probing")
    if options.web:
        _on_the_web(runner, options, lambda: _finish(runner, options, screen, show))
    else:
        runner.run()
        _finish(runner, options, screen, show)


def _finish(runner: ProbeDemo, options: DemoOptions, screen: Console, show: Callable[[RenderableType], None]) -> None:
    from lab.demo.session import say

    view = runner.snapshot()
    show(probe_frame(view, width=screen.width))
    if options.save is None:
        return
    save = options.save
    try:
        export(probe_frame(view, width=SAVE_WIDTH), save)
    except OSError as exc:
        raise DemoError(f"--save could not write {str(save)!r}: {exc.strerror or exc}") from None
    say(f"lab demo probes: saved the final frame to {save}")


def _delay(delay_ms: int) -> int:
    if not 1 <= delay_ms <= 1000:
        raise DemoError(f"--delay-ms must be between 1 and 1000 for lab demo probes, got {delay_ms}", usage=True)
    return delay_ms


def _on_the_web(runner: ProbeDemo, options: DemoOptions, finish: Callable[[], None]) -> None:
    from lab.demo.session import VIEWER_WAIT_S, PageServer, linger, say
    from lab.demo.web import ProbeFeed

    feed = ProbeFeed(runner.snapshot)
    with PageServer(feed, options.port or 0, open_page=options.open_page) as url:
        if not feed.wait_for_viewer(VIEWER_WAIT_S):
            say("lab demo probes: nobody opened the page; racing anyway")
        runner.run()
        finish()
        linger(url)
