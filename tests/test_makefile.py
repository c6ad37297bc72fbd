"""The Makefile's notebook targets with a stand-in papermill: DATASET reaches Python only through
the environment (spaces, apostrophes), and a bad DATASET stops make loudly, writing nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_arrays, write_idx_dir

ROOT = Path(__file__).resolve().parents[1]

PAPERMILL = """#!/bin/sh
# stand-in papermill: records where it was asked to write, then writes a copy there
printf '%s\\t%s\\t%s\\n' "$2" "$MNIST_MODE" "$MNIST_DATASET" >> "$PAPERMILL_LOG"
cp "$1" "$2"
"""


@pytest.fixture
def fake_venv(tmp_path):
    """A .venv whose python is this one and whose papermill only records its calls."""
    if shutil.which("make") is None:
        pytest.skip("no make here")
    bin_ = tmp_path / "venv" / "bin"
    bin_.mkdir(parents=True)
    (bin_ / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_ / "papermill").write_text(PAPERMILL)
    for tool in bin_.iterdir():
        tool.chmod(0o755)
    (tmp_path / "venv" / ".installed").touch()  # newer than requirements.txt: no install
    return tmp_path / "venv"


def _make(target, venv, tmp_path, dataset):
    env = {**os.environ, "MNIST_RESULTS_DIR": str(tmp_path / "results")}
    env |= {"PAPERMILL_LOG": str(tmp_path / "papermill.log"), "PYTHONPATH": str(ROOT)}
    command = ["make", "-C", str(ROOT), target, f"VENV={venv}", f"DATASET={dataset}"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def _calls(tmp_path) -> list[list[str]]:
    log = tmp_path / "papermill.log"
    return [line.split("\t") for line in log.read_text().splitlines()] if log.exists() else []


def test_make_smoke_on_a_folder_with_spaces_and_an_apostrophe(fake_venv, tmp_path):
    from common.data import custom_name

    folder = write_idx_dir(tmp_path / 'my digits\'s "best"', make_arrays(n_train=20, n_test=10))
    before = sorted(p.name for p in ROOT.iterdir())
    run = _make("smoke", fake_venv, tmp_path, folder)
    assert run.returncode == 0, run.stdout + run.stderr
    own = tmp_path / "results" / custom_name(folder) / "smoke"
    calls = _calls(tmp_path)
    assert [Path(dest).resolve().parent for dest, _, _ in calls] == [own.resolve()] * 2, calls
    assert {(mode, dataset) for _, mode, dataset in calls} == {("smoke", str(folder))}
    assert (own / "RESULTS.md").is_file()
    assert sorted(p.name for p in ROOT.iterdir()) == before, "nothing stray in the repository"


@pytest.mark.parametrize("dataset", ["no/such/folder", "it's missing"])
def test_make_smoke_on_a_bad_dataset_fails_loudly_and_writes_nothing(fake_venv, tmp_path, dataset):
    before = sorted(p.name for p in ROOT.iterdir())
    run = _make("smoke", fake_venv, tmp_path, dataset)
    assert run.returncode != 0
    assert "no results folder for DATASET=" in run.stderr and dataset in run.stderr
    assert _calls(tmp_path) == [], "papermill never ran"
    assert sorted(p.name for p in ROOT.iterdir()) == before
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").rglob("*.md"))
