# Two commands on a fresh Debian/Ubuntu machine:
#   make demo   generate the demo corpus and run the whole DVC pipeline on it
#   make test   run the test suite
# Both install what they need first (scripts/bootstrap.sh).

SHELL := /bin/bash
export PATH := $(CURDIR)/.venv/bin:$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: env demo test bench

env:
	@bash scripts/bootstrap.sh

demo: env
	@# the musicnn weights (PyPI wheel -> models/musicnn/*.npz; cached). Unreachable PyPI: the command says
	@# how to fetch them by hand, and the pipeline runs on the other feature sets (musicnn is skipped).
	-filmscore weights fetch-musicnn
	dvc repro
	@echo
	@echo "Done. Outputs: data/ (corpus, cues, features, models) and reports/ (tables, figures, metrics)."
	@echo "Compare experiments: dvc exp show ; figures: dvc plots show"

test: env
	python -m pytest -q $(PYTEST_ARGS)
