# make test       - the unit tests and the notebooks in smoke mode (what CI runs)
# make reproduce  - execute both notebooks in full mode, in place, run the benchmark, rebuild results/
#                   (results/RESULTS.md and the README tables are rebuilt from results/*.json)
# make smoke      - the same on the smoke settings, into results/smoke/ (a couple of minutes)
# make bench      - the NumPy-vs-Keras benchmark table (results/benchmark.md)
# Each target creates .venv from requirements.txt first when it is missing or out of date.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NOTEBOOKS := from_scratch_numpy/basic_algorithm_numpy.ipynb \
             advance_pipeline_tensorflow/advanced_algorithm_keras_pipeline.ipynb

.PHONY: install test reproduce smoke bench lint clean demo

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

test: $(STAMP)
	$(PY) -m pytest

# papermill writes each executed notebook back in place; MODE is the notebooks' `parameters` cell.
define run_notebooks
	@for nb in $(NOTEBOOKS); do \
	  if [ -f "$$nb" ]; then \
	    out=$(2)$$(basename $$nb); [ -n "$(2)" ] || out=$$nb; \
	    echo "== $$nb ($(1)) -> $$out"; start=$$(date +%s); \
	    $(3) MNIST_MODE=$(1) $(VENV)/bin/papermill "$$nb" "$$out" -p MODE $(1) \
	      --cwd "$$(dirname $$nb)" --no-progress-bar || exit 1; \
	    echo "   done in $$(( $$(date +%s) - start )) s"; \
	  fi; \
	done
endef

reproduce: $(STAMP)
	$(call run_notebooks,full,,)
	$(PY) benchmarks/bench_numpy_vs_keras.py
	$(PY) -m common.results

smoke: $(STAMP)
	@mkdir -p results/smoke
	$(call run_notebooks,smoke,$(CURDIR)/results/smoke/,MNIST_RESULTS_DIR=$(CURDIR)/results/smoke)
	MNIST_RESULTS_DIR=results/smoke $(PY) -m common.results

bench: $(STAMP)
	$(PY) benchmarks/bench_numpy_vs_keras.py
	$(PY) -m common.results

# make demo       - a local web app: draw or upload a digit, both models' probabilities (Ctrl+C stops)
demo: $(STAMP)
	GRADIO_ANALYTICS_ENABLED=False $(PY) -m demo.app

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache results/smoke
