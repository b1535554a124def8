"""The exercise views (lab.view.course), rendered to plain text at a fixed width."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from lab.course.catalog import load_catalog
from lab.view.course import fit_pipe, hint_text, solution_view

FIXTURE_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "exercises"


def render(renderable: object, width: int) -> str:
    console = Console(width=width, record=True, force_terminal=False, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_a_wrapped_hint_keeps_its_indent() -> None:
    exercise = load_catalog(FIXTURE_ROOT).exercises[0]
    lines = render(hint_text(exercise, 2), width=45).splitlines()  # not the last hint: no closing sentence
    indent = lines[1].index(":") + 2  # where a hint's own text starts, after "  hint 1/3: "
    continuations = [line for line in lines[1:] if line.strip() and not line.startswith("  hint ")]
    assert continuations, "some hint of the fixture must wrap at 45 columns"
    for line in continuations:
        assert line[:indent].strip() == "" and line[indent] != " ", lines


def test_fit_pipe_widens_only_consoles_that_are_not_terminals() -> None:
    wide = "x" * 150
    piped = Console(width=80, force_terminal=False)
    fit_pipe(piped, wide)
    assert piped.width >= 150
    terminal = Console(width=80, force_terminal=True)
    fit_pipe(terminal, wide)
    assert terminal.width == 80


def _failed_check(blocking: tuple[object, ...], unawaited: tuple[object, ...] = ()) -> object:
    from lab.course.grade import Check, Measurement
    from lab.course.results import CheckResult, Run
    from lab.load.measure import summarize

    exercise = load_catalog(FIXTURE_ROOT).exercises[0]
    measurement = Measurement(requests=4, ok=4, wall_s=0.8, blocking=blocking, unawaited=unawaited)  # type: ignore[arg-type]
    run = Run(exercise.path, [], summarize([]), measurement, None, 5.0)
    check = Check("loop_lag", False, "the event loop was blocked")
    return CheckResult(exercise, exercise.path, False, [check.reason], [check], learner=run, solution=run)


def test_a_failed_check_names_the_line_found_at_run_time_and_a_dropped_coroutine() -> None:
    from lab.protocol import BlockingSite, UnawaitedCoroutine
    from lab.view.course import check_report

    site = BlockingSite("/x/exercise_01_sleep.py", 36, "predict", "time.sleep(0.2)", "time.sleep(...)", 3.9, 0.97)
    dropped = UnawaitedCoroutine("sleep", "/x/exercise_01_sleep.py", 40, "predict", "asyncio.sleep(1)", 4)
    text = render(check_report(_failed_check((site,), (dropped,))), width=120)  # type: ignore[arg-type]
    assert (
        "runtime: exercise_01_sleep.py:36 `time.sleep(...)` held the event loop 3,900 ms in all "
        "(97% of the stalled time)" in text
    )
    assert "runtime: exercise_01_sleep.py:40 `asyncio.sleep(1)` made a coroutine never awaited (4 times)" in text
    # A stall this short is a busy machine's noise, not a line to fix: not shown.
    short = BlockingSite("/x/exercise_01_sleep.py", 36, "predict", "x()", "x(...)", 0.03, 1.0)
    assert "runtime:" not in render(check_report(_failed_check((short,))), width=120)  # type: ignore[arg-type]


def test_a_probed_run_shows_what_the_kubelet_decided_and_a_burst_does_not() -> None:
    from lab.course.grade import Measurement
    from lab.course.results import Run
    from lab.load.kubelet import Attempt, replay
    from lab.load.measure import summarize
    from lab.load.probes import parse_probe
    from lab.view.course import comparison_table

    liveness = parse_probe("liveness=/health,period=1s,timeout=1s,failures=3")
    timeouts = [Attempt("liveness", "/health", float(i), None, "timeout", 1.0) for i in range(4)]
    probed = Measurement(requests=4, ok=4, wall_s=0.8, kubelet=replay((liveness,), timeouts, end_s=5.0))
    run, burst = (Run(Path("x.py"), [], summarize([]), m, None, 5.0) for m in (probed, Measurement(4, 4, 0.8)))
    text = render(comparison_table(run, burst), width=100)
    assert "kubelet restarts       1" in text and "liveness failed        4 of 4" in text
    assert "kubelet" not in render(comparison_table(burst, burst), width=100)


def test_a_solution_on_an_80_column_terminal_is_highlighted_and_never_wrapped() -> None:
    source = "def f() -> None:\n    x = 1  # " + "a comment far wider than the terminal " * 4 + "\n    return None\n"
    console = Console(width=80, record=True, force_terminal=True, color_system="truecolor")
    console.print(solution_view("f.py", source, highlight=True), crop=False)
    assert console.export_text(clear=False) == "# solutions/f.py\n" + source
    assert "\x1b[" in console.export_text(styles=True)  # highlighted


def test_peak_in_handlers_counts_the_bursts_own_requests_not_the_probe() -> None:
    from dataclasses import replace

    from lab.course.results import Run
    from lab.view.course import comparison_table

    result = _failed_check(())
    learner = result.learner  # type: ignore[attr-defined]
    # 20 requests of the burst in their handler, and the /health probe beside them: 21 inside the app.
    counted = replace(
        learner, measurement=replace(learner.measurement, peak_in_flight=21, peak_in_handler=20, probe_s=0.01)
    )
    older = replace(
        learner, measurement=replace(learner.measurement, peak_in_flight=21, peak_in_handler=0, probe_s=0.01)
    )
    text = render(comparison_table(counted, older), width=120)
    row = next(line for line in text.splitlines() if line.startswith("peak in handlers"))
    assert row.split()[3:] == ["20", "21", "inside", "the", "app,", "the", "probe", "included"], row
    assert isinstance(counted, Run)


def _run(samples: list[object]) -> object:
    from lab.course.grade import Measurement
    from lab.course.results import Run
    from lab.load.measure import summarize

    exercise = load_catalog(FIXTURE_ROOT).exercises[0]
    summary = summarize(samples)  # type: ignore[arg-type]
    measurement = Measurement(requests=len(samples), ok=len(samples), wall_s=summary.wall_s)
    return Run(exercise.path, samples, summary, measurement, None, 5.0)  # type: ignore[arg-type]


def test_requests_each_slower_but_the_burst_sooner_are_said_to_be_parallel() -> None:
    from lab.load.measure import Sample
    from lab.view.course import each_slower_all_sooner

    # Exercise 13 on a busy machine: 8 predictions taking turns on the loop, or all 8 at once on 2 cores.
    turns = _run([Sample(i, 0.0, 0.13 * (i + 1), 200) for i in range(8)])
    together = _run([Sample(i, 0.0, 0.8 + 0.01 * i, 200) for i in range(8)])
    note = each_slower_all_sooner(turns, together)  # type: ignore[arg-type]
    assert note == (
        "The solution: each request took longer (p50 835 ms against 585 ms), yet its burst ended sooner (870 ms "
        "against 1,040 ms): its requests ran at the same time, sharing the cores, so each took longer than alone "
        "and all of them finished sooner than taking turns."
    )
    assert str(each_slower_all_sooner(together, turns)).startswith("Your code: each request took longer")  # type: ignore[arg-type]
    # Faster in both, or slower in both: nothing to explain.
    assert each_slower_all_sooner(together, together) is None  # type: ignore[arg-type]
    quick = _run([Sample(i, 0.0, 0.2, 200) for i in range(8)])
    assert each_slower_all_sooner(turns, quick) is None  # type: ignore[arg-type]
