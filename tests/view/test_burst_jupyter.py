"""A burst's result and a comparison show in Jupyter as the terminal shows them: text and HTML."""

from __future__ import annotations

import html
import re

from lab.load.burst import BurstResult
from lab.load.compare import Comparison
from lab.load.measure import Sample, summarize
from lab.load.verdict import judge
from lab.scenarios import SCENARIOS


def result(samples: list[Sample]) -> BurstResult:
    summary = summarize(samples)
    verdict = judge(len(samples), len(samples), summary.wall_s, 0.1, summary.ok, None)
    url = "http://127.0.0.1:1/sleep/broken"
    return BurstResult(url, "GET", len(samples), len(samples), samples, summary, verdict, None, 0.1)


def staircase(n: int = 3, step: float = 0.1) -> list[Sample]:
    return [Sample(i, 0.0, (i + 1) * step, 200) for i in range(n)]


def shown_text(bundle: dict[str, str]) -> str:
    """The HTML bundle's text, without its tags and entities."""
    return html.unescape(re.sub(r"<[^>]+>", "", bundle["text/html"]))


def test_a_burst_result_renders_as_html_in_a_notebook() -> None:
    bundle = result(staircase())._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert bundle["text/html"].lstrip().startswith("<pre")
    assert "http://127.0.0.1:1/sleep/broken" in shown_text(bundle)
    assert "300 ms" in shown_text(bundle)  # the burst's wall time, as the terminal report writes it
    assert "http://127.0.0.1:1/sleep/broken" in bundle["text/plain"]


def test_a_burst_result_honours_include_and_exclude() -> None:
    assert set(result(staircase())._repr_mimebundle_(include=["text/html"])) == {"text/html"}
    assert set(result(staircase())._repr_mimebundle_(exclude=["text/html"])) == {"text/plain"}


def test_a_comparison_renders_as_html_in_a_notebook() -> None:
    fine = result([Sample(i, 0.0, 0.1, 200) for i in range(3)])
    comparison = Comparison(SCENARIOS["sleep"], 3, 100, {"async": fine, "broken": result(staircase())})
    text = shown_text(comparison._repr_mimebundle_())
    assert "variant" in text and "broken" in text and "speedup" in text
