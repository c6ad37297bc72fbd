"""The Colab path, as far as this machine allows: badges, the bootstrap cell, the installable package."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import types
import zipfile

import pytest
from conftest import REPO_ROOT

from common import colab

NOTEBOOKS = list(colab.NOTEBOOKS)


def _bootstrap_cell(notebook: str) -> str:
    nb = json.loads((REPO_ROOT / notebook).read_text(encoding="utf-8"))
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert colab.BOOTSTRAP_TAG in first_code["metadata"].get("tags", []), (
        "the bootstrap must be the first code cell"
    )
    return "".join(first_code["source"])


def _run_bootstrap(source: str, monkeypatch, in_colab: bool) -> list[list[str]]:
    calls: list[list[str]] = []
    monkeypatch.setattr(
        subprocess,
        "run",
        lambda cmd, **kw: calls.append(cmd) or subprocess.CompletedProcess(cmd, 0),
    )
    if in_colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "<bootstrap>", "exec"), {})
    return calls


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_bootstrap_installs_this_repository_on_colab(notebook, monkeypatch):
    calls = _run_bootstrap(_bootstrap_cell(notebook), monkeypatch, in_colab=True)
    assert len(calls) == 1
    cmd = calls[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    target = cmd[-1]
    extras = colab.NOTEBOOKS[notebook]
    assert target == f"mnist-derin-ogrenme{extras} @ git+https://github.com/{colab.REPO}"
    assert "-e" not in cmd and "--editable" not in cmd, "Colab does not pick up editable installs"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_bootstrap_does_nothing_locally(notebook, monkeypatch):
    assert _run_bootstrap(_bootstrap_cell(notebook), monkeypatch, in_colab=False) == []


def test_badges_and_bootstraps_are_in_sync(tmp_path):
    """Running `python -m common.colab` on the committed files changes nothing."""
    for rel in [*NOTEBOOKS, "README.md", "README.tr.md"]:
        if (REPO_ROOT / rel).exists():
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO_ROOT / rel, tmp_path / rel)
    assert colab.sync(tmp_path) == []
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for rel in NOTEBOOKS:
        assert colab.badge(rel) in readme


def test_sync_rewrites_for_a_fork(tmp_path):
    for rel in [*NOTEBOOKS, "README.md"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / rel, tmp_path / rel)
    changed = colab.sync(tmp_path, repo="someone/fork")
    assert len(changed) == 3
    for rel in NOTEBOOKS:
        text = (tmp_path / rel).read_text(encoding="utf-8")
        assert "someone/fork" in text and colab.REPO not in text
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    for rel in NOTEBOOKS:
        assert colab.badge(rel, repo="someone/fork") in readme


def test_package_builds_with_the_notebooks_code(tmp_path):
    """What the bootstrap installs: a wheel holding common and both lesson packages."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO_ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("mnist_derin_ogrenme-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for module in (
        "common/data.py",
        "common/metrics.py",
        "common/plots.py",
        "from_scratch_numpy/numpy_net.py",
        "advance_pipeline_tensorflow/keras_models.py",
    ):
        assert module in names
