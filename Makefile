# qiloop — set-up and everyday commands. Every target creates or reuses .venv.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# What `make test` and `make demo` install; grows as parts land.
EXTRAS ?= data,s3,edge,label,train,registry,orchestrate,serve,broker,fleet,dev
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
DEMO_HOME ?= .qiloop-demo

.PHONY: help venv install demo test test-fast bench bench-edge lint format clean

help:
	@echo "make demo   - install and run the whole loop on embedded defaults (home: $(DEMO_HOME))"
	@echo "make test   - install and run the whole test suite"
	@echo "make bench  - run the benchmarks and print their figures"
	@echo "make lint   - ruff check and format check"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $@

venv install: $(STAMP)

demo: $(STAMP)
	$(BIN)/qiloop demo --home $(DEMO_HOME) --fresh

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_label_store.py
	$(BIN)/python benchmarks/bench_image_ingest.py
	$(BIN)/python benchmarks/train_real.py --epochs 60
	$(BIN)/python benchmarks/bench_edge_latency.py
	$(BIN)/python benchmarks/bench_edge_footprint.py

bench-edge: $(STAMP)
	$(BIN)/python benchmarks/bench_edge_latency.py
	$(BIN)/python benchmarks/bench_edge_footprint.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/ruff format --check src tests benchmarks docs

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) $(DEMO_HOME) .pytest_cache .ruff_cache build dist src/*.egg-info
