"""The views' shared look: the colour of each verdict, and the console everything prints to."""

from __future__ import annotations

from rich.console import Console

__all__ = ["console", "verdict_style"]

VERDICT_STYLES = {"concurrent": "bold green", "serialized": "bold red", "waves": "bold yellow"}


def verdict_style(kind: str) -> str:
    """Green for concurrent, red for serialized, yellow for waves; bold for anything else."""
    return VERDICT_STYLES.get(kind, "bold")


def console() -> Console:
    """A console on stdout: rich chooses colour, width and interactivity from the terminal (or `COLUMNS`)."""
    return Console()
