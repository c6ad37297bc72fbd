"""Every published number is its run's (issue 29): the README tables (both languages) and
results/RESULTS.md regenerate identically from results/*.json, column order and labels included;
the tables in the JSON agree with the per-seed numbers beside them; the seeds each file records are
the seeds of the runs in it. (How the tables are written is tested in test_repro_results.py.)
"""

from __future__ import annotations

import difflib
import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import REPO_ROOT

from common.metrics import format_mean_std
from common.results import fill_markdown, write_results_md

RESULTS = REPO_ROOT / "results"
READMES = ("README.md", "README.tr.md")
BLOCK = re.compile(
    r"<!-- results: (?P<stem>[\w.-]+) / (?P<title>[^>]+?) -->\n(?P<body>.*?)<!-- /results -->",
    re.DOTALL,
)

# A summary table's column -> (the per-seed key it summarises, scale, digits), as
# advance_pipeline_tensorflow.study.summary_table writes it; "seeds" is the number of runs.
SUMMARY_COLUMNS = {
    "test acc (%)": ("test_acc", 100.0, 2),
    "val acc (%)": ("val_acc", 100.0, 2),
    "test loss": ("test_loss", 1.0, 4),
    "epochs": ("epochs", 1.0, 1),
    "train time (s)": ("seconds", 1.0, 0),
}


# The NumPy notebook's "Test accuracy" rows: a model name's start -> the metrics section with its
# test_accuracy_per_seed (any other row: "final", the MLP).
NUMPY_ROWS = {"CNN": "cnn"}


def _diff(old: str, new: str, name: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), name, "regenerated", lineterm=""
    )
    return "\n".join(list(lines)[:40])


def regenerated_readme(readme: Path, results: Path, tmp: Path) -> str:
    """``readme`` with every results block refilled from ``results``' JSON files."""
    copy = tmp / readme.name
    shutil.copy(readme, copy)
    fill_markdown(copy, results)
    return copy.read_text(encoding="utf-8")


def _seeds_cell_problem(cell, seeds: list[int]) -> str | None:
    """A summary table's "seeds" cell is the number of runs or the list "0, 1, 2" of their seeds."""
    expected = len(seeds) if isinstance(cell, int) else ", ".join(str(s) for s in seeds)
    return None if cell == expected else f"{cell!r} seeds, its runs have seeds {seeds}"


def record_problems(record: dict) -> list[str]:
    """Where a results record disagrees with itself: the seeds it records (for the file and, when
    given, per table) vs the seeds of the runs in it; a summary table's cells vs the per-seed
    numbers they summarise."""
    problems, seeds = [], sorted(record.get("seeds") or [])
    metrics = record.get("metrics") or {}
    per_seed, tables = metrics.get("per_seed") or {}, metrics.get("tables") or {}
    table_seeds = metrics.get("table_seeds")
    if table_seeds is not None:  # each table records its own seeds; the file, all of them
        union = sorted({int(s) for t in table_seeds.values() for s in t})
        if union != seeds:
            problems.append(f"records seeds {seeds}, its tables have seeds {union}")
        if set(table_seeds) != set(tables):
            problems.append(
                f"seeds recorded for tables {sorted(table_seeds)}, tables {sorted(tables)}"
            )
    elif per_seed:
        run_seeds = sorted({s for runs in per_seed.values() for s in runs.get("seed", [])})
        if run_seeds != seeds:
            problems.append(f"records seeds {seeds}, its runs have seeds {run_seeds}")
    for key, values in (metrics.get("final") or {}).items():
        if key.endswith("_per_seed") and len(values) != len(seeds):
            problems.append(f"final.{key} has {len(values)} values for seeds {seeds}")
    for title, rows in tables.items():
        in_table = set()
        for row in rows:
            runs = per_seed.get(row.get("model"))
            if runs is None:
                continue
            in_table |= set(runs["seed"])
            for column, (key, scale, digits) in SUMMARY_COLUMNS.items():
                expected = format_mean_std(runs[key], scale, digits) if column in row else None
                if column in row and row[column] != expected:
                    problems.append(f"{title!r}, {row['model']!r}: {column!r} is {row[column]!r}, "
                                    f"its runs' {key} give {expected!r}")  # fmt: skip
            if "seeds" in row and (problem := _seeds_cell_problem(row["seeds"], runs["seed"])):
                problems.append(f"{title!r}, {row['model']!r}: {problem}")
        if in_table and table_seeds is not None and sorted(in_table) != table_seeds.get(title):
            problems.append(f"{title!r} records seeds {table_seeds.get(title)}, "
                            f"its runs have seeds {sorted(in_table)}")  # fmt: skip
    for row in tables.get("Test accuracy", []):  # the NumPy notebook: each row from its section
        section = next(
            (v for k, v in NUMPY_ROWS.items() if str(row.get("model")).startswith(k)), "final"
        )
        runs = (metrics.get(section) or {}).get("test_accuracy_per_seed")
        expected = None if runs is None else format_mean_std(runs)
        if row.get("test accuracy (%)") != expected:
            problems.append(f"'Test accuracy', {row.get('model')!r}: {row.get('test accuracy (%)')!r}, "
                            f"its runs ({section}) give {expected!r}")  # fmt: skip
        if runs is not None and len(runs) != len(seeds):
            problems.append(
                f"{section}.test_accuracy_per_seed has {len(runs)} values for seeds {seeds}"
            )
    return problems


def _records() -> list[Path]:
    return sorted(RESULTS.glob("*.json"))


# ----------------------------------------------------------------------------- the committed files
def test_there_are_results_and_readme_blocks_to_check():
    assert len(_records()) >= 3
    for name in READMES:
        assert len(BLOCK.findall((REPO_ROOT / name).read_text(encoding="utf-8"))) >= 4, name


@pytest.mark.parametrize("name", READMES)
def test_readme_tables_regenerate_identically_from_the_results(name, tmp_path):
    readme = REPO_ROOT / name
    old = readme.read_text(encoding="utf-8")
    new = regenerated_readme(readme, RESULTS, tmp_path)
    assert new == old, (
        f"{name} differs from results/*.json (run `python -m common.results`):\n"
        + _diff(old, new, name)
    )


def test_results_md_regenerates_identically(tmp_path):
    for path in _records():
        shutil.copy(path, tmp_path / path.name)
    new = write_results_md(tmp_path).read_text(encoding="utf-8")
    old = (RESULTS / "RESULTS.md").read_text(encoding="utf-8")
    assert new == old, "results/RESULTS.md differs from results/*.json:\n" + _diff(
        old, new, "RESULTS.md"
    )


def test_both_readmes_publish_the_same_tables():
    blocks = [
        [
            (m["stem"], m["title"])
            for m in BLOCK.finditer((REPO_ROOT / n).read_text(encoding="utf-8"))
        ]
        for n in READMES
    ]
    assert blocks[0] == blocks[1]


@pytest.mark.parametrize("name", READMES)
def test_no_hand_typed_numbers_in_readme_tables(name):
    """A table outside a results block holds no numbers (pictures and links aside)."""
    text = BLOCK.sub("", (REPO_ROOT / name).read_text(encoding="utf-8"))
    rows = [ln for ln in text.splitlines() if ln.startswith("|")]
    typed = [ln for ln in rows if re.search(r"\d", re.sub(r"\]\([^)]*\)", "]", ln))]
    assert not typed, f"{name}: numbers typed by hand in a table:\n" + "\n".join(typed)


@pytest.mark.parametrize("path", _records(), ids=lambda p: p.name)
def test_each_results_file_agrees_with_its_runs(path):
    record = json.loads(path.read_text(encoding="utf-8"))
    assert record_problems(record) == []


# ----------------------------------------------------------------------------- the checks can fail
def _swap_columns(block: str, a: str, b: str) -> str:
    """The Markdown table ``block`` with columns ``a`` and ``b`` swapped (header and cells)."""
    lines = block.splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    i, j = header.index(a), header.index(b)
    out = []
    for line in lines:
        cells = line.strip().strip("|").split("|")
        if len(cells) == len(header) and not line.startswith("|---"):
            cells[i], cells[j] = cells[j], cells[i]
        out.append("|" + "|".join(cells) + "|")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("name", READMES)
def test_a_readme_with_the_part_2_columns_swapped_is_caught(name, tmp_path):
    """Issue 29's planted bug: Part 2's test and validation columns swapped in the README."""
    text = (REPO_ROOT / name).read_text(encoding="utf-8")
    part2 = next(m for m in BLOCK.finditer(text) if m["title"].startswith("Part 2"))
    planted = text.replace(
        part2["body"], _swap_columns(part2["body"], "test acc (%)", "val acc (%)")
    )
    assert planted != text
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / name).write_text(planted, encoding="utf-8")
    assert regenerated_readme(tmp_path / "src" / name, RESULTS, tmp_path) == text != planted
    # only the labels swapped back, the numbers left: still caught
    relabelled = planted.replace(
        "| model | val acc (%) | test acc (%) |", "| model | test acc (%) | val acc (%) |"
    )
    assert (
        relabelled != planted
        and regenerated_readme(tmp_path / "src" / name, RESULTS, tmp_path) != relabelled
    )


def test_a_results_file_recording_the_mlp_seeds_for_the_cnn_runs_is_caught():
    """Issue 29's planted bug: keras_cnn.json written with the MLP seeds (0-2) for five CNNs."""
    record = json.loads((RESULTS / "keras_cnn.json").read_text(encoding="utf-8"))
    assert record_problems(record) == []
    record["seeds"] = json.loads((RESULTS / "keras_mlp_study.json").read_text(encoding="utf-8"))[
        "seeds"
    ]
    assert record["seeds"] != sorted(record["metrics"]["per_seed"]["CNN"]["seed"])
    assert any("records seeds" in p for p in record_problems(record))


def test_a_table_recording_the_mlp_seeds_for_the_cnn_runs_is_caught():
    """The same bug where each table records its seeds (issue 27's results files)."""
    record = json.loads((RESULTS / "keras_cnn.json").read_text(encoding="utf-8"))
    m = record["metrics"]
    runs = {t: sorted({s for row in rows for s in m["per_seed"].get(row.get("model"), {}).get("seed", [])})
            for t, rows in m["tables"].items()}  # fmt: skip
    m["table_seeds"] = {t: seeds or [0] for t, seeds in runs.items()}
    record["seeds"] = sorted({s for seeds in m["table_seeds"].values() for s in seeds})
    assert record_problems(record) == []
    m["table_seeds"][_part2(record)] = [0, 1, 2]  # the MLP seeds
    assert any("records seeds [0, 1, 2], its runs have seeds [0, 1, 2, 3, 4]" in p
               for p in record_problems(record))  # fmt: skip
    for row in m["tables"][_part2(record)]:  # a seeds column listing the seeds
        row["seeds"] = ", ".join(map(str, m["per_seed"][row["model"]]["seed"]))
    m["table_seeds"][_part2(record)] = [0, 1, 2, 3, 4]
    assert record_problems(record) == []
    m["tables"][_part2(record)][0]["seeds"] = "0, 1, 2"
    assert any("'0, 1, 2' seeds" in p for p in record_problems(record))


@pytest.mark.parametrize(
    ("change", "found"),
    [
        (
            lambda r: r["metrics"]["tables"][_part2(r)][0].update(
                {"val acc (%)": r["metrics"]["tables"][_part2(r)][0]["test acc (%)"]}
            ),
            "'val acc (%)'",
        ),
        (
            lambda r: r["metrics"]["tables"][_part2(r)][0].update({"seeds": 3}),
            "3 seeds, its runs have seeds [0, 1, 2, 3, 4]",
        ),
        (
            lambda r: (
                r["metrics"]["per_seed"]["CNN"]["test_acc"].reverse()
                or r["metrics"]["per_seed"]["CNN"]["test_acc"].append(0.5)
            ),
            "'test acc (%)'",
        ),
    ],
    ids=["val-column-from-test", "seed-count", "a-run-changed"],
)
def test_a_table_that_disagrees_with_its_runs_is_caught(change, found):
    record = json.loads((RESULTS / "keras_cnn.json").read_text(encoding="utf-8"))
    change(record)
    assert any(found in p for p in record_problems(record)), record_problems(record)


def _part2(record: dict) -> str:
    return next(t for t in record["metrics"]["tables"] if t.startswith("Part 2: CNN"))


def test_a_numpy_record_with_a_seed_missing_is_caught():
    record = json.loads((RESULTS / "numpy_mlp.json").read_text(encoding="utf-8"))
    assert record_problems(record) == []
    record["seeds"] = record["seeds"][:-1]
    assert any("test_accuracy_per_seed has 3 values" in p for p in record_problems(record))
    record = json.loads((RESULTS / "numpy_mlp.json").read_text(encoding="utf-8"))
    record["metrics"]["final"]["test_accuracy_per_seed"][0] -= 0.01
    assert any("'Test accuracy'" in p for p in record_problems(record))
    record = json.loads((RESULTS / "numpy_mlp.json").read_text(encoding="utf-8"))
    rows = record["metrics"]["tables"]["Test accuracy"]
    if len(rows) > 1:  # the MLP's and the CNN's rows swapped
        rows[0]["test accuracy (%)"], rows[1]["test accuracy (%)"] = (
            rows[1]["test accuracy (%)"], rows[0]["test accuracy (%)"])  # fmt: skip
        assert len([p for p in record_problems(record) if "'Test accuracy'" in p]) == 2
