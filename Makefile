# Everything a fresh machine needs: `make demo` and `make test` create the venvs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
IVENV := .venv-interop
PYTEST_ARGS ?=

.PHONY: demo test lint typecheck unit interop test-slow matrix package docs docs-serve bench profile \
	mutate mutate-all clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/python examples/demo.py

test: lint typecheck unit interop

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy hmac_asgi

unit: $(BIN)/.installed
	$(BIN)/pytest -m "not interop and not slow" --cov --cov-report=term $(PYTEST_ARGS)

# destiny-sdk needs Python >= 3.12: a second venv built from pyenv's (or PATH's) 3.12+.
# Locally, a machine without one says so and skips; under CI it is an error.
# Beside destiny-sdk, the peers of the other two formats: pyauth's RFC 9421 libraries
# (http-message-signatures, and requests-http-signature over requests) and the Standard
# Webhooks reference library. The venv is rebuilt when this list (the Makefile) changes.
INTEROP_PEERS := 'destiny-sdk>=0.17.6' 'http-message-signatures>=3,<4' \
	'requests-http-signature>=2,<3' 'standardwebhooks>=1,<2' 'requests>=2.32'
interop:
	@py="$$(.ci/find-python 3.12)" || { \
	    if [ -n "$$CI" ]; then echo "interop: FAILED, no Python >= 3.12 for destiny-sdk" >&2; exit 1; fi; \
	    echo "interop: SKIPPED, no Python >= 3.12 for destiny-sdk (pyenv install 3.12)"; exit 0; }; \
	if [ ! -f $(IVENV)/.installed ] || [ pyproject.toml -nt $(IVENV)/.installed ] \
	        || [ Makefile -nt $(IVENV)/.installed ]; then \
	    "$$py" -m venv $(IVENV) && \
	    $(IVENV)/bin/pip install -q --upgrade pip && \
	    $(IVENV)/bin/pip install -q -e '.[test]' $(INTEROP_PEERS) && \
	    touch $(IVENV)/.installed; \
	fi; \
	$(IVENV)/bin/pytest -m interop $(PYTEST_ARGS)

# pytest exits 5 when no test carries the marker: not a failure.
test-slow: $(BIN)/.installed
	$(BIN)/pytest -m slow $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The version matrix (noxfile.py): the fast suite on each Python 3.10-3.13 found here,
# then on the lowest and the newest supported dependencies. Venvs are reused (.nox/).
NOX_ARGS ?=
matrix: $(BIN)/.installed
	$(BIN)/nox $(NOX_ARGS)

# Wheel and sdist into dist/, then twine's metadata and README check.
package: $(BIN)/.installed
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

# The documentation site (mkdocs.yml) into site/: strict, so a broken link, a missing page or
# an API name that does not resolve fails the build. `make docs-serve` serves it with live reload.
# (NO_MKDOCS_2_WARNING: mkdocs-material's banner about the future MkDocs 2.0, on every run.)
MKDOCS := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs
docs: $(BIN)/.installed
	$(MKDOCS) build --strict --clean

docs-serve: $(BIN)/.installed
	$(MKDOCS) serve

# Benchmarks run on Python >= 3.12 so destiny-sdk is measured in the same run.
BENCH_ARGS ?=
bench:
	@test -f $(IVENV)/.installed || $(MAKE) interop
	$(IVENV)/bin/pip install -q matplotlib hiredis  # hiredis: measured beside the pure-Python parser
	$(IVENV)/bin/python benchmarks/run.py $(BENCH_ARGS)

# Where the time goes (benchmarks/PROFILE.md); PROFILE_ARGS=--quick for a 2 s smoke run.
profile:
	@test -f $(IVENV)/.installed || $(MAKE) interop
	$(IVENV)/bin/python benchmarks/profile_path.py $(PROFILE_ARGS)

# Mutation testing with mutmut ([tool.mutmut] in pyproject.toml says what is mutated and
# which tests run; tools/mutate.py). Not in CI: too slow for it (docs/development.md,
# "Mutation testing"). `make mutate` checks a fixed slice, the mutants whose number matches
# MUTATE_SAMPLE; `make mutate-all` checks every mutant.
MUTATE_SAMPLE ?= *[147]
mutate: $(BIN)/.installed
	$(BIN)/python tools/mutate.py --sample '$(MUTATE_SAMPLE)'

mutate-all: $(BIN)/.installed
	$(BIN)/python tools/mutate.py --all

clean:
	rm -rf $(VENV) $(IVENV) .nox dist site .pytest_cache .mypy_cache .ruff_cache .coverage mutants
