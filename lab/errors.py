"""The lab's errors: one root, so every command ends the same way (one line, exit 2 or 1).

    LabError(message, usage=False)   usage=True: the caller's arguments were wrong (exit 2), else exit 1
    ├── ProtocolError                a `/lab/stats` answer that is not the lab's wire format
    ├── BurstError                   a burst that cannot be fired: bad arguments, nothing listening
    ├── ServerError                  a server that could not start, or died
    │   └── LoadError                the app's code could not be imported (names file and line)
    ├── CatalogError                 `exercises/info.toml` is missing or malformed
    │   └── UnknownExercise          no such exercise (usage)
    ├── ProgressError                `.lab/progress.json` cannot be read or written
    ├── CheckError                   the lab could not run a check (not the learner's fault)
    └── DemoError                    a demo that cannot run

Nothing here imports anything: every layer of the lab can raise these.
"""

from __future__ import annotations

__all__ = [
    "BurstError",
    "CatalogError",
    "CheckError",
    "DemoError",
    "LabError",
    "LoadError",
    "ProgressError",
    "ProtocolError",
    "ServerError",
    "UnknownExercise",
]


class LabError(Exception):
    """A problem the lab reports in one line. `usage` marks a mistake in how it was called."""

    def __init__(self, message: str, *, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


class ProtocolError(LabError):
    """A server answered `/lab/stats` with something that is not the lab's stats."""


class BurstError(LabError):
    """A burst that cannot be fired (bad arguments, nothing listening)."""


class ServerError(LabError):
    """The server could not start, or died: the message says why in one line."""


class LoadError(ServerError):
    """The app to serve could not be imported or is not an ASGI app: `file:line: Kind: message`."""


class CatalogError(LabError):
    """The exercise catalog is missing or malformed: the message names the file and the entry."""


class UnknownExercise(CatalogError):
    """No exercise matches what the user typed: a usage error."""

    def __init__(self, message: str) -> None:
        super().__init__(message, usage=True)


class ProgressError(LabError):
    """The learner's progress file cannot be read or written."""


class CheckError(LabError):
    """The lab itself could not run the check (e.g. the solution failed): not the learner's fault."""


class DemoError(LabError):
    """A demo that cannot run."""
