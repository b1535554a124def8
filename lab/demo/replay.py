"""`lab demo --replay race.json`: a saved race drawn again in the terminal, at 0.1x to 1x, with no server running.

    player = Replay(read_race(data), console, speed=0.5)
    player.play()                      # the live view, frame by frame, on the replay's clock
    show(player.frame(width, 1e9))     # any moment; `player.final_frame(width)` the last one

The clock is the saved race's own (`Race.at`: the `RaceView` the live runner would have drawn then): a
replay at 0.5x takes twice the race's time.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from lab.demo.record import Race
from lab.errors import DemoError
from lab.view.demo import SCREEN, Palette, fit_rows, live_display, race_frame

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

__all__ = ["MAX_SPEED", "MIN_SPEED", "Replay", "check_speed"]

MIN_SPEED = 0.1  # slower than this, a 100 ms request takes a second: the room loses the thread
MAX_SPEED = 1.0  # faster than the race itself would show nothing the live view did not
FRAME_S = 1 / 20
MAX_ROWS = 25


def check_speed(speed: float) -> float:
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise DemoError(f"--speed must be between {MIN_SPEED:g} and {MAX_SPEED:g}, got {speed:g}", usage=True)
    return speed


class Replay:
    def __init__(self, race: Race, console: Console, *, speed: float = 1.0, screen: bool = True) -> None:
        self.race = race
        self.console = console
        self.speed = check_speed(speed)
        self.screen = screen
        self.began: float | None = None

    def position(self) -> float:
        """Seconds into the race, on the replay's clock."""
        if self.began is None:
            return 0.0
        return min(self.race.duration_s, (time.perf_counter() - self.began) * self.speed)

    def frame(self, width: int, at_s: float, max_rows: int = MAX_ROWS, palette: Palette = SCREEN) -> RenderableType:
        return race_frame(self.race.at(at_s), width=width, max_rows=max_rows, palette=palette)

    def final_frame(self, width: int, height: int | None = None, palette: Palette = SCREEN) -> RenderableType:
        end = self.race.duration_s + 1.0
        if height is None:
            return self.frame(width, end, palette=palette)
        rows = fit_rows(lambda rows: self.frame(width, end, rows, palette), width, height, MAX_ROWS)
        return self.frame(width, end, rows, palette)

    def play(self) -> None:
        """The live view from the first request to the last, then back to the caller."""

        def current() -> RenderableType:
            return self.frame(self.console.width, self.position(), self._rows())

        with live_display(self.console, current, screen=self.screen):
            self.began = time.perf_counter()
            while self.position() < self.race.duration_s:
                time.sleep(FRAME_S)

    def _rows(self) -> int:
        lanes = len(self.race.lanes)
        return max(3, min(MAX_ROWS, (self.console.height - 8 - 5 * lanes) // lanes))
