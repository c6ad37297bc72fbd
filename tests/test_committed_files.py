"""What is committed is what a learner may read: notebooks without papermill's injected cell or
error outputs and small enough to open, and no absolute path of the machine that produced them."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from conftest import REPO_ROOT

MAX_NOTEBOOK_BYTES = 500_000
# an absolute local path: a home, temporary or work folder on Unix/macOS, or a Windows drive
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])(/(?:work|home|tmp|root|Users)/|\b[A-Za-z]:\\)")


def _committed(*patterns: str) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "--", *patterns], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [name for name in out.splitlines() if (REPO_ROOT / name).is_file()]


NOTEBOOKS = _committed("*.ipynb")


def test_the_scan_finds_notebooks():
    assert len(NOTEBOOKS) >= 2, NOTEBOOKS


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_notebook_has_no_injected_cell_no_errors_and_is_small(notebook):
    path = REPO_ROOT / notebook
    nb = json.loads(path.read_text(encoding="utf-8"))
    injected = [i for i, c in enumerate(nb["cells"]) if "injected-parameters" in c["metadata"].get("tags", [])]
    assert not injected, f"papermill's injected-parameters cell (cell {injected}) overrides MODE: run with MNIST_MODE, not -p"
    assert not nb["metadata"].get("papermill", {}).get("parameters"), "executed with papermill -p"
    errors = [i for i, c in enumerate(nb["cells"]) for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, f"error outputs in cells {errors}"
    assert path.stat().st_size <= MAX_NOTEBOOK_BYTES, f"{path.stat().st_size:,} bytes"


def test_the_path_pattern_catches_local_paths_only():
    for text in ['"location": "/work/shared/data/mnist"', "in /home/alice/x", "`/tmp/run`",
                 "(/root/.cache)", "/Users/bob/mnist", r'"C:\\Users\\bob"', "D:\\data"]:
        assert ABSOLUTE_PATH.search(text), text
    for text in ["https://example.org/home/x", "$MNIST_DATA_DIR", "results/figures/numpy/a.png",
                 "~/work/x", "data/tmp/x", "http://localhost:7860/"]:
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
    files = [f for f in _committed("results/", "*.ipynb", "README*", "*/README*") if not f.endswith(".png")]
    assert any(f.startswith("results/") and f.endswith(".json") for f in files)
    found = [f"{name}: {line.strip()[:120]}" for name in files for line in _texts(name) if ABSOLUTE_PATH.search(line)]
    assert not found, "absolute local paths (use $MNIST_DATA_DIR or a repository-relative path):\n" + "\n".join(found)
