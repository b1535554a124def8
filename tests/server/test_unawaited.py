"""A coroutine that is never awaited is reported by the server, at the line that created it."""

from __future__ import annotations

import gc
from pathlib import Path

from lab.instruments import Instruments
from lab.launch.process import ServerProcess
from lab.load.burst import run_burst
from lab.server.unawaited import parse_warning

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "handlers"


def test_the_server_names_the_line_of_a_sleep_that_was_never_awaited() -> None:
    app = FIXTURES / "app_unawaited.py"
    line = next(n for n, text in enumerate(app.read_text().splitlines(), 1) if "NEVER AWAITED" in text)
    with ServerProcess(str(app)) as server:
        result = run_burst(server.url + "/skip", requests=10)
    assert result.server is not None
    (coroutine,) = result.server.unawaited
    assert (Path(coroutine.file).resolve(), coroutine.line) == (app.resolve(), line)
    assert (coroutine.name, coroutine.function) == ("sleep", "skip")
    assert coroutine.code.startswith("asyncio.sleep(0.2)")
    assert coroutine.count >= 10  # every request of the burst dropped one (the warm-ups too)
    # The human output says it too, with file and line, whatever the verdict (quick requests: often inconclusive).
    from rich.console import Console

    from lab.view.burst import burst_report

    console = Console(width=200, record=True, color_system=None)
    console.print(burst_report(result))
    text = console.export_text()
    said = (
        f"{app.name}:{line} `asyncio.sleep(0.2)` made a coroutine never awaited ({coroutine.count:,} times), in skip()"
    )
    assert f"Server: never awaited  {said}" in text
    assert any(
        r.startswith(f"the server caught {said}: the work it stands for never ran") for r in result.verdict.reasons
    )


def test_parse_warning_reads_the_origin_python_reports() -> None:
    message = (
        "coroutine 'sleep' was never awaited\nCoroutine created at (most recent call last)\n"
        '  File "/srv/app.py", line 12, in predict\n    asyncio.sleep(1)'
    )
    found = parse_warning(message, "/srv/gc.py", 99)
    assert found is not None and (found.file, found.line, found.function, found.name) == (
        "/srv/app.py",
        12,
        "predict",
        "sleep",
    )
    assert parse_warning("something else entirely", "x.py", 1) is None


def test_instruments_count_repeats_and_forget_them_on_reset() -> None:
    instruments = Instruments()
    found = parse_warning("coroutine 'sleep' was never awaited", "/srv/app.py", 5)
    assert found is not None
    for _ in range(3):
        instruments.note_unawaited(found)
    assert [c.count for c in instruments.snapshot().unawaited] == [3]
    instruments.reset()
    gc.collect()
    assert instruments.snapshot().unawaited == ()
