"""benchmarks/bench_numpy_vs_keras.py: the FLOP count, the matmul limit, and a smoke run end to end."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from common.results import results_dir

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_numpy_vs_keras.py"
HAS_TF = importlib.util.find_spec("tensorflow") is not None


@pytest.fixture(scope="module")
def bench():
    """The benchmark script imported as a module (it is a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("bench_numpy_vs_keras", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_flops_per_sample_counts_the_executed_products(bench):
    f = bench.flops_per_sample([784, 512, 10])
    assert f["forward"] == 2 * (784 * 512 + 512 * 10)
    # weight gradients of both layers, input gradient of the second layer only
    assert f["backward"] == 2 * (784 * 512 + 512 * 10) + 2 * 512 * 10
    assert f["train"] == f["forward"] + f["backward"]
    assert f["conventional_3x_forward"] == 3 * f["forward"]
    ops = bench.step_products([784, 512, 10], 128)
    assert sum(2 * m * k * n for _, _, (m, k, n) in ops) == 128 * f["train"]
    assert [kind for _, kind, _ in ops] == ["fwd", "fwd", "wgrad", "igrad", "wgrad"]


def test_matmul_limit_on_tiny_shapes(bench):
    lim = bench.matmul_limit([20, 8, 3], 4, "float32", trials=2, min_seconds=0.001)
    assert lim["gflops"] > 0 and lim["square_1024_gflops"] > 0
    assert len(lim["products"]) == 5
    assert lim["step_flops"] == 4 * bench.flops_per_sample([20, 8, 3])["train"]


@pytest.mark.parametrize(
    "argv", [["--sizes", "10,10"], ["--repeats", "-1"], ["--lr", "0"], ["--sizes", "784,x,10"]]
)
def test_bad_arguments_are_refused(bench, argv):
    with pytest.raises(SystemExit):
        bench.parse_args(argv)


def test_smoke_run_prints_and_writes_the_tables(bench, monkeypatch, capsys):
    """The whole script on the offline 5,000-digit sample: every row present, values sane."""
    monkeypatch.delenv("MNIST_DATA_DIR", raising=False)  # the small offline data, not full MNIST
    argv = ["--smoke", "--no-xla"] + ([] if HAS_TF else ["--no-keras"])
    res = bench.main(argv)

    out = capsys.readouterr().out
    for title in (
        bench.TABLE_THROUGHPUT,
        bench.TABLE_TARGETS,
        bench.TABLE_MATMUL,
        bench.TABLE_MEMORY,
    ):
        assert f"## {title}" in out
    assert "SMOKE RUN" in out

    record = json.loads((results_dir() / "benchmark.json").read_text())
    assert (results_dir() / "benchmark.md").read_text().strip() == out.strip()
    tables = record["metrics"]["tables"]
    runs = [row["run"] for row in tables[bench.TABLE_THROUGHPUT]]
    assert runs[0] == "NumPy (from scratch)"
    assert runs[-1].startswith("NumPy, original notebook: 784-128-10")
    assert ("Keras, same network and settings" in runs) == HAS_TF
    assert "jit_compile=True" not in out  # no XLA row with --no-xla
    assert [t["result"] in ("PASS", "FAIL") for t in tables[bench.TABLE_TARGETS]] == [True] * (
        3 if HAS_TF else 2
    )
    assert record["config"]["mode"] == "smoke"
    # the benchmark trains the notebook's improved settings (numpy_net.IMPROVED)
    from from_scratch_numpy import numpy_net

    assert record["config"]["network"]["sizes"] == list(numpy_net.IMPROVED["sizes"])
    assert record["config"]["network"]["batch_size"] == numpy_net.IMPROVED["batch_size"]
    assert record["config"]["network_source"].startswith("from_scratch_numpy.numpy_net.IMPROVED")

    summary = res["summary"]
    for name in ("numpy", "baseline") + (("keras",) if HAS_TF else ()):
        s = summary[name]
        assert s["samples_per_s"] > 0 and s["gflops"] > 0 and s["first_epoch_s"] > 0
        assert 0 <= s["final_test_accuracy"] <= 1
    assert summary["numpy"]["steady_epoch_s"] > 0  # smoke runs 2 epochs: the steady path is used
    assert res["matmul"]["float32"]["gflops"] > 0
    assert res["memory"]["n_train"] == 1000
    assert 50e6 < res["memory"]["peak_rss_bytes"] < 4e9
    assert res["data_is_sample"]
