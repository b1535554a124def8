"""The `lab` commands for the exercises: list, run, check, hint, solution, reset, watch.

Each command parses its arguments, calls `lab.catalog` / `lab.checker` / `lab.progress`, prints
through `lab.render_exercise`, and sets the exit code: 0 passed, 1 not passed (or a lab problem),
2 a usage mistake such as an unknown exercise id. Heavy modules are imported inside the commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:
    from lab.catalog import Catalog, Exercise
    from lab.checker import CheckResult
    from lab.progress import Progress, ProgressStore

EXERCISE_HELP = "The exercise: 3, exercise-3 or its file name (default: the current one)."


def _fail(message: str, code: int = 1) -> NoReturn:
    from lab.cli import fail  # not at the top: lab.cli imports this module while it starts

    fail(message, code)


def _warn(message: str) -> None:
    typer.echo(f"warning: {message}", err=True)


def _open_catalog() -> Catalog:
    from lab.catalog import CatalogError, load_catalog
    from lab.progress import Workspace

    try:
        catalog = load_catalog()
    except CatalogError as exc:
        _fail(str(exc))
    # The fallback pristine copy for `lab reset` outside git: taken the first time the lab sees each file.
    Workspace(catalog.root).keep_originals([e.path for e in catalog.exercises])
    return catalog


def _store(catalog: Catalog) -> tuple[ProgressStore, Progress]:
    from lab.progress import ProgressStore

    store = ProgressStore(catalog.root)
    progress = store.load()
    if store.warning:
        _warn(store.warning)
    return store, progress


def _resolve(catalog: Catalog, ref: str | None, progress: Progress) -> Exercise:
    from lab.catalog import UnknownExercise
    from lab.cli import EXIT_USAGE
    from lab.progress import current_exercise

    if ref is None:
        exercise = current_exercise(catalog, progress)
        if exercise is None:
            _fail("every exercise is done: name one to revisit it, e.g. `lab check 1`", EXIT_USAGE)
        return exercise
    try:
        return catalog.resolve(ref)
    except UnknownExercise as exc:
        _fail(str(exc), EXIT_USAGE)


def _check(exercise: Exercise) -> CheckResult:
    from lab.checker import CheckError, check_exercise

    try:
        return check_exercise(exercise)
    except CheckError as exc:
        _fail(str(exc))


def _record(store: ProgressStore, catalog: Catalog, result: CheckResult) -> None:
    from lab.progress import ProgressError, record

    try:
        record(store, catalog, result.exercise, result.passed)
    except ProgressError as exc:
        _warn(f"progress not saved: {exc}")


def _console() -> Any:
    from rich.console import Console

    return Console()


def _list_row(exercise: Exercise, progress: Progress) -> dict[str, Any]:
    return {"id": exercise.id, "title": exercise.title, "file": exercise.file, "done": exercise.id in progress.done}


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""

    @app.command("list")
    def list_exercises(
        as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of a table.")] = False,
    ) -> None:
        """List the exercises, and which are done."""
        from lab.cli import print_json

        catalog = _open_catalog()
        _, progress = _store(catalog)
        if as_json:
            print_json([_list_row(e, progress) for e in catalog.exercises])
            return
        from lab.render_exercise import exercise_list

        _console().print(exercise_list(catalog, progress))

    @app.command()
    def run(exercise: Annotated[str | None, typer.Argument(help=EXERCISE_HELP)] = None) -> None:
        """Walk through an exercise: your code and the solution under the same burst, side by side."""
        from lab.render_exercise import walkthrough

        catalog = _open_catalog()
        store, progress = _store(catalog)
        chosen = _resolve(catalog, exercise, progress)
        console = _console()
        with console.status(f"Starting your {chosen.file} and the solution, then firing the burst…"):
            result = _check(chosen)
        _record(store, catalog, result)
        console.print(walkthrough(result))
        if not result.passed:
            raise typer.Exit(1)

    @app.command()
    def check(
        exercise: Annotated[str | None, typer.Argument(help=EXERCISE_HELP)] = None,
        all_: Annotated[bool, typer.Option("--all", help="Check every exercise, in order.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    ) -> None:
        """Check an exercise: exit 0 when it passes (and mark it done), 1 when it does not."""
        from lab.cli import EXIT_USAGE, print_json
        from lab.render_exercise import check_report, verdict_line

        catalog = _open_catalog()
        store, progress = _store(catalog)
        if all_ and exercise is not None:
            _fail("give an exercise or --all, not both", EXIT_USAGE)
        chosen = list(catalog.exercises) if all_ else [_resolve(catalog, exercise, progress)]
        from lab.checker import CheckError, check_exercise

        console = _console()
        data: list[dict[str, Any]] = []
        for item in chosen:
            try:
                result = check_exercise(item)
            except CheckError as exc:
                if not all_:
                    _fail(str(exc))
                typer.echo(f"error: {exc}", err=True)  # the lab's fault: say so, and go on with the others
                data.append({"exercise": item.id, "title": item.title, "passed": False, "verdict": "lab error"})
                data[-1]["reasons"] = [str(exc)]
                continue
            _record(store, catalog, result)
            data.append(result.to_json())
            if not as_json:
                console.print(verdict_line(result) if all_ else check_report(result))
        passed = sum(1 for row in data if row["passed"])
        if as_json:
            print_json({"results": data, "passed": passed, "total": len(data)} if all_ else data[0])
        elif all_:
            console.print(f"{passed} of {len(data)} exercises pass.")
        if passed < len(data):
            raise typer.Exit(1)

    @app.command()
    def hint(exercise: Annotated[str | None, typer.Argument(help=EXERCISE_HELP)] = None) -> None:
        """Show one more hint for an exercise each time you ask."""
        from lab.progress import ProgressError
        from lab.render_exercise import hint_text

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
            _warn(f"progress not saved: {exc}")
        _console().print(hint_text(chosen, shown))

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
                _fail(
                    f"{chosen.id} is not passed yet: try `lab hint {chosen.id}`, pass `lab check {chosen.id}`, "
                    "or add --force to look anyway"
                )
            _warn(f"showing the solution of {chosen.id} before you passed it: reading is not the same as solving")
        try:
            text = chosen.solution_path.read_text(encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot read {chosen.solution_path}: {exc.strerror or exc}")
        from rich.syntax import Syntax

        console = _console()
        console.print(f"# solutions/{chosen.file}", style="bold")
        console.print(Syntax(text, "python", line_numbers=True) if console.is_terminal else text, end="")

    @app.command()
    def reset(exercise: Annotated[str, typer.Argument(help="The exercise to restore: 3, exercise-3, ...")]) -> None:
        """Restore an exercise file to its original text; your version is kept as a backup."""
        from lab.progress import ProgressError, Workspace

        catalog = _open_catalog()
        _, progress = _store(catalog)
        chosen = _resolve(catalog, exercise, progress)
        try:
            backup = Workspace(catalog.root).reset(chosen.path)
        except ProgressError as exc:
            _fail(str(exc))
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
        from lab.render_exercise import check_report
        from lab.watch import watch_exercises

        catalog = _open_catalog()
        store, progress = _store(catalog)
        start = _resolve(catalog, exercise, progress)
        console = _console()

        def announce(item: Exercise) -> None:
            console.rule(f"{item.id}: {item.title}")
            console.print(item.lesson, style="italic")

        def report(result: CheckResult) -> None:
            console.print(check_report(result))
            if not result.passed:
                console.print(f"Watching exercises/{result.exercise.file}: save it to check again.", style="dim")

        from lab.checker import CheckError

        try:
            finished = watch_exercises(catalog, store, start, report=report, announce=announce, poll=poll)
        except KeyboardInterrupt:  # Ctrl-C during a check: its servers are already stopped
            finished = False
        except CheckError as exc:
            _fail(str(exc))
        console.print("Every exercise passes. Well done!" if finished else "Stopped watching.")
