"""The `lab` commands for the exercises: list, run, check, hint, solution, reset, watch.

Each command parses its arguments, opens the course (`lab.course.course.Course`: the catalog, the progress
store, the current exercise), makes one call into it, and prints through `lab.view.course`. A `LabError`
ends the command in one line (`lab.cli.usage.LabGroup`): 2 for a usage mistake such as an unknown exercise
id, 1 otherwise; a check that does not pass exits 1. Heavy modules are imported inside the commands.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lab.cli.output import EXIT_INTERRUPTED, EXIT_USAGE, console, fail, interrupt_on_sigterm, print_json, show, warn
from lab.cli.usage import complete_exercise

if TYPE_CHECKING:
    from collections.abc import Callable

    from lab.course.catalog import Exercise
    from lab.course.course import Course
    from lab.course.results import CheckResult

app = typer.Typer()

EXERCISE_HELP = "The exercise: 3, exercise-3 or its file name (default: the current one)."
ExerciseArgument = Annotated[str | None, typer.Argument(help=EXERCISE_HELP, autocompletion=complete_exercise)]
INTERRUPTED = "interrupted: the servers this check started have been stopped"


def _course() -> Course:
    from lab.course.course import Course

    return Course.open(warn=warn)


@app.command("list")
def list_exercises(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
) -> None:
    """List the exercises, and which are done."""
    course = _course()
    if as_json:
        done = course.progress.done
        print_json(
            [{"id": e.id, "title": e.title, "file": e.file, "done": e.id in done} for e in course.catalog.exercises]
        )
        return
    from lab.view.course import exercise_list, fit_pipe

    screen, table = console(), exercise_list(course.catalog, course.progress)
    fit_pipe(screen, table)
    show(table, on=screen)


@app.command()
def run(exercise: ExerciseArgument = None) -> None:
    """Walk through an exercise: your code and the solution under the same burst, side by side."""
    from lab.view.course import walkthrough

    course = _course()
    chosen = course.exercise(exercise)
    screen = console()
    try:
        with (
            interrupt_on_sigterm(),
            screen.status(f"Starting your {chosen.file} and the solution, then firing the burst…"),
        ):
            result = course.check(chosen)
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP: the check's servers are stopped by now
        fail(INTERRUPTED, EXIT_INTERRUPTED)
    course.record(result)
    show(walkthrough(result), on=screen)
    _say_next(course, chosen, result.passed)
    if not result.passed:
        raise typer.Exit(1)


@app.command()
def check(
    exercise: ExerciseArgument = None,
    all_: Annotated[bool, typer.Option("--all", help="Check every exercise, in order.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    junit: Annotated[
        Path | None, typer.Option(help="Also write a JUnit XML report (one test case per exercise) to this file.")
    ] = None,
    gradescope: Annotated[
        Path | None, typer.Option(help="Also write Gradescope's results.json (read by `lab class report`).")
    ] = None,
) -> None:
    """Check an exercise: exit 0 when it passes (and mark it done), 1 when it does not."""
    from lab.course.report_files import check_writable, write_reports

    check_writable(junit, gradescope)  # before any check runs: a usage error now, not after 30 s
    course = _course()
    if all_ and exercise is not None:
        fail("give an exercise or --all, not both", EXIT_USAGE)
    chosen = list(course.catalog.exercises) if all_ else [course.exercise(exercise)]
    screen = console()
    rows = [
        _check_one(course, item, (position, len(chosen)), all_, None if as_json else partial(show, on=screen))
        for position, item in enumerate(chosen, 1)
    ]
    passed = sum(1 for row in rows if row["passed"])
    write_reports(rows, junit, gradescope)
    if as_json:
        print_json({"results": rows, "passed": passed, "total": len(rows)} if all_ else rows[0])
    elif all_:
        show(f"{passed} of {len(rows)} exercises pass.", on=screen)
    else:
        _say_next(course, chosen[0], rows[0]["passed"])
    if passed < len(rows):
        raise typer.Exit(1)


def _check_one(
    course: Course, item: Exercise, place: tuple[int, int], all_: bool, say: Callable[[Any], None] | None
) -> dict[str, Any]:
    """One exercise of `lab check [--all]`: its row of the report, its verdict passed to `say` (None: --json).

    With --all, a check the lab could not run is said in one line and the others go on; and the learner
    stays on their exercise (`move=False`), since --all visits every one.
    """
    from lab.errors import CheckError
    from lab.view.course import check_report, checking, verdict_line

    try:
        with checking(item, *place), interrupt_on_sigterm():
            result = course.check(item)
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP: the check's servers are stopped by now
        fail(INTERRUPTED, EXIT_INTERRUPTED)
    except CheckError as exc:
        if not all_:
            raise
        typer.echo(f"error: {exc}", err=True)  # the lab's fault: say so, and go on with the others
        return {
            "exercise": item.id,
            "title": item.title,
            "passed": False,
            "verdict": "lab error",
            "reasons": [str(exc)],
        }
    course.record(result, move=not all_)
    if say is not None:
        say(verdict_line(result) if all_ else check_report(result))
    return result.to_json()


def _say_next(course: Course, exercise: Exercise, passed: bool) -> None:
    """After a single check that passed: where the learner was moved, so the move is never silent."""
    if not passed:
        return
    following = course.progress.current
    where = f"next: {following}" if following else "every exercise passes"
    typer.echo(f"{where} (`lab solution` shows {exercise.id}'s reference solution)")


@app.command()
def hint(exercise: ExerciseArgument = None) -> None:
    """Show one more hint for an exercise each time you ask."""
    from lab.view.course import hint_text

    course = _course()
    chosen = course.exercise(exercise)
    if not chosen.hints:
        typer.echo(f"{chosen.id} has no hints: {chosen.lesson}")
        return
    show(hint_text(chosen, course.next_hint(chosen), passed=course.passed(chosen)))


@app.command()
def solution(
    exercise: ExerciseArgument = None,
    force: Annotated[bool, typer.Option("--force", help="Show it even though you have not passed yet.")] = False,
) -> None:
    """Show the solution of an exercise you have passed (default: the one that just passed, else the current one)."""
    course = _course()
    chosen = course.solution_exercise(exercise)
    text = course.solution(chosen, force=force)
    screen = console()
    if not screen.is_terminal:  # raw, never wrapped: `lab solution 1 --force > file.py` is the file itself
        typer.echo(text, nl=False)
        return
    from lab.view.course import solution_view

    show(solution_view(chosen.file, text, highlight=screen.is_terminal), on=screen, crop=False)


@app.command()
def reset(exercise: ExerciseArgument = None) -> None:
    """Restore an exercise file to its original text; your version is kept as a backup."""
    course = _course()
    chosen = course.exercise(exercise)
    existed = chosen.path.is_file()
    backup = course.reset(chosen)
    if existed and backup is None:
        typer.echo(f"exercises/{chosen.file} is already its original text: nothing to restore")
        return
    typer.echo(f"restored exercises/{chosen.file} to its original text")
    if backup is not None:
        typer.echo(f"your version is saved as {backup}")


@app.command()
def watch(
    exercise: ExerciseArgument = None,
    poll: Annotated[
        bool | None,
        typer.Option("--poll/--no-poll", help="Look for saves by polling (when file events never arrive)."),
    ] = None,
) -> None:
    """Re-check the current exercise each time you save it; move on when it passes (Ctrl-C stops)."""
    from lab.view.course import check_report, exercise_banner, watching_line

    course = _course()
    start = course.exercise(exercise)
    screen = console()
    if poll is None:
        from lab.course.watch import polling_reason

        reason = polling_reason(start.path)
        if reason is not None:
            warn(f"{reason}: polling for saves instead (--no-poll to wait for events)")
            poll = True

    def announce(item: Exercise) -> None:
        show(exercise_banner(item), on=screen)

    def report(result: CheckResult) -> None:
        show(check_report(result), on=screen)
        if not result.passed:
            show(watching_line(result.exercise), on=screen)

    try:
        with interrupt_on_sigterm():
            finished = course.watch(start, report=report, announce=announce, poll=poll)
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP during a check: its servers are already stopped
        finished = False
    show("Every exercise passes. Well done!" if finished else "Stopped watching.", on=screen)
