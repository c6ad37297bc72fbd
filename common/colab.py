"""Google Colab: the repository address (kept here only), "Open in Colab" badges, bootstrap cells.
A fork changes ``REPO`` and runs ``python -m common.colab``; tests/test_colab.py checks the sync."""

import json
import re
import sys
from pathlib import Path

REPO = "OguzBerkAydin/mnist_derin_ogrenme"
BRANCH = "main"

NOTEBOOKS = {
    "from_scratch_numpy/basic_algorithm_numpy.ipynb": "[demo]",  # pip extras the notebook needs on Colab
    "advance_pipeline_tensorflow/advanced_algorithm_keras_pipeline.ipynb": "[tf,demo]",
}
BOOTSTRAP_TAG = "colab-bootstrap"


def _badge_re(notebook: str = "") -> re.Pattern:
    """An "Open in Colab" badge (pointing at ``notebook``, if given) in Markdown."""
    return re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*" + re.escape(notebook) + r"\)")


def badge(notebook: str, repo: str = REPO, branch: str = BRANCH) -> str:
    """Markdown for an "Open in Colab" badge opening ``notebook`` (a path inside the repository)."""
    url = f"https://colab.research.google.com/github/{repo}/blob/{branch}/{notebook}"
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({url})"


def bootstrap_source(extras: str = "", repo: str = REPO) -> str:
    """The first code cell of each notebook: on Colab, install this repository (non-editable)."""
    return f"""# Colab bootstrap. On Google Colab, install this repository's package (`common` and the lesson
# code) from GitHub; a plain, non-editable install, which Colab picks up without a restart.
# Locally this cell does nothing: `make test` / `make reproduce` have installed everything.
import subprocess
import sys

REPO_URL = "https://github.com/{repo}"
IN_COLAB = "google.colab" in sys.modules
if IN_COLAB:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", f"mnist-derin-ogrenme{extras} @ git+{{REPO_URL}}"],
        check=True,
    )"""


def sync(root: Path, repo: str = REPO) -> list[Path]:
    """Point the badges (READMEs, each notebook's first markdown cell) and bootstrap cells (first
    code cell) under ``root`` at ``repo``; return the files changed."""
    changed = []
    for rel, extras in NOTEBOOKS.items():
        if not (path := root / rel).is_file():
            continue
        nb = json.loads(path.read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        cell = next((c for c in code if BOOTSTRAP_TAG in c["metadata"].get("tags", [])), code[0])
        first_md = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
        before = json.dumps([cell, first_md])
        cell["source"] = bootstrap_source(extras, repo).splitlines(keepends=True)
        tags = cell["metadata"].setdefault("tags", [])
        tags += [] if BOOTSTRAP_TAG in tags else [BOOTSTRAP_TAG]
        text, new_badge = "".join(first_md["source"]), badge(rel, repo)
        text, found = _badge_re().subn(new_badge, text)
        text = text if found else f"{new_badge}\n\n{text}"
        first_md["source"] = text.splitlines(keepends=True)
        if json.dumps([cell, first_md]) != before:
            text = json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False)
            path.write_text(text + "\n", encoding="utf-8")
            changed.append(path)
    for readme in sorted(root.glob("README*.md")):
        new = text = readme.read_text(encoding="utf-8")
        for rel in NOTEBOOKS:
            new = _badge_re(rel).sub(badge(rel, repo), new)
        if new != text:
            readme.write_text(new, encoding="utf-8")
            changed.append(readme)
    return changed


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    for p in sync(root):
        print("updated", p)
