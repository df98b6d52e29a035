# alpha-as: every target sets up what it needs (.venv with the project and its extras).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= data
SEED   ?= 0

.PHONY: install test test-all data data-bitstamp replicate replicate-sensitivity replicate-bitstamp strategies onchain ppo risk risk-agents bench lint clean

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the CPU wheel; an unpinned torch pulls gigabytes of CUDA packages
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev,cluster,rl]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check .

# pytest-xdist: the test files shared between TEST_WORKERS processes (a file's tests and fixtures stay in one)
TEST_WORKERS ?= 2

test: install
	$(BIN)/ruff check .
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-all: install
	$(BIN)/ruff check .
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m ''

data: install
	$(BIN)/alpha-as data synth --out $(DATA) --seed $(SEED)

replicate: install
	# The paper's whole protocol on the built-in synthetic market (generated into $(DATA)/ if absent), then the
	# report: results/paper/report.md, claims.json, tables/, plots/, timings.json. A rerun resumes.
	$(BIN)/alpha-as replicate --config experiments/paper.toml

replicate-sensitivity: install
	# The protocol under the variants of experiments/sensitivity.toml (benign market, queue fills, on-grid baselines),
	# each a full replication in results/sensitivity/<variant>/, then results/sensitivity/robustness.md. A rerun resumes.
	$(BIN)/alpha-as replicate-sensitivity --config experiments/sensitivity.toml

STRATEGY_GA := results/strategies_ga

strategies: install
	# Hummingbot's AS and GLFT, each tuned by the GA on the paper's GA day, beside AS, Gen-AS, FOIC and LIIC on the
	# paper's 30 test days of the synthetic market (experiments/strategies.toml): results/strategies/report.md.
	test -d $(DATA)/type=depth/instrument=btcusdt_synth || $(BIN)/alpha-as data synth --out $(DATA) --seed $(SEED)
	for s in as hummingbot-as glft; do \
	  test -f $(STRATEGY_GA)/$$s/best.json || $(BIN)/alpha-as tune --strategy $$s --data $(DATA) \
	    --instrument btcusdt_synth --day 2020-12-08 --out $(STRATEGY_GA)/$$s || exit 1; \
	done
	$(BIN)/alpha-as runs --config experiments/strategies.toml
	$(BIN)/alpha-as report results/strategies

risk-agents: install
	# The paper's five models, Alpha-AS included, without and behind the risk module (experiments/risk_agents.toml):
	# results/risk-agents/<variant>/report.md and results/risk-agents/robustness.md. A rerun resumes.
	$(BIN)/alpha-as replicate-sensitivity --config experiments/risk_agents.toml

ppo: install
	# PPO's spread agent (bid depth, ask depth, size), trained per seed on the training day, beside FOIC, LIIC and
	# Gen-AS on the paper's 30 test days of the synthetic market (experiments/ppo.toml): results/ppo/report.md.
	$(BIN)/alpha-as replicate --config experiments/ppo.toml

onchain: install
	# AS, Gen-AS, Gen-AS with gamma learned online and PPO on the synthetic market as a venue on a chain (2-s blocks, gas
	# per order action, a 5-bps fee tier; experiments/onchain.toml): results/onchain/report.md.
	test -d $(DATA)/type=depth/instrument=btcusdt_synth || $(BIN)/alpha-as data synth --out $(DATA) --seed $(SEED)
	test -f $(STRATEGY_GA)/as/best.json || $(BIN)/alpha-as tune --strategy as --data $(DATA) \
	    --instrument btcusdt_synth --day 2020-12-08 --out $(STRATEGY_GA)/as
	test -f results/onchain_ppo/model.zip || $(BIN)/alpha-as train ppo --data $(DATA) --instrument btcusdt_synth \
	    --day 2020-12-07,2020-12-08 --genas $(STRATEGY_GA)/as --out results/onchain_ppo --timesteps 100000 \
	    --chain '{"block_seconds": 2.0, "network_delay_ms": 200.0, "slip_probability": 0.05, "gas_units_place": 150000.0, "gas_units_cancel": 60000.0, "gas_price_gwei": 0.05, "native_price": 3000.0, "fee_bps": 5.0}'
	$(BIN)/alpha-as runs --config experiments/onchain.toml
	$(BIN)/alpha-as report results/onchain

risk: install
	# The risk module (issue #15) on AS and Gen-AS, each beside itself without it, on the paper's 30 test days of the
	# synthetic market (experiments/risk.toml: the brief's values scaled to it): results/risk/report.md.
	test -d $(DATA)/type=depth/instrument=btcusdt_synth || $(BIN)/alpha-as data synth --out $(DATA) --seed $(SEED)
	test -f $(STRATEGY_GA)/as/best.json || $(BIN)/alpha-as tune --strategy as --data $(DATA) \
	    --instrument btcusdt_synth --day 2020-12-08 --out $(STRATEGY_GA)/as
	$(BIN)/alpha-as runs --config experiments/risk.toml
	$(BIN)/alpha-as report results/risk

BITSTAMP_CAPTURE ?= ../shared/data/bitstamp_btcusd_20150501_obanalytics/2015-05-01.log.bz2

BITSTAMP_DAY := $(DATA)/type=depth/instrument=btcusd_bitstamp/date=20150501/data.parquet

data-bitstamp: $(BITSTAMP_DAY)

$(BITSTAMP_DAY): | $(STAMP)
	$(BIN)/alpha-as data import bitstamp $(BITSTAMP_CAPTURE) --out $(DATA) --instrument btcusd_bitstamp

replicate-bitstamp: data-bitstamp
	$(BIN)/alpha-as replicate --config experiments/bitstamp_2015.toml

bench: install
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	$(PY) benchmarks/bench_data.py
	$(PY) benchmarks/bench_genas.py
	$(PY) benchmarks/bench_alpha_as.py --agent alpha-as-1
	$(PY) benchmarks/bench_alpha_as.py --agent alpha-as-2
	$(PY) benchmarks/bench_engine.py
	$(PY) benchmarks/bench_risk.py
	$(PY) benchmarks/bench_strategies.py
	$(PY) benchmarks/bench_policy_gradient.py
	$(PY) benchmarks/bench_ppo.py
	$(PY) benchmarks/bench_replicate.py
	$(PY) benchmarks/bench_ray.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
