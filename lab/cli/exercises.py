"""The `lab` commands for the exercises: list, run, check, hint, solution, reset, watch.

Each command parses its arguments, calls `lab.course.catalog` / `lab.course.check` / `lab.course.progress`, prints
through `lab.view.course`, and sets the exit code: 0 passed, 1 not passed (or a lab problem),
2 a usage mistake such as an unknown exercise id. Heavy modules are imported inside the commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from lab.cli.output import EXIT_USAGE, console, fail, print_json, reporting, show, warn

if TYPE_CHECKING:
    from lab.course.catalog import Catalog, Exercise
    from lab.course.progress import Progress, ProgressStore
    from lab.course.results import CheckResult

app = typer.Typer()

EXERCISE_HELP = "The exercise: 3, exercise-3 or its file name (default: the current one)."


def _open_catalog() -> Catalog:
    from lab.course.catalog import load_catalog
    from lab.course.progress import Workspace

    with reporting():
        catalog = load_catalog()
    # The fallback pristine copy for `lab reset` outside git: taken the first time the lab sees each file.
    Workspace(catalog.root).keep_originals([e.path for e in catalog.exercises])
    return catalog


def _store(catalog: Catalog) -> tuple[ProgressStore, Progress]:
    from lab.course.progress import ProgressStore

    store = ProgressStore(catalog.root)
    progress = store.load()
    if store.warning:
        warn(store.warning)
    return store, progress


def _resolve(catalog: Catalog, ref: str | None, progress: Progress) -> Exercise:
    from lab.course.progress import current_exercise

    if ref is None:
        exercise = current_exercise(catalog, progress)
        if exercise is None:
            fail("every exercise is done: name one to revisit it, e.g. `lab check 1`", EXIT_USAGE)
        return exercise
    with reporting():
        return catalog.resolve(ref)


def _check(exercise: Exercise) -> CheckResult:
    from lab.course.check import check_exercise

    with reporting():
        return check_exercise(exercise)


def _record(store: ProgressStore, catalog: Catalog, result: CheckResult) -> None:
    from lab.course.progress import record
    from lab.errors import ProgressError

    try:
        record(store, catalog, result.exercise, result.passed)
    except ProgressError as exc:
        warn(f"progress not saved: {exc}")


def _list_row(exercise: Exercise, progress: Progress) -> dict[str, Any]:
    return {"id": exercise.id, "title": exercise.title, "file": exercise.file, "done": exercise.id in progress.done}


@app.command("list")
def list_exercises(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
) -> None:
    """List the exercises, and which are done."""

    catalog = _open_catalog()
    _, progress = _store(catalog)
    if as_json:
        print_json([_list_row(e, progress) for e in catalog.exercises])
        return
    from lab.view.course import exercise_list

    show(exercise_list(catalog, progress))


@app.command()
def run(exercise: Annotated[str | None, typer.Argument(help=EXERCISE_HELP)] = None) -> None:
    """Walk through an exercise: your code and the solution under the same burst, side by side."""
    from lab.view.course import walkthrough

    catalog = _open_catalog()
    store, progress = _store(catalog)
    chosen = _resolve(catalog, exercise, progress)
    screen = console()
    with screen.status(f"Starting your {chosen.file} and the solution, then firing the burst…"):
        result = _check(chosen)
    _record(store, catalog, result)
    show(walkthrough(result), on=screen)
    if not result.passed:
        raise typer.Exit(1)


@app.command()
def check(
    exercise: Annotated[str | None, typer.Argument(help=EXERCISE_HELP)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Check every exercise, in order.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Check an exercise: exit 0 when it passes (and mark it done), 1 when it does not."""
    from lab.view.course import check_report, verdict_line

    catalog = _open_catalog()
    store, progress = _store(catalog)
    if all_ and exercise is not None:
        fail("give an exercise or --all, not both", EXIT_USAGE)
    chosen = list(catalog.exercises) if all_ else [_resolve(catalog, exercise, progress)]
    from lab.course.check import check_exercise
    from lab.errors import CheckError

    screen = console()
    data: list[dict[str, Any]] = []
    for item in chosen:
        try:
            result = check_exercise(item)
        except CheckError as exc:
            if not all_:
                fail(str(exc))
            typer.echo(f"error: {exc}", err=True)  # the lab's fault: say so, and go on with the others
            data.append({"exercise": item.id, "title": item.title, "passed": False, "verdict": "lab error"})
            data[-1]["reasons"] = [str(exc)]
            continue
        _record(store, catalog, result)
        data.append(result.to_json())
        if not as_json:
            show(verdict_line(result) if all_ else check_report(result), on=screen)
    passed = sum(1 for row in data if row["passed"])
    if as_json:
        print_json({"results": data, "passed": passed, "total": len(data)} if all_ else data[0])
    elif all_:
        show(f"{passed} of {len(data)} exercises pass.", on=screen)
    if passed < len(data):
        raise typer.Exit(1)


@app.command()
def hint(exercise: Annotated[str | None, typer.Argument(help=EXERCISE_HELP)] = None) -> None:
    """Show one more hint for an exercise each time you ask."""
    from lab.errors import ProgressError
    from lab.view.course import hint_text

    catalog = _open_catalog()
    store, progress = _store(catalog)
    chosen = _resolve(catalog, exercise, progress)
    if not chosen.hints:
        typer.echo(f"{chosen.id} has no hints: {chosen.lesson}")
        return
    shown = min(len(chosen.hints), progress.hints_shown.get(chosen.id, 0) + 1)
    progress.hints_shown[chosen.id] = shown
    try:
        store.save(progress)
    except ProgressError as exc:
        warn(f"progress not saved: {exc}")
    show(hint_text(chosen, shown))


@app.command()
def solution(
    exercise: Annotated[str | None, typer.Argument(help=EXERCISE_HELP)] = None,
    force: Annotated[bool, typer.Option("--force", help="Show it even though you have not passed yet.")] = False,
) -> None:
    """Show the solution of an exercise you have passed."""
    catalog = _open_catalog()
    _, progress = _store(catalog)
    chosen = _resolve(catalog, exercise, progress)
    if chosen.id not in progress.done:
        if not force:
            fail(
                f"{chosen.id} is not passed yet: try `lab hint {chosen.id}`, pass `lab check {chosen.id}`, "
                "or add --force to look anyway"
            )
        warn(f"showing the solution of {chosen.id} before you passed it: reading is not the same as solving")
    try:
        text = chosen.solution_path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"cannot read {chosen.solution_path}: {exc.strerror or exc}")
    from lab.view.course import solution_view

    screen = console()
    show(solution_view(chosen.file, text, highlight=screen.is_terminal), on=screen)


@app.command()
def reset(exercise: Annotated[str, typer.Argument(help="The exercise to restore: 3, exercise-3, ...")]) -> None:
    """Restore an exercise file to its original text; your version is kept as a backup."""
    from lab.course.progress import Workspace
    from lab.errors import ProgressError

    catalog = _open_catalog()
    _, progress = _store(catalog)
    chosen = _resolve(catalog, exercise, progress)
    try:
        backup = Workspace(catalog.root).reset(chosen.path)
    except ProgressError as exc:
        fail(str(exc))
    typer.echo(f"restored exercises/{chosen.file} to its original text")
    if backup is not None:
        typer.echo(f"your version is saved as {backup}")


@app.command()
def watch(
    exercise: Annotated[str | None, typer.Argument(help=EXERCISE_HELP)] = None,
    poll: Annotated[
        bool | None,
        typer.Option("--poll/--no-poll", help="Look for saves by polling (when file events never arrive)."),
    ] = None,
) -> None:
    """Re-check the current exercise each time you save it; move on when it passes (Ctrl-C stops)."""
    from lab.course.watch import watch_exercises
    from lab.view.course import check_report, exercise_banner, watching_line

    catalog = _open_catalog()
    store, progress = _store(catalog)
    start = _resolve(catalog, exercise, progress)
    screen = console()

    def announce(item: Exercise) -> None:
        show(exercise_banner(item), on=screen)

    def report(result: CheckResult) -> None:
        show(check_report(result), on=screen)
        if not result.passed:
            show(watching_line(result.exercise), on=screen)

    from lab.errors import CheckError

    try:
        finished = watch_exercises(catalog, store, start, report=report, announce=announce, poll=poll)
    except KeyboardInterrupt:  # Ctrl-C during a check: its servers are already stopped
        finished = False
    except CheckError as exc:
        fail(str(exc))
    show("Every exercise passes. Well done!" if finished else "Stopped watching.", on=screen)
