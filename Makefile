# The two commands of the README: `make demo` and `make test`.
.PHONY: demo test lint bench setup

setup:
	@scripts/bootstrap.sh

demo: setup
	.venv/bin/siaga demo

test: setup
	.venv/bin/python -m pytest -q -n auto --maxprocesses 4

# ruff over the tree, mypy over every package (the packages' own settings: pyproject.toml)
lint: setup
	.venv/bin/ruff check .
	.venv/bin/mypy protocol firmware gateway central siaga

bench: setup
	.venv/bin/python bench/run_all.py
