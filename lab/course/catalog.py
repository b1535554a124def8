"""The exercise catalog: `exercises/info.toml` read into `Exercise` objects, and ids resolved.

    catalog = load_catalog(root)        # the project folder: lab.course.course.find_root()
    exercise = catalog.resolve("3")     # "3", "exercise-3", "exercise_03_..." or the file's path
    shipped_root()                      # the course as this lab ships it: the checkout's folders, or the wheel's

The catalog is the contract between the exercises' authors and the checker: every key the checker
reads is declared here, and a typo in `info.toml` stops with one line naming the entry and the key,
rather than silently grading against a default.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from lab.errors import CatalogError, LabError, UnknownExercise
from lab.load.probes import ProbeSpec, parse_probes

INFO_FILE = "info.toml"
EXERCISES_DIR = "exercises"
SOLUTIONS_DIR = "solutions"
NOTEBOOKS_DIR = "notebooks"
ROOT_ENV = "LAB_ROOT"  # overrides the search for the project root (lab.course.course.find_root)
# Where the wheel carries the top-level exercises/, solutions/ and notebooks/ (pyproject's force-include).
PACKAGE_COURSE = "_course"
ID_PATTERN = re.compile(r"exercise-(\d+)")
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class BurstSpec:
    """What the checker fires, identically at the learner's server and at the solution's."""

    path: str
    method: str = "GET"
    requests: int = 10
    concurrency: int | None = None  # None: all at once
    json: Any = None  # request body
    probe: str | None = None  # one GET sent mid-burst; its latency says whether the server stayed responsive
    with_store: bool = False  # start the fake feature store beside the app (LAB_STORE_URL)
    workers: int = 1
    sustained_s: float = 0.0  # > 0: keep `concurrency` requests in flight this long instead of one burst

    @property
    def at_once(self) -> int:
        """How many requests are in flight together."""
        return min(self.requests, self.concurrency or self.requests)


@dataclass(frozen=True)
class TrafficSpec:
    """Steady traffic with the kubelet's probes beside it, identically at the learner's server and the solution's.

    The probes start `before_s` ahead of the traffic (a pod is in the Service's endpoints before the traffic
    comes), the traffic runs at `rate` for `duration_s`, open loop, and the probes go on for `after_s` once the
    last request is back, so a pod that left rotation under the load can come back.
    """

    path: str
    probes: tuple[ProbeSpec, ...]
    method: str = "GET"
    json: Any = None
    rate: float = 50.0  # requests a second
    duration_s: float = 3.0
    before_s: float = 1.0
    after_s: float = 2.0
    timeout_s: float = 10.0  # per request, in total

    @property
    def requests(self) -> int:
        return round(self.rate * self.duration_s)


@dataclass(frozen=True)
class Expect:
    """The signature to earn. Every field is optional (None: not checked); all set ones must hold."""

    max_loop_lag_ms: float | None = None
    min_overlap: float | None = None
    max_wall_ratio: float | None = None
    # Skipped work looks like a perfect fix: a handler far quicker than the solution's skipped its work.
    min_work_ratio: float | None = 0.5
    max_probe_ms: float | None = None
    max_p50_ms: float | None = None  # the median response: for lessons where a response must not wait
    counters_equal: dict[str, int] = field(default_factory=dict)
    counters_max: dict[str, int] = field(default_factory=dict)
    counters_min: dict[str, int] = field(default_factory=dict)
    gauge_peak_max: dict[str, int] = field(default_factory=dict)
    gauge_peak_min: dict[str, int] = field(default_factory=dict)
    # Gauges that must get well past asyncio's default executor, min(32, cores + 4) threads on the machine
    # that serves: at least halfway from its size to the burst's. A fixed bound would hold on every machine
    # only at 33, leaving a 2-core machine's fix (broken: 6) no room for a busy moment.
    gauge_past_executor: tuple[str, ...] = ()
    work_counters: tuple[str, ...] = ()  # completed-work counters that must reach the solution's count
    # Things made while requests are served (`lab.server.made`: process pools, HTTP clients): at most once,
    # or as often as the solution made them in the same run. Made per request, the count is the requests'.
    made_once: tuple[str, ...] = ()
    max_tokens_peak: int | None = None
    max_intra_op_threads: int | None = None  # BLAS/OpenMP threads per call, in every worker (threadpoolctl)
    min_pids: int | None = None
    same_response: bool = True
    ignore_keys: tuple[str, ...] = ()
    all_ok: bool = True
    # Steady traffic with probes (`[exercise.traffic]`): what the kubelet decided, counted.
    max_restarts: int | None = None  # liveness (or startup) failing `failures` times in a row: a restart
    max_liveness_failures: int | None = None  # liveness attempts that did not pass, at all
    readiness_cycles: int | None = None  # left the Service's endpoints by answering not-ready, and came back


@dataclass(frozen=True)
class Exercise:
    id: str
    number: int
    title: str
    file: str
    lesson: str
    hints: tuple[str, ...]
    burst: BurstSpec  # with `traffic`: its path, method and body, for what every exercise has (the server's start)
    expect: Expect
    root: Path
    traffic: TrafficSpec | None = None  # steady traffic and probes instead of a burst

    @property
    def path(self) -> Path:
        """The learner's file."""
        return self.root / EXERCISES_DIR / self.file

    @property
    def solution_path(self) -> Path:
        """The project's own `solutions/` file (a clone), else the one the lab ships (a `lab init` workspace)."""
        local = self.root / SOLUTIONS_DIR / self.file
        return local if local.is_file() else shipped_root() / SOLUTIONS_DIR / self.file


@dataclass(frozen=True)
class Catalog:
    root: Path
    exercises: tuple[Exercise, ...]

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.exercises]

    def resolve(self, ref: str) -> Exercise:
        """Accept `3`, `exercise-3`, `exercise_03_sleepy_endpoint(.py)` or a path to the file."""
        text = ref.strip()
        name = Path(text).name
        for exercise in self.exercises:
            if text in (exercise.id, str(exercise.number)) or name in (exercise.file, Path(exercise.file).stem):
                return exercise
        if text.isdigit() or ID_PATTERN.fullmatch(text):
            number = int(text) if text.isdigit() else int(text.split("-")[1])
            for exercise in self.exercises:
                if exercise.number == number:  # "03", "exercise-03"
                    return exercise
        # A well-formed id out of range ("99", "exercise-13") is no typo: the range says it all.
        guess = None if text.isdigit() or ID_PATTERN.fullmatch(text) else self.closest(text)
        hint = f"did you mean {guess.id}? " if guess is not None else ""
        raise UnknownExercise(f"no exercise {ref!r}: {hint}valid ids are {_id_range(self.ids)}")

    def closest(self, text: str) -> Exercise | None:
        """The exercise a typo most likely meant (`exercise3`, `3x`, a file name misspelt), if any is close."""
        names: dict[str, Exercise] = {}
        for exercise in self.exercises:
            for name in (exercise.id, str(exercise.number), Path(exercise.file).stem):
                names[name.lower()] = exercise
        match = difflib.get_close_matches(Path(text).stem.lower(), list(names), n=1, cutoff=0.6)
        return names[match[0]] if match else None

    def after(self, exercise: Exercise) -> Exercise | None:
        """The next exercise in catalog order, or None after the last."""
        index = self.exercises.index(exercise)
        return self.exercises[index + 1] if index + 1 < len(self.exercises) else None


def shipped_root() -> Path:
    """The folder holding the course as this lab ships it: `exercises/`, `solutions/`, `notebooks/`.

    The one place course files are found. Run from a clone (or its editable install), the checkout's
    top-level folders, which stay the single source; installed from a wheel, the copy it carries as
    package data, built from those same folders (tests/course/test_workspace.py proves them identical).
    """
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / EXERCISES_DIR / INFO_FILE).is_file() and (checkout / SOLUTIONS_DIR).is_dir():
        return checkout
    # pip and uv install a wheel unpacked, so the package data is a real folder that servers can be started from.
    return Path(str(files("lab") / PACKAGE_COURSE))


def _id_range(ids: list[str]) -> str:
    if len(ids) > 4:
        return f"{ids[0]} .. {ids[-1]} (or just the number)"
    return ", ".join(ids) or "(none: the catalog is empty)"


def load_catalog(root: Path) -> Catalog:
    """The catalog of the project at `root` (`lab.course.course.find_root` says where that is)."""
    root = root.resolve()
    info = root / EXERCISES_DIR / INFO_FILE
    try:
        data = tomllib.loads(info.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"{info}: not found (run `lab init` to make this folder a lab workspace)") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{info}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{info}: cannot be read: {exc}") from None
    return parse_catalog(data, root, str(info))


def parse_catalog(data: dict[str, Any], root: Path, source: str = INFO_FILE) -> Catalog:
    """Validate the parsed TOML; every mistake is one line: `info.toml: exercise-3: burst.requests: ...`."""
    _check_keys(data, {"exercise"}, source)
    entries = data.get("exercise", [])
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{source}: expected one or more [[exercise]] tables")
    exercises: list[Exercise] = []
    for position, entry in enumerate(entries, start=1):
        where = f"{source}: entry {position}"
        if not isinstance(entry, dict):
            raise CatalogError(f"{where}: expected a table")
        if isinstance(entry.get("id"), str):
            where = f"{source}: {entry['id']}"
        exercises.append(_parse_exercise(entry, root, where))
    for key in ("id", "file"):
        seen: set[str] = set()
        for exercise in exercises:
            value = getattr(exercise, key)
            if value in seen:
                raise CatalogError(f"{source}: {key} {value!r} appears twice")
            seen.add(value)
    return Catalog(root, tuple(exercises))


_EXERCISE_KEYS = {"id", "title", "file", "lesson", "hints", "burst", "traffic", "expect"}
_BURST_KEYS = {"method", "path", "requests", "concurrency", "json", "probe", "with_store", "workers", "sustained_s"}
_EXPECT_KEYS = set(Expect.__dataclass_fields__)


def _parse_exercise(entry: dict[str, Any], root: Path, where: str) -> Exercise:
    _check_keys(entry, _EXERCISE_KEYS, where)
    ex_id = _get(entry, "id", str, where)
    match = ID_PATTERN.fullmatch(ex_id)
    if match is None:
        raise CatalogError(f"{where}: id must look like exercise-1, got {ex_id!r}")
    file = _get(entry, "file", str, where)
    if Path(file).name != file or not file.endswith(".py"):
        raise CatalogError(f"{where}: file must be a bare .py file name, got {file!r}")
    hints = _get(entry, "hints", list, where, default=[])
    if not all(isinstance(h, str) for h in hints):
        raise CatalogError(f"{where}: hints must be a list of strings")
    traffic, burst = _parse_load(entry, where)
    return Exercise(
        id=ex_id,
        number=int(match.group(1)),
        title=_get(entry, "title", str, where),
        file=file,
        lesson=_get(entry, "lesson", str, where, default=""),
        hints=tuple(hints),
        burst=burst,
        expect=_parse_expect(_get(entry, "expect", dict, where, default={}), f"{where}: expect"),
        root=root,
        traffic=traffic,
    )


def _parse_load(entry: dict[str, Any], where: str) -> tuple[TrafficSpec | None, BurstSpec]:
    """`[exercise.burst]` or `[exercise.traffic]`, exactly one; traffic stands in for the burst's path and body."""
    if "traffic" in entry and "burst" in entry:
        raise CatalogError(f"{where}: give [exercise.burst] or [exercise.traffic], not both")
    if "traffic" not in entry:
        return None, _parse_burst(_get(entry, "burst", dict, where), f"{where}: burst")
    traffic = _parse_traffic(_get(entry, "traffic", dict, where), f"{where}: traffic")
    return traffic, BurstSpec(path=traffic.path, method=traffic.method, json=traffic.json)


_TRAFFIC_KEYS = {"method", "path", "json", "rate", "duration_s", "before_s", "after_s", "timeout_s", "probes"}
# Bounds that keep a check short and the machine able to keep the schedule (`lab load` allows far more).
_TRAFFIC_BOUNDS = {
    "rate": (1, 500),
    "duration_s": (0.5, 30),
    "before_s": (0, 10),
    "after_s": (0, 30),
    "timeout_s": (1, 30),
}


def _parse_traffic(table: dict[str, Any], where: str) -> TrafficSpec:
    _check_keys(table, _TRAFFIC_KEYS, where)
    method = _get(table, "method", str, where, default="GET").upper()
    if method not in HTTP_METHODS:
        raise CatalogError(f"{where}.method: expected one of {', '.join(HTTP_METHODS)}, got {method!r}")
    path = _get(table, "path", str, where)
    if not path.startswith("/"):
        raise CatalogError(f"{where}.path: must start with '/', got {path!r}")
    numbers: dict[str, float] = {}
    for key, (low, high) in _TRAFFIC_BOUNDS.items():
        value = _get(table, key, (int, float), where, default=getattr(TrafficSpec, key))
        if not low <= value <= high:
            raise CatalogError(f"{where}.{key}: between {low} and {high}, got {value}")
        numbers[key] = float(value)
    texts = _get(table, "probes", list, where)
    if not texts or not all(isinstance(t, str) for t in texts):
        raise CatalogError(f'{where}.probes: a list of probe specs, e.g. ["liveness=/health,period=1s"]')
    try:
        probes = parse_probes(texts)
    except LabError as exc:
        raise CatalogError(f"{where}.probes: {exc}") from None
    return TrafficSpec(path, probes, method, table.get("json"), **numbers)


def _parse_burst(table: dict[str, Any], where: str) -> BurstSpec:
    _check_keys(table, _BURST_KEYS, where)
    method = _get(table, "method", str, where, default="GET").upper()
    if method not in HTTP_METHODS:
        raise CatalogError(f"{where}.method: expected one of {', '.join(HTTP_METHODS)}, got {method!r}")
    path = _get(table, "path", str, where)
    probe = _get(table, "probe", str, where, default=None)
    for key, value in (("path", path), ("probe", probe)):
        if value is not None and not value.startswith("/"):
            raise CatalogError(f"{where}.{key}: must start with '/', got {value!r}")
    requests = _positive(table, "requests", where, default=10, maximum=1000)
    concurrency = _positive(table, "concurrency", where, default=None, maximum=1000)
    if concurrency is not None and concurrency > requests:
        raise CatalogError(f"{where}.concurrency: at most requests ({requests}), got {concurrency}")
    sustained_s = _get(table, "sustained_s", (int, float), where, default=0)
    if not 0 <= sustained_s <= 30:
        raise CatalogError(f"{where}.sustained_s: between 0 and 30 s, got {sustained_s}")
    return BurstSpec(
        path=path,
        method=method,
        requests=requests,
        concurrency=concurrency,
        json=table.get("json"),
        probe=probe,
        with_store=_get(table, "with_store", bool, where, default=False),
        workers=_positive(table, "workers", where, default=1, maximum=16),
        sustained_s=float(sustained_s),
    )


def _parse_expect(table: dict[str, Any], where: str) -> Expect:
    _check_keys(table, _EXPECT_KEYS, where)
    numbers: dict[str, Any] = {}
    for key in ("max_loop_lag_ms", "min_overlap", "max_wall_ratio", "min_work_ratio", "max_probe_ms", "max_p50_ms"):
        value = _get(table, key, (int, float), where, default=getattr(Expect, key))
        if value is not None and value <= 0:
            raise CatalogError(f"{where}.{key}: must be more than 0, got {value}")
        numbers[key] = None if value is None else float(value)
    counts: dict[str, Any] = {}
    for key in ("counters_equal", "counters_max", "counters_min", "gauge_peak_max", "gauge_peak_min"):
        value = _get(table, key, dict, where, default={})
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
            raise CatalogError(f"{where}.{key}: values must be whole numbers, got {value}")
        counts[key] = value
    kubelet = {key: _count(table, key, where) for key in ("max_restarts", "max_liveness_failures", "readiness_cycles")}
    ignore_keys = _get(table, "ignore_keys", list, where, default=[])
    work_counters = _get(table, "work_counters", list, where, default=[])
    past_executor = _get(table, "gauge_past_executor", list, where, default=[])
    made_once = _get(table, "made_once", list, where, default=[])
    for key, names in (
        ("ignore_keys", ignore_keys),
        ("work_counters", work_counters),
        ("gauge_past_executor", past_executor),
        ("made_once", made_once),
    ):
        if not all(isinstance(k, str) for k in names):
            raise CatalogError(f"{where}.{key}: must be a list of strings")
    return Expect(
        **numbers,
        **counts,
        max_tokens_peak=_positive(table, "max_tokens_peak", where, default=None, maximum=10_000),
        max_intra_op_threads=_positive(table, "max_intra_op_threads", where, default=None, maximum=1024),
        min_pids=_positive(table, "min_pids", where, default=None, maximum=64),
        same_response=_get(table, "same_response", bool, where, default=True),
        ignore_keys=tuple(ignore_keys),
        work_counters=tuple(work_counters),
        gauge_past_executor=tuple(past_executor),
        made_once=tuple(made_once),
        all_ok=_get(table, "all_ok", bool, where, default=True),
        **kubelet,
    )


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise CatalogError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})")


_MISSING = object()


def _get(table: dict[str, Any], key: str, kind: Any, where: str, default: Any = _MISSING) -> Any:
    if key not in table:
        if default is _MISSING:
            raise CatalogError(f"{where}: missing required key {key!r}")
        return default
    value = table[key]
    # TOML booleans are ints to isinstance: refuse `requests = true`.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__
        raise CatalogError(f"{where}.{key}: expected {names}, got {value!r}")
    return value


def _count(table: dict[str, Any], key: str, where: str) -> Any:
    """A whole number of events, 0 included (`max_restarts = 0`), or None when the key is absent."""
    value = _get(table, key, int, where, default=None)
    if value is not None and not 0 <= value <= 1000:
        raise CatalogError(f"{where}.{key}: between 0 and 1000, got {value}")
    return value


def _positive(table: dict[str, Any], key: str, where: str, default: int | None, maximum: int) -> Any:
    value = _get(table, key, int, where, default=default)
    if value is not None and not 1 <= value <= maximum:
        raise CatalogError(f"{where}.{key}: between 1 and {maximum}, got {value}")
    return value
