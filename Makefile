# Two commands do all the set-up on a fresh machine that has only Python 3.11+:
#   make demo   installs what is missing (uv included), then runs the main job: `lab compare`
#   make test   installs what is missing (every optional extra too), then runs the whole test suite (notebooks
#               included)

# uv: the one on PATH, else `python3 -m uv`, else a private copy in $(BOOTSTRAP) (made with
# `python3 -m venv` + pip, so an externally managed system Python, PEP 668, is never touched).
BOOTSTRAP := .uv-bootstrap
UV := $(shell command -v uv 2>/dev/null || { python3 -m uv --version >/dev/null 2>&1 && echo "python3 -m uv"; } || echo "$(BOOTSTRAP)/bin/uv")
# The runtime alone for what a learner runs (`make demo`, `serve`, `bench`, `stress`); the dev group (pytest,
# Playwright, mypy, nbmake, schemathesis: ~500 MB) only for `make test` and `make lint`. `uv run` syncs what it is
# told, so each target says which.
RUN := $(UV) run --locked --no-dev
RUN_DEV := $(UV) run --locked
# uv trusts its own bundled roots unless told: behind a TLS-inspecting proxy (a corporate laptop whose CA is in the
# system store only) it fails with "invalid peer certificate: UnknownIssuer". pip already uses the system store.
export UV_SYSTEM_CERTS := 1
export COLUMNS ?= 100
# JupyterLab refuses to run as root (containers) unless told.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: demo test serve lint bench stress stress-suite notebooks install install-dev install-all onnx-model uv

uv: $(filter $(BOOTSTRAP)/bin/uv,$(UV))

$(BOOTSTRAP)/bin/uv:
	@echo "uv is not on PATH and 'python3 -m uv' does not work: installing a private copy in $(BOOTSTRAP)/"
	@python3 -m venv --clear $(BOOTSTRAP) >/dev/null 2>&1 || { rm -rf $(BOOTSTRAP); \
	  echo "make: cannot bootstrap uv: 'python3 -m venv' failed; install the venv module (apt-get install python3-venv) or install uv itself (https://docs.astral.sh/uv/getting-started/installation/)" >&2; exit 1; }
	$(BOOTSTRAP)/bin/python -m pip install --quiet --disable-pip-version-check uv

# --compile-bytecode writes the .pyc files at install: PYTHONDONTWRITEBYTECODE=1 would otherwise make every
# start recompile. (Only here: exported as UV_COMPILE_BYTECODE, each `uv run` would re-check all 5,000 files.)
# It compiles site-packages only: the lab itself is installed editable, so compileall writes its own .pyc
# (~20-30 ms of every `lab` start on a 2-core machine; a stale one is ignored, as Python checks the mtime).
install: uv
	$(UV) sync --locked --compile-bytecode --no-dev
	$(RUN) python -m compileall -q lab

# The runtime and the dev group: what `make lint` needs.
install-dev: uv
	$(UV) sync --locked --compile-bytecode

# Everything: the optional extras (ONNX Runtime, ~80 MB) and every group (the ONNX graph's build tool), so the
# tests cover the /onnx twins and prove the committed graph is what tools/build_onnx_model.py builds.
# `make demo` stays on `install`: its `lab compare` needs none of it. (`uv sync` is exact: a later `make demo`
# or `make lint` removes the extras again, and `make test` puts them back from uv's cache in seconds.)
install-all: uv
	$(UV) sync --locked --compile-bytecode --all-extras --all-groups

demo: install
	$(RUN) lab compare

test: install-all
	$(RUN_DEV) pytest tests notebooks --nbmake --nbmake-kernel=python3 --nbmake-timeout=300

serve: install
	$(RUN) lab serve

lint: install-dev
	$(RUN_DEV) ruff check .
	$(RUN_DEV) ruff format --check .
	$(RUN_DEV) mypy
	$(RUN_DEV) python -m tools.code_shape

# Rebuild lab/data/onnx_model.onnx (the graph only: its weights are the NumPy model's seed).
onnx-model: install-all
	$(RUN_DEV) python tools/build_onnx_model.py

bench: install
	$(RUN) python -m bench

# Every solution, correct and wrong alternative checked 10 times beside two CPU burners (about an hour).
stress: install
	$(RUN) python -m bench.stress

# The whole test suite N times beside the same two CPU burners (about an hour at N=5): per run, what failed.
# `make stress-suite N=1 PYTEST_ARGS="tests/test_safety.py -k interrupting"` runs a part of it.
N ?= 5
PYTEST_ARGS ?=
stress-suite: install-all
	$(RUN_DEV) python -m bench.stress_suite --runs $(N) -- $(PYTEST_ARGS)

notebooks: uv
	$(UV) sync --locked --compile-bytecode --no-dev --extra notebooks
	$(RUN) --extra notebooks --with jupyterlab jupyter lab notebooks/ $(ALLOW_ROOT)
