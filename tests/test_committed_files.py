"""What is committed is what a learner may read: notebooks without papermill's injected cell or
error outputs and small enough to open, and no absolute path of the machine that produced them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

MAX_NOTEBOOK_BYTES = 500_000
# an absolute local path: a home, temporary or work folder on Unix/macOS, or a Windows drive
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])(/(?:work|home|tmp|root|Users)/|\b[A-Za-z]:\\)")


def _committed(*patterns: str) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--", *patterns],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [name for name in out.splitlines() if (REPO_ROOT / name).is_file()]


NOTEBOOKS = _committed("*.ipynb")


def test_the_scan_finds_notebooks():
    assert len(NOTEBOOKS) >= 2, NOTEBOOKS


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_has_no_injected_cell_no_errors_and_is_small(notebook):
    path = REPO_ROOT / notebook
    nb = json.loads(path.read_text(encoding="utf-8"))
    injected = [
        i
        for i, c in enumerate(nb["cells"])
        if "injected-parameters" in c["metadata"].get("tags", [])
    ]
    assert not injected, (
        f"papermill's injected-parameters cell (cell {injected}) overrides MODE: run with MNIST_MODE, not -p"
    )
    assert not nb["metadata"].get("papermill", {}).get("parameters"), "executed with papermill -p"
    errors = [
        i
        for i, c in enumerate(nb["cells"])
        for o in c.get("outputs", [])
        if o["output_type"] == "error"
    ]
    assert not errors, f"error outputs in cells {errors}"
    assert path.stat().st_size <= MAX_NOTEBOOK_BYTES, f"{path.stat().st_size:,} bytes"


def test_the_path_pattern_catches_local_paths_only():
    for text in [
        '"location": "/work/shared/data/mnist"',
        "in /home/alice/x",
        "`/tmp/run`",
        "(/root/.cache)",
        "/Users/bob/mnist",
        r'"C:\\Users\\bob"',
        "D:\\data",
    ]:
        assert ABSOLUTE_PATH.search(text), text
    for text in [
        "https://example.org/home/x",
        "$MNIST_DATA_DIR",
        "results/figures/numpy/a.png",
        "~/work/x",
        "data/tmp/x",
        "http://localhost:7860/",
    ]:
        assert not ABSOLUTE_PATH.search(text), text


def _texts(name: str) -> list[str]:
    """The text of a committed file; for JSON (and notebooks) every string in it, decoded."""
    text = (REPO_ROOT / name).read_text(encoding="utf-8")
    if not name.endswith((".json", ".ipynb")):
        return text.splitlines()
    found, todo = [], [json.loads(text)]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            found += item.splitlines()
        elif isinstance(item, (dict, list)):
            todo += list(item.values()) + list(item) if isinstance(item, dict) else item
    return found


def test_no_absolute_local_paths_in_committed_results_notebooks_and_readmes():
    files = [
        f
        for f in _committed("results/", "*.ipynb", "README*", "*/README*")
        if not f.endswith((".png", ".keras", ".npz"))  # images and shipped weights: binary
    ]
    assert any(f.startswith("results/") and f.endswith(".json") for f in files)
    found = [
        f"{name}: {line.strip()[:120]}"
        for name in files
        for line in _texts(name)
        if ABSOLUTE_PATH.search(line)
    ]
    assert not found, (
        "absolute local paths (use $MNIST_DATA_DIR or a repository-relative path):\n"
        + "\n".join(found)
    )


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_reproduce_stops_without_the_genuine_data_instead_of_using_the_sample(tmp_path):
    """No data, no network: `make reproduce` must not overwrite the full-MNIST results."""
    env = {k: v for k, v in os.environ.items() if k != "MNIST_DATA_DIR"}
    env |= {"HOME": str(tmp_path), "MNIST_OFFLINE": "1", "MNIST_CACHE_DIR": str(tmp_path / "c")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    stamp = ".venv/.installed"  # -o: take the environment as installed, do not build .venv
    run = subprocess.run(
        ["make", "-s", "-o", stamp, "reproduce", f"PY={sys.executable}"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode != 0
    assert "needs the genuine mnist data" in run.stdout and "MNIST_DATA_DIR=" in run.stdout
    assert "make quick" in run.stdout
    assert "papermill" not in run.stdout + run.stderr, "a notebook was started"


@pytest.mark.parametrize("ci", ["true", ""])
def test_ci_entry_point_fails_without_the_genuine_mnist_under_ci(tmp_path, ci):
    """Under CI the genuine MNIST beside the project is expected: missing, it is an error."""
    (tmp_path / "project" / ".ci").mkdir(parents=True)
    shutil.copy(REPO_ROOT / ".ci" / "run", tmp_path / "project" / ".ci" / "run")
    (tmp_path / "project" / "Makefile").write_text("test:\n\t@echo TESTS RAN\n")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "MNIST_DATA_DIR")} | {"CI": ci}
    run = subprocess.run(
        ["bash", str(tmp_path / "project" / ".ci" / "run")], env=env, capture_output=True, text=True
    )
    if ci:
        assert run.returncode == 1 and "TESTS RAN" not in run.stdout
        assert "CI expects the genuine MNIST in ../shared/data/mnist" in run.stderr
    else:  # a contributor's machine: the tests run, the genuine-MNIST ones skip
        assert run.returncode == 0 and "TESTS RAN" in run.stdout
