"""A learner's workspace made from the lab as it ships: `lab init` creates one, `lab update` refreshes it.

    init_workspace(Path("my-lab"))      # exercises/ (files, info.toml, README), .lab/ with what was shipped, README
    update_workspace(root)              # after upgrading the lab: new exercises in, untouched ones refreshed

The shipped course is `lab.course.catalog.shipped_root()` (the wheel's package data, or a clone's folders). A
workspace gets the exercises, never the solutions: `lab solution` and the checker read those from the package.
`.lab/shipped.json` records the hash of each file as shipped, so that `lab update` can tell a file the learner
never touched (refreshed) from one they edited (left alone). `plan_update` decides, without touching a file.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from lab.course.catalog import EXERCISES_DIR, INFO_FILE, shipped_root
from lab.course.progress import SHIPPED_FILE, STATE_DIR, make_state_dir, write_atomically
from lab.errors import LabError, ProgressError

__all__ = [
    "InitResult",
    "UpdateResult",
    "file_digest",
    "init_workspace",
    "plan_update",
    "shipped_files",
    "update_workspace",
]

README = "README.md"
README_BESIDE = "README-lab.md"  # when the folder already has a README.md of its own: that one is not touched
SHIPPED_SUFFIXES = (".py", ".toml", ".md")
Action = Literal["add", "refresh", "keep", "same"]

WORKSPACE_README = """# My concurrency lab

Made by `lab init`. Fourteen small FastAPI inference services in `exercises/`, each with one mistake real
services make (`exercises/README.md` lists them). Your progress lives in `.lab/`.

Next: open `exercises/{first}` in your editor, then run

    lab check          # pass or fail, and why; a pass moves you to the next exercise

Then, whenever you like:

    lab                # where you are, and the next command
    lab list           # the exercises and which pass
    lab run            # your file and the reference solution under the same burst, side by side
    lab hint           # one more hint each time
    lab watch          # re-check on every save
    lab solution       # the reference solution, once you passed (or --force)
    lab reset          # the original file back; your version is kept in .lab/backups/
    lab update         # after upgrading the lab: new exercises added, your edits kept
"""


@dataclass(frozen=True)
class InitResult:
    root: Path
    created: tuple[str, ...] = ()  # paths relative to root; empty when the workspace was already there
    already: bool = False


@dataclass
class UpdateResult:
    added: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # edited by the learner: left alone
    unchanged: int = 0


def file_digest(path: Path) -> str | None:
    """The file's sha256, or None when there is no such file."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except (FileNotFoundError, IsADirectoryError):
        return None


def shipped_files(source: Path) -> dict[str, Path]:
    """What a workspace gets from the course at `source`: `exercises/<name>` -> the shipped file."""
    folder = source / EXERCISES_DIR
    return {
        f"{EXERCISES_DIR}/{path.name}": path
        for path in sorted(folder.iterdir())
        if path.is_file() and path.suffix in SHIPPED_SUFFIXES
    }


def is_workspace(root: Path) -> bool:
    return (root / STATE_DIR / SHIPPED_FILE).is_file() or (root / EXERCISES_DIR / INFO_FILE).is_file()


def init_workspace(target: Path, source: Path | None = None) -> InitResult:
    """Create a workspace in `target` (made if missing) beside whatever it holds; never overwrite a file."""
    target = target.resolve()
    if is_workspace(target):
        return InitResult(target, already=True)
    files = shipped_files(source or shipped_root())
    clash = next((name for name in files if (target / name).exists()), None)
    if clash is not None:
        raise LabError(f"{target / clash} already exists: run `lab init NEW_FOLDER` to start beside it", usage=True)
    readme = README_BESIDE if (target / README).exists() else README
    try:
        _write_workspace(target, files, readme)
    except (OSError, ProgressError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise LabError(f"cannot create a lab workspace in {target}: {reason}", usage=True) from None
    return InitResult(target, (*files, readme, f"{STATE_DIR}/"))


def _write_workspace(target: Path, files: dict[str, Path], readme: str) -> None:
    """The exercise files, the README, `.lab/` and in it each file's hash as shipped (what `lab update` compares)."""
    target.mkdir(parents=True, exist_ok=True)
    if not os.access(target, os.W_OK):
        raise PermissionError(13, "Permission denied")
    (target / EXERCISES_DIR).mkdir(exist_ok=True)
    for name, shipped in files.items():
        (target / name).write_bytes(shipped.read_bytes())
    first = Path(next(name for name in files if name.endswith(".py"))).name
    (target / readme).write_text(WORKSPACE_README.format(first=first), encoding="utf-8")
    make_state_dir(target / STATE_DIR)
    _save_manifest(target, {name: _digest_of(path) for name, path in files.items()})


def plan_update(recorded: dict[str, str], current: dict[str, str | None], shipped: dict[str, str]) -> dict[str, Action]:
    """What `lab update` does with each shipped file, from hashes alone.

    `recorded`: as shipped when the workspace was made or last updated; `current`: in the workspace now
    (None: no such file); `shipped`: in the lab installed now. A missing file is added (a new exercise, or
    one deleted); one equal to what ships now is the same; one equal to what was shipped before was never
    touched and is refreshed; anything else the learner wrote, and is kept.
    """
    plan: dict[str, Action] = {}
    for name, new in shipped.items():
        now = current.get(name)
        if now is None:
            plan[name] = "add"
        elif now == new:
            plan[name] = "same"
        elif now == recorded.get(name):
            plan[name] = "refresh"
        else:
            plan[name] = "keep"
    return plan


def update_workspace(root: Path, source: Path | None = None) -> UpdateResult:
    """Bring the workspace at `root` up to the lab installed now; progress and the learner's edits stay."""
    manifest = root / STATE_DIR / SHIPPED_FILE
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except FileNotFoundError:
        raise LabError(
            f"{root} was not made by `lab init` (a clone of the lab?): update a clone with `git pull`", usage=True
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LabError(f"{manifest}: cannot be read ({exc})") from None
    files = shipped_files(source or shipped_root())
    shipped = {name: _digest_of(path) for name, path in files.items()}
    plan = plan_update(recorded, {name: file_digest(root / name) for name in files}, shipped)
    result = UpdateResult()
    for name, action in plan.items():
        if action in ("add", "refresh"):
            write_atomically(root / name, files[name].read_text(encoding="utf-8"))
        if action == "keep":
            result.kept.append(name)  # still measured against the original the learner started from
            continue
        recorded[name] = shipped[name]
        {"add": result.added, "refresh": result.refreshed}.get(action, []).append(name)
        result.unchanged += action == "same"
    _save_manifest(root, recorded)
    return result


def _digest_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save_manifest(root: Path, files: dict[str, str]) -> None:
    write_atomically(
        root / STATE_DIR / SHIPPED_FILE,
        json.dumps({"version": 1, "files": dict(sorted(files.items()))}, indent=2) + "\n",
    )
