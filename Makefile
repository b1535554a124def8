# Two commands do all the set-up on a fresh machine that has only Python and pip:
#   make demo   installs what is missing (uv included), then runs the main job: `lab compare`
#   make test   installs what is missing, then runs the whole test suite (notebooks included)

# uv if it is on PATH, else the copy pip installs (`python3 -m uv` needs no PATH change).
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
RUN := $(UV) run --locked
export COLUMNS ?= 100

.PHONY: demo test serve lint bench notebooks install uv

uv:
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv

install: uv
	$(UV) sync --locked

demo: install
	$(RUN) lab compare

test: install
	$(RUN) pytest tests notebooks --nbmake --nbmake-kernel=python3 --nbmake-timeout=300

serve: install
	$(RUN) lab serve

lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

bench: install
	$(RUN) python -m bench

notebooks: install
	$(RUN) --with jupyterlab jupyter lab notebooks/
