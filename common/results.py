"""Where results go and how they are written: JSON with the data source, versions, seeds, timings.

``python -m common.results [DIR]`` rebuilds ``RESULTS.md`` from the JSON files (and, for the main
``results/`` folder, the README tables), so no number in them is ever typed by hand.
"""

import datetime as _dt
import json
import math
import os
import re
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .repro import library_versions, machine_info

MODES = ("full", "standard", "quick", "smoke")
_PROJECT_MARKER = 'name = "mnist-derin-ogrenme"'


def _repo_root() -> Path | None:
    """The nearest folder at or above the working directory whose pyproject.toml is this project's."""
    for folder in (Path.cwd().resolve(), *Path.cwd().resolve().parents):
        toml = folder / "pyproject.toml"
        if toml.is_file() and _PROJECT_MARKER in toml.read_text(encoding="utf-8", errors="ignore"):
            return folder
    return None


def results_dir(dataset: str = "mnist", mode: str = "full") -> Path:
    """The folder (created) for one dataset and mode: ``$MNIST_RESULTS_DIR``, else
    ``<repository root>/results``, else ``./results``, then ``/<dataset>`` unless "mnist" and
    ``/<mode>`` unless "full", so no other run ever overwrites the full MNIST results."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not dataset or Path(dataset).name != dataset or dataset.startswith("."):
        raise ValueError(f"dataset must be a plain name such as 'fashion_mnist', got {dataset!r}")
    env = os.environ.get("MNIST_RESULTS_DIR")
    path = Path(env).expanduser() if env else (_repo_root() or Path.cwd()) / "results"
    path = path / ("" if dataset == "mnist" else dataset) / ("" if mode == "full" else mode)
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Create ``path`` all at once: ``write(tmp)`` writes a temporary file beside it, renamed into
    place; if ``write`` fails, nothing is left and ``path`` is untouched. ``tmp`` is unique per call
    and ends in ``.part``: give writers that add a suffix (``np.savez``) ``open(tmp, "wb")``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _jsonable(obj):
    """Plain-Python version of ``obj``: NumPy scalars and arrays to numbers and lists, NaN to None."""
    if hasattr(obj, "to_dict"):
        obj = obj.to_dict()
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return str(obj) if isinstance(obj, Path) else obj


def save_results(
    name: str,
    metrics: Mapping,
    *,
    dataset: str = "mnist",
    mode: str = "full",
    data_source=None,
    seeds: Sequence[int] | None = None,
    timings: Mapping[str, float] | None = None,
    config: Mapping | None = None,
) -> Path:
    """Write ``results_dir(dataset, mode)/<name>.json`` atomically: the metrics and what is needed
    to trust them (a :class:`common.data.DataSource`, seeds, timings in seconds, config, versions,
    machine, time). ``metrics["tables"]`` (title -> list of row dicts) becomes Markdown tables."""
    if not name or Path(name).name != name or name.startswith("."):
        raise ValueError(f"name must be a plain file stem, got {name!r}")
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    record = {"name": name, "dataset": dataset, "mode": mode, "created": created}
    record |= {"data_source": data_source, "seeds": None if seeds is None else list(seeds)}
    record |= {"config": config or {}, "timings_s": timings or {}, "versions": library_versions()}
    record |= {"machine": machine_info(), "metrics": metrics}
    text = json.dumps(_jsonable(record), indent=2, allow_nan=False) + "\n"
    return _write_text(results_dir(dataset, mode) / f"{name}.json", text)


def load_results(name: str, *, dataset: str = "mnist", mode: str = "full") -> dict:
    """Read ``results_dir(dataset, mode)/<name>.json`` back."""
    return json.loads((results_dir(dataset, mode) / f"{name}.json").read_text(encoding="utf-8"))


def markdown_table(rows: Sequence[Mapping]) -> str:
    """A Markdown table of ``rows`` (dicts; the first row's keys are the columns)."""
    if not rows:
        return "_(empty)_\n"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(row.get(k, "")) for k in keys) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_results_md(directory: Path | None = None) -> Path:
    """Rebuild ``RESULTS.md`` in ``directory`` (default :func:`results_dir`) from its JSON files."""
    directory = Path(directory) if directory is not None else results_dir()
    parts = [
        "# Results\n",
        "Generated by `python -m common.results` from the JSON files in this folder; do not edit by hand.\n",
    ]
    for path in sorted(directory.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        src = record.get("data_source") or {}
        machine = record.get("machine") or {}
        versions = ", ".join(f"{k} {v}" for k, v in (record.get("versions") or {}).items())
        mode = record.get("mode") or (record.get("config") or {}).get("mode", "?")
        parts += [
            f"## {record.get('name', path.stem)}\n",
            f"- data: {src.get('kind', '?')} `{src.get('location', '?')}` ({src.get('n_train', '?')} "
            f"train / {src.get('n_test', '?')} test, verified: {src.get('verified', '?')})",
        ]
        if src.get("is_sample"):
            parts.append("- **WARNING: offline 5,000-digit sample, not full MNIST**")
        parts += [
            f"- seeds: {record.get('seeds')}; mode: {mode}",
            f"- machine: {machine.get('processor', '?')}, {machine.get('cpu_count', '?')} cores; {versions}",
            f"- run on {record.get('created', '?')}\n",
        ]
        timings = (record.get("timings_s") or {}).items()
        if timings:
            parts.append(markdown_table([{"timing": k, "seconds": f"{v:.1f}"} for k, v in timings]))
        for title, rows in ((record.get("metrics") or {}).get("tables") or {}).items():
            parts += [f"### {title}\n", markdown_table(rows)]
    return _write_text(directory / "RESULTS.md", "\n".join(parts))


_BLOCK = re.compile(
    r"(<!-- results: (?P<stem>[\w.-]+) / (?P<title>[^>]+?) -->\n)(?P<body>.*?)(<!-- /results -->)",
    re.DOTALL,
)


def fill_markdown(path: Path, directory: Path | None = None) -> bool:
    """Refill each ``<!-- results: STEM / TITLE -->`` ... ``<!-- /results -->`` block of a Markdown
    file with table ``TITLE`` of ``STEM.json`` in ``directory`` (default :func:`results_dir`), so
    the README quotes the numbers a run produced. Returns True if the file changed."""
    directory = Path(directory) if directory is not None else results_dir()
    text = Path(path).read_text(encoding="utf-8")

    def table(match: re.Match) -> str:
        source = directory / f"{match['stem']}.json"
        if not source.is_file():
            raise KeyError(
                f"{path}: block needs {source}, which does not exist (run `make reproduce`)"
            )
        tables = json.loads(source.read_text(encoding="utf-8")).get("metrics", {}).get("tables", {})
        title = match["title"].strip()
        if title not in tables:
            raise KeyError(
                f"{path}: {source.name} has no table {title!r} (it has {sorted(tables)})"
            )
        return match.group(1) + markdown_table(tables[title]) + match.group(5)

    new = _BLOCK.sub(table, text)
    if new != text:
        _write_text(Path(path), new)
    return new != text


def main(argv: Sequence[str]) -> None:
    """Rebuild RESULTS.md and, for the main results folder, refill the README tables."""
    directory = Path(argv[0]) if argv else results_dir()
    print(write_results_md(directory))
    root = _repo_root()
    if root is not None and directory.resolve() == (root / "results").resolve():
        for readme in sorted(root.glob("README*.md")):
            if fill_markdown(readme, directory):
                print(f"updated {readme}")


if __name__ == "__main__":
    main(sys.argv[1:])
