"""The notebooks are the lesson's source: their `#| export` cells are written to one module each by
nbdev's exporter (``make export``, i.e. ``python -m common.export``); tests/test_export.py fails when
a module and its notebook differ."""

import shutil
import sys
import tempfile
from pathlib import Path

from common.results import atomic_write

ROOT = Path(__file__).resolve().parents[1]
MODULES = {  # notebook -> the module its export cells are written to (paths inside the repository)
    "from_scratch_numpy/basic_algorithm_numpy.ipynb": "from_scratch_numpy/numpy_net.py",
    "advance_pipeline_tensorflow/advanced_algorithm_keras_pipeline.ipynb":
        "advance_pipeline_tensorflow/keras_models.py",
}


def exported_text(notebook: str, module: str, root: Path = ROOT) -> str:
    """The module nbdev writes from the `#| export` cells of ``notebook`` (paths inside ``root``).
    It exports a copy in a temporary folder (at the same relative place, so the generated header
    names the same notebook) and touches nothing in ``root``."""
    if not (root / notebook).is_file():
        raise FileNotFoundError(f"{root / notebook}: no such notebook")
    from nbdev.export import nb_export  # a development tool: only `make export` and the tests

    with tempfile.TemporaryDirectory() as tmp:
        copy, target = Path(tmp) / notebook, Path(tmp) / module
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / notebook, copy)
        nb_export(str(copy), lib_path=str(target.parent), name=target.stem, solo_nb=True)
        if not target.is_file():
            raise ValueError(f"{notebook} has no cell whose first line is '#| export'")
        return target.read_text(encoding="utf-8")


def export(notebook: str, module: str, root: Path = ROOT) -> Path:
    """Write ``notebook``'s export cells to ``module`` (atomically); returns the module's path."""
    text = exported_text(notebook, module, root)
    return atomic_write(root / module, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def main(names: list[str]) -> None:
    """Export every notebook of ``MODULES`` (or only those named) to its module."""
    unknown = sorted(set(names) - set(MODULES))
    if unknown:
        sys.exit(f"unknown notebook(s) {unknown}; known: {sorted(MODULES)}")
    for notebook in names or MODULES:
        export(notebook, MODULES[notebook])
        print(f"{notebook} -> {MODULES[notebook]}")


if __name__ == "__main__":
    main(sys.argv[1:])
