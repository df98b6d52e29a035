# alpha-as: every target sets up what it needs (.venv with the project and its extras).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= data
SEED   ?= 0

.PHONY: install test test-all data replicate bench lint clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel; an unpinned torch pulls gigabytes of CUDA packages
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,cluster]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .

test: install
	$(BIN)/ruff check .
	$(PY) -m pytest -q

test-all: install
	$(BIN)/ruff check .
	$(PY) -m pytest -q -m ''

data: install
	$(BIN)/alpha-as data synth --out $(DATA) --seed $(SEED)

replicate: data
	# The replication pipeline lands stage by stage (see README): today the market data, its check against
	# the paper's statistics, and AS with the authors' default parameters on the first test day.
	$(BIN)/alpha-as data check $(DATA) --instrument btcusdt_synth --compare-paper
	$(BIN)/alpha-as run as --data $(DATA) --instrument btcusdt_synth --day 2020-12-09 --out results/as-default-20201209

bench: install
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) benchmarks/bench_data.py
	$(PY) benchmarks/bench_genas.py
	$(PY) benchmarks/bench_alpha_as.py
	$(PY) benchmarks/bench_engine.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
