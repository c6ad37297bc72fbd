"""benchmarks/bench.py: the FLOP count, the matmul limit, and a smoke run of the whole script."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench.py"


@pytest.fixture(scope="module")
def bench():
    """The benchmark script imported as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("bench", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flops_per_sample_counts_the_products_a_step_executes(bench):
    import numpy as np

    sizes = [784, 512, 10]
    # forward and weight gradient of both layers; input gradient of the second layer only
    assert bench.flops_per_sample(sizes) == 2 * (2 * (784 * 512 + 512 * 10) + 512 * 10)
    products = bench.step_products(sizes, 4, np.float32, np.random.default_rng(0))
    assert len(products) == 5
    assert sum(
        2 * A.shape[0] * A.shape[1] * B.shape[1] for A, B in products
    ) == 4 * bench.flops_per_sample(sizes)


def test_matmul_limit_on_tiny_shapes_is_a_positive_rate(bench):
    assert bench.matmul_limit([20, 8, 3], 4, "float32", seconds=0.01) > 0


def test_smoke_run_writes_the_tables_the_json_and_the_chart(tmp_path):
    env = {**os.environ, "MNIST_RESULTS_DIR": str(tmp_path)}
    subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"],
        check=True,
        env=env,
        timeout=900,  # a hang guard: about 30 s on an idle 2-core machine
        capture_output=True,
        text=True,
    )
    record = json.loads((tmp_path / "smoke" / "benchmark.json").read_text())
    rows = record["metrics"]["tables"]["Training speed"]
    assert [r["run"] for r in rows] == [
        "NumPy plain",
        "NumPy fast",
        "Keras",
        "original (NumPy plain)",
        "NumPy CNN",
    ]
    every = record["metrics"]["every_run"]  # A B .. B A A B ..; each row keeps its fastest
    names = [r["run"] for r in rows]
    assert [r["row"] for r in every] == names + names[::-1] + names
    for i, run in enumerate(record["metrics"]["runs"]):
        three = [every[i], every[2 * len(names) - 1 - i], every[2 * len(names) + i]]
        assert {r["row"] for r in three} == {names[i]}
        assert run["samples_per_s"] == max(r["samples_per_s"] for r in three)
        fastest = min(t for r in three for t in r["epoch_s"][1:])  # the spell-free epoch
        assert rows[i]["fastest epoch, samples/s"] == f"{1024 / fastest:,.0f}"
        assert run["samples_per_s"] > 0 and len(run["test_accuracy"]) == 2
        assert 0 <= run["test_accuracy"][-1] <= 1 and run["peak_rss_mb"] > 0
    assert "PASS" not in (tmp_path / "smoke" / "benchmark.md").read_text()
    assert (tmp_path / "smoke" / "figures" / "benchmark.png").stat().st_size > 1000


def test_bad_arguments_are_refused():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--epochs", "0"], capture_output=True, text=True
    )
    assert out.returncode == 2 and "--epochs must be >= 1" in out.stderr


def test_profile_step_prints_one_row_per_network():
    script = SCRIPT.with_name("profile_step.py")
    out = subprocess.run(
        [sys.executable, str(script), "--steps", "5"], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| ") and "ms" not in line]
    names = [row.split(" | ")[0].lstrip("| ") for row in rows]
    assert names == ["plain", "fast"]
    for row in rows:
        step_ms, percent = (float(c) for c in row.strip("| ").split(" | ")[-2:])
        assert step_ms > 0 and 0 < percent


def test_cnn_flops_per_sample_by_hand(bench):
    """The notebook's CNN (no padding): per sample, conv 1 multiplies 26*26 patches of 3*3*1 by
    16 filters, conv 2 11*11 patches of 3*3*16 by 32, then Dense 800-128 and 128-10. Forward and
    weight gradient of every layer, the input gradient of all but the first."""
    per_layer = [2 * 676 * 9 * 16, 2 * 121 * 144 * 32, 2 * 800 * 128, 2 * 128 * 10]
    assert bench.cnn_flops_per_sample() == 3 * sum(per_layer) - per_layer[0] == 4_356_864
    tiny = dict(filters=(2, 3), padding=0, hidden=4, dropout=0.0)  # 28 -> 26 -> 13 -> 11 -> 5
    assert bench.cnn_product_shapes(tiny) == [(676, 9, 2), (121, 18, 3), (1, 75, 4), (1, 4, 10)]
    assert bench.cnn_matmul_limit(2, seconds=0.01, settings=tiny) > 0


def test_the_cnn_row_trains_the_notebooks_cnn(bench):
    """The benchmark's CNN is cnn()'s defaults at the notebook's CNN_LR: the two are written in
    two places, so a change to one must reach the other."""
    import ast
    import inspect
    import re

    from from_scratch_numpy import numpy_net as nn

    defaults = {
        name: p.default for name, p in inspect.signature(nn.cnn).parameters.items()
        if name in bench.CNN_SETTINGS
    }  # fmt: skip
    assert defaults == bench.CNN_SETTINGS
    notebook = json.loads((SCRIPT.parents[1] / "from_scratch_numpy" /
                           "basic_algorithm_numpy.ipynb").read_text(encoding="utf-8"))  # fmt: skip
    sources = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    found = [re.search(r"^CNN_LR, CNN_EPOCHS = ([^,]+),", s, re.M) for s in sources]
    (lr,) = [ast.literal_eval(m.group(1)) for m in found if m]
    assert lr == bench.CNN_LR
