# make test       - the unit tests and the notebooks in smoke mode (what CI runs)
# make reproduce  - both notebooks in full mode on the genuine data, executed in place, the benchmark,
#                   results/RESULTS.md and the README tables rebuilt from results/*.json. Stops, and
#                   says how to get the data, when the genuine dataset is neither found nor downloadable.
# make quick      - both notebooks in their default "standard" mode (what a learner's "Run all" does:
#                   one seed, full data), on whatever data is available (even the offline sample),
#                   into results/standard/; the committed results are left alone
# make smoke      - the same on the smoke settings, into results/smoke/ (a couple of minutes)
# make bench      - the NumPy-vs-Keras benchmark table (results/benchmark.md)
# make export     - write the notebooks' `#| export` cells to their modules (numpy_net.py, keras_models.py)
# make mutate     - issue 29's planted bugs, then mutation testing (mutmut) of numpy_net.py, train.py,
#                   common/metrics.py, common/data.py and study.py with the tests that cover them;
#                   not part of `make test` (see [tool.mutmut])
# DATASET=fashion_mnist (or kmnist) runs the notebooks on another dataset, into results/<dataset>/. Each target creates .venv from requirements.txt first when it is missing
# or out of date.

PYTHON  ?= python3
DATASET ?= mnist
# DATASET reaches Python and the notebooks only through the environment (never pasted into source
# or an unquoted command line), so a folder with spaces or apostrophes works as it is.
export MNIST_DATASET := $(DATASET)
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
NOTEBOOKS := from_scratch_numpy/basic_algorithm_numpy.ipynb \
             advance_pipeline_tensorflow/advanced_algorithm_keras_pipeline.ipynb

.PHONY: install test check-data reproduce quick smoke bench lint clean demo mutate export

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

# The planted bugs of tests/test_planted_bugs.py (a pytest process each) run in `make mutate`.
test: $(STAMP)
	$(PY) -m pytest -m "not planted"

# $(call run_notebooks,MODE): MODE and DATASET reach the notebooks' `parameters` cell through the
# environment (MNIST_MODE, MNIST_DATASET), never papermill's -p, so no injected cell is written.
# A full run on MNIST writes each notebook back in place; any other run writes executed copies
# into the folder that common.results.results_dir(DATASET, MODE) gives. Then RESULTS.md is rebuilt
# there (and, for results/ itself, the README tables).
define run_notebooks
	@out=$$(MNIST_MODE=$(1) $(PY) -c "import os; from common.data import results_name; \
	  from common.results import results_dir; \
	  print(os.path.relpath(results_dir(results_name(os.environ['MNIST_DATASET']), '$(1)')))") \
	  && [ -n "$$out" ] || { echo "make $(1): no results folder for DATASET=$$MNIST_DATASET (see above)" >&2; exit 1; }; \
	for nb in $(NOTEBOOKS); do \
	  dest="$$out/$$(basename "$$nb")"; [ "$(1)/$$MNIST_DATASET" = full/mnist ] && dest=$$nb; \
	  echo "== $$nb ($(1), $$MNIST_DATASET) -> $$dest"; start=$$(date +%s); \
	  MNIST_MODE=$(1) $(VENV)/bin/papermill "$$nb" "$$dest" \
	    --cwd "$$(dirname "$$nb")" --no-progress-bar || exit 1; \
	  echo "   done in $$(( $$(date +%s) - start )) s"; \
	done; \
	$(PY) -m common.results "$$out"
endef

# A full run must never publish numbers of the 5,000-digit offline sample: load the genuine data
# first (this also downloads and caches it when the network allows).
check-data: $(STAMP)
	@$(PY) -c "import os; from common.data import load_dataset; load_dataset(os.environ['MNIST_DATASET'], allow_sample=False)" \
	  || { echo; echo "make reproduce needs the genuine $$MNIST_DATASET data and could neither find nor download it."; \
	       echo "Put the four IDX files (train-images-idx3-ubyte.gz, ...) in a folder and run"; \
	       echo "  MNIST_DATA_DIR=/path/to/that/folder make reproduce"; \
	       echo "or connect to the internet once (the data is then cached). For a run on whatever data is"; \
	       echo "available, the offline sample included, use 'make quick' (results in results/standard/)."; \
	       exit 1; }

reproduce: check-data
	$(if $(filter mnist,$(DATASET)),$(PY) benchmarks/bench.py)
	$(call run_notebooks,full)

quick: $(STAMP)
	$(call run_notebooks,standard)

smoke: $(STAMP)
	$(call run_notebooks,smoke)

bench: $(STAMP)
	$(PY) benchmarks/bench.py
	$(PY) -m common.results

export: $(STAMP)
	$(PY) -m common.export

# make demo       - a local web app: draw or upload a digit, both models' probabilities (Ctrl+C stops)
demo: $(STAMP)
	GRADIO_ANALYTICS_ENABLED=False $(PY) -m demo.app

# First issue 29's planted bugs (tests/test_planted_bugs.py): each applied to a copy of the code,
# where the tests named for it must fail. Then mutmut, which copies the code and tests into mutants/
# and imports them from there, so PYTHONPATH must not point at the originals. MUTANTS limits the run
# to some modules, e.g. make mutate MUTANTS='from_scratch_numpy.train*' (mutmut's names, fnmatch).
# Prints the survivors (`mutmut show <name>` shows one), then the score per module.
MUTANTS ?=
mutate: $(STAMP)
	$(PY) -m pip install --quiet "mutmut==3.8.*"
	nice -n 10 $(PY) -m pytest -q -p no:cacheprovider -m planted tests/test_planted_bugs.py
	rm -rf mutants
	env -u PYTHONPATH nice -n 10 $(VENV)/bin/mutmut run --max-children 2 $(MUTANTS)
	@env -u PYTHONPATH $(VENV)/bin/mutmut results --all true | grep -v ": killed$$" || true
	@env -u PYTHONPATH $(VENV)/bin/mutmut results --all true | awk -F': ' '/__mutmut_/ { \
	  m = $$1; gsub(/ /, "", m); sub(/\.x[^.]*$$/, "", m); n[m]++; k[m] += ($$2 == "killed") } \
	  END { for (m in n) printf "%s: %d of %d mutants killed (%.1f%%)\n", m, k[m], n[m], 100 * k[m] / n[m] }'

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache results/smoke results/quick results/standard mutants
