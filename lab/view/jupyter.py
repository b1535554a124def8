"""How the lab's results show in Jupyter: the same rich rendering as in a terminal, as text and HTML.

Results (`BurstResult`, `Comparison`) define `_repr_mimebundle_` and import this module only when a
notebook displays them, so the load side never imports rich itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.jupyter import JupyterMixin

__all__ = ["mimebundle"]


def mimebundle(renderable: Any, include: Sequence[str] | None, exclude: Sequence[str] | None) -> dict[str, str]:
    """Rich's own Jupyter rendering of any object that has `__rich_console__`."""
    return JupyterMixin._repr_mimebundle_(renderable, include or (), exclude or ())
