"""Installs as users install it: every third-party module the code and the notebooks import is a
declared dependency (pyproject.toml: the core, or the extra that part of the code is installed with),
and requirements.txt holds all of them.

Import names map to distributions through importlib.metadata.packages_distributions(), so a module
must be installed to be mapped (``make test`` installs requirements.txt).
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from common.colab import NOTEBOOKS

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    from pip._vendor import tomli as tomllib

FIRST_PARTY = {
    "common",
    "from_scratch_numpy",
    "advance_pipeline_tensorflow",
    "demo",
    "benchmarks",
    "tests",
}
# folder -> extras its code is installed with. Top-level imports of common/ and from_scratch_numpy/
# must be core: the NumPy notebook runs on a plain `pip install` (imports inside functions may use
# an extra: e.g. common.tf_data imports TensorFlow only when called).
FOLDERS = {
    "common": ("tf", "dev"),  # dev: nbdev, for make export only
    "from_scratch_numpy": ("tf",),
    "advance_pipeline_tensorflow": ("tf",),
    "demo": ("tf", "demo"),
    "benchmarks": ("tf", "bench"),
}
CORE_AT_TOP_LEVEL = ("common", "from_scratch_numpy")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(line: str) -> str | None:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line.split("#")[0])
    return _norm(match[1]) if match else None


def declared(root: Path) -> dict[str, set[str]]:
    """{"": core distributions, extra: its distributions} from pyproject.toml."""
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    out = {"": {_requirement_name(r) for r in project["dependencies"]}}
    for extra, reqs in project.get("optional-dependencies", {}).items():
        out[extra] = {_requirement_name(r) for r in reqs}
    return out


def imports(source: str) -> list[tuple[str, bool]]:
    """(top-level module name, imported at module level?) for each absolute import in ``source``."""
    tree = ast.parse(source)
    nested = {
        id(n)
        for f in ast.walk(tree)
        if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
        for n in ast.walk(f)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(name.split(".")[0], id(node) not in nested) for name in names]
    return found


def notebook_code(path: Path) -> str:
    """The code cells of a notebook, IPython magics and shell lines left out."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    lines = [
        line
        for c in cells
        if c["cell_type"] == "code"
        for line in "".join(c["source"]).splitlines()
        if not line.lstrip().startswith(("%", "!"))
    ]
    return "\n".join(lines)


def undeclared(root: Path, notebooks: dict[str, str]) -> list[str]:
    """Every third-party import under ``root`` that its install does not declare, as messages."""
    deps = declared(root)
    to_dists = importlib.metadata.packages_distributions()
    sources = []  # (where, source, extras allowed anywhere, extras allowed in nested imports)
    for folder, extras in FOLDERS.items():
        for path in sorted((root / folder).rglob("*.py")):
            top = () if folder in CORE_AT_TOP_LEVEL else extras
            sources.append((path.relative_to(root), path.read_text(encoding="utf-8"), top, extras))
    for notebook, extras in notebooks.items():  # "[tf]" -> ("tf",)
        names = tuple(re.findall(r"\w+", extras))
        sources.append((notebook, notebook_code(root / notebook), names, names))
    problems = []
    for where, source, top_extras, nested_extras in sources:
        local = {p.stem for p in (root / where).parent.glob("*.py")}  # scripts beside each other
        for module, at_top in set(imports(source)):
            if module in sys.stdlib_module_names or module in FIRST_PARTY | local | {"__future__"}:
                continue
            extras = top_extras if at_top else nested_extras
            allowed = set().union(deps[""], *(deps.get(e, set()) for e in extras))
            dists = {_norm(d) for d in to_dists.get(module, [])}
            where_what = f"{where}: imports {module!r}"
            if not dists:
                problems.append(f"{where_what}, which no installed distribution provides")
            elif not dists & allowed:
                declared_in = "core" + "".join(f" or [{e}]" for e in extras)
                problems.append(
                    f"{where_what} ({', '.join(sorted(dists))}), not declared in {declared_in}"
                )
    return sorted(problems)


def test_every_import_of_the_code_and_notebooks_is_a_declared_dependency():
    assert undeclared(REPO_ROOT, NOTEBOOKS) == []


def test_requirements_txt_holds_everything_the_package_declares():
    listed = {
        _requirement_name(line)
        for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
    }
    for extra, dists in declared(REPO_ROOT).items():
        assert dists <= listed, (
            f"[{extra or 'core'}] {sorted(dists - listed)} missing from requirements.txt"
        )


def test_pandas_styler_users_declare_jinja2():
    """DataFrame.style renders through jinja2, which pandas does not install."""
    sources = [notebook_code(REPO_ROOT / nb) for nb in NOTEBOOKS]
    sources += [
        p.read_text(encoding="utf-8") for f in FOLDERS for p in (REPO_ROOT / f).rglob("*.py")
    ]
    if any(re.search(r"\.style\.(?!use\b)", s) for s in sources):
        assert "jinja2" in declared(REPO_ROOT)[""]


def _tree(tmp_path: Path, module: str, notebook_cell: str) -> Path:
    (tmp_path / "common").mkdir()
    (tmp_path / "common" / "x.py").write_text(module)
    nb = {"cells": [{"cell_type": "code", "source": [notebook_cell], "metadata": {}}]}
    (tmp_path / "nb.ipynb").write_text(json.dumps(nb))
    (tmp_path / "pyproject.toml").write_bytes((REPO_ROOT / "pyproject.toml").read_bytes())
    return tmp_path


@pytest.mark.parametrize(
    ("module", "cell", "expected"),
    [
        ("import yaml\n", "", ["common/x.py: imports 'yaml' (pyyaml), not declared in core"]),
        (
            "import tensorflow\n",
            "",
            ["common/x.py: imports 'tensorflow' (tensorflow), not declared in core"],
        ),
        ("def f():\n    import tensorflow\n", "", []),
        (
            "",
            "%matplotlib inline\nimport keras_tuner",
            ["nb.ipynb: imports 'keras_tuner' (keras-tuner), not declared in core"],
        ),
        (
            "import no_such_module_xyz\n",
            "",
            ["common/x.py: imports 'no_such_module_xyz', which no installed distribution provides"],
        ),
    ],
)
def test_the_check_catches_undeclared_imports(tmp_path, module, cell, expected):
    assert undeclared(_tree(tmp_path, module, cell), {"nb.ipynb": ""}) == expected
