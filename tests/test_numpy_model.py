"""The NumPy model: versioned, verified by checksum, and the same answer whatever runs it."""

from __future__ import annotations

import json
from importlib import resources
from types import SimpleNamespace

import pytest
from threadpoolctl import threadpool_limits

import lab.numpy_model as numpy_model
from lab.errors import LabError
from lab.instruments import INSTRUMENTS
from lab.numpy_model import load_numpy_model, passes_for


def test_the_model_is_its_versioned_description() -> None:
    described = json.loads(resources.files("lab.data").joinpath("numpy_model.json").read_text())
    model = load_numpy_model()
    assert (model.name, model.version) == (described["name"], described["version"])
    assert len(model.layers) == described["depth"]
    assert model.candidates.shape == (described["candidates"], described["width"])
    assert model.nbytes > 5_000_000  # big enough for a copy per process to show in notebook 05


def test_one_answer_whatever_the_threads_and_the_passes() -> None:
    model = load_numpy_model()
    with threadpool_limits(limits=1, user_api="blas"):
        alone = model.predict(1.5, 0.3)
    with threadpool_limits(limits=2, user_api="blas"):
        assert model.predict(1.5, 0.3) == alone
        assert model.predict(1.5, 0.3, passes=3) == alone
    assert 0.0 < alone < 1.0
    assert model.predict(-2.0, 4.0) != alone  # the features matter


def test_calls_and_loads_are_counted() -> None:
    before = dict(INSTRUMENTS.counters)
    model = load_numpy_model()
    model.predict(1.0, 1.0, passes=2)
    assert INSTRUMENTS.counters["numpy_model_loads"] == before.get("numpy_model_loads", 0) + 1
    assert INSTRUMENTS.counters["numpy_model_calls"] == before.get("numpy_model_calls", 0) + 1


def test_the_weights_are_read_only() -> None:
    with pytest.raises(ValueError, match="read-only"):
        load_numpy_model().layers[0][0, 0] = 1.0


def test_weights_that_do_not_match_the_checksum_stop_the_load(monkeypatch: pytest.MonkeyPatch) -> None:
    described = json.loads(resources.files("lab.data").joinpath("numpy_model.json").read_text())
    tampered = json.dumps({**described, "seed": described["seed"] + 1})
    file = SimpleNamespace(read_text=lambda: tampered)
    fake = SimpleNamespace(files=lambda _package: SimpleNamespace(joinpath=lambda _name: file))
    monkeypatch.setattr(numpy_model, "resources", fake)
    with pytest.raises(LabError, match="do not match the checksum"):
        load_numpy_model()


@pytest.mark.parametrize(
    ("ms", "per_pass", "passes"), [(100, 25.0, 4), (1, 25.0, 1), (0, 25.0, 1), (100, 0.0, 100_000)]
)
def test_passes_for_a_duration(ms: float, per_pass: float, passes: int) -> None:
    assert passes_for(ms, per_pass) == passes
