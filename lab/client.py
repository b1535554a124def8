"""The one place that chooses the HTTP client library.

`httpx2` is the maintained continuation of HTTPX (same API). It is used instead of httpx 0.28
because httpx 0.28/httpcore 1.0 hands one idle connection to every waiter of a warm pool
(encode/httpcore#1035): a 100-request burst then takes ten times too long. Swap the import here
and nowhere else.
"""

from __future__ import annotations

import httpx2 as httpx

__all__ = ["httpx"]
