"""The test-set discipline of the notebooks, checked statically (used by tests/test_test_set_use.py).

The convention (issue 29): a code cell that mentions a test-set name (``x_test``, ``y_test``,
``ds_test``, ``x_test_img``, ``test_acc``, ``test_proba``, ...) carries the cell tag ``test-set``;
a ``test-set`` cell evaluates and reports, it never trains, tunes or chooses; no cell builds
validation data, early stopping or a tuner's validation from the test set; and no untagged cell
reads what a ``test-set`` cell bound last (test results passed on under another name). Every rule below is data
(a name, a pattern, the reason), so a new way of training or choosing is one more entry.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

TEST_SET_TAG = "test-set"

# A test-set name: test_..., ..._test, ..._test_... (identifiers, dict keys and column names alike),
# and the expressions that hold the test set without such a name.
TEST_NAME = re.compile(r"\b(?:test_\w+|[A-Za-z]\w*_test(?:_\w+)?)\b")
TEST_EXPRESSIONS = {
    r"\bdata\s*\[\s*1\s*\]": "load_dataset's (x_test, y_test) half",
    r"\bdata\s*\.\s*test\b": "load_dataset's test split",
}
# Names that match the pattern but are no test data (functions and arguments of libraries).
NOT_TEST_DATA = {
    "mcnemar_test": "a statistical test's function (its arguments are what matters)",
    "train_test_split": "scikit-learn's splitter (used here on training data only)",
    "test_size": "train_test_split's argument",
}
# A validation name: x_val, y_val, ds_val, val_data, validation, validation_data, valid_...
VALIDATION_NAME = re.compile(r"(?:^|_)(?:val|valid|validation)(?:_|$)", re.IGNORECASE)

# Calls a test-set cell must not make: exact function/method names -> what the call does.
FORBIDDEN_CALLS = {
    "fit": "trains",
    "fit_generator": "trains",
    "train": "trains",
    "train_step": "trains",
    "search": "runs a hyperparameter search",
    "RandomSearch": "builds a tuner",
    "Hyperband": "builds a tuner",
    "BayesianOptimization": "builds a tuner",
    "GridSearch": "builds a tuner",
    "GridSearchCV": "builds a tuner",
    "RandomizedSearchCV": "builds a tuner",
    "make_random_search": "builds a tuner",
    "EarlyStopping": "sets up early stopping",
    "ModelCheckpoint": "keeps the best model of a run",
    "ReduceLROnPlateau": "adapts training to a monitored metric",
    "get_best_hyperparameters": "takes the tuner's choice",
    "get_best_models": "takes the tuner's choice",
    "idxmax": "chooses the best row",
    "idxmin": "chooses the best row",
    "nlargest": "chooses the best rows",
    "nsmallest": "chooses the best rows",
}
# Prefixes of choice functions (choose_tta, best_single_model, select_members, pick_epoch, ...).
FORBIDDEN_CALL_PREFIXES = {
    "choose_": "chooses",
    "best_": "chooses",
    "select_": "chooses",
    "pick_": "chooses",
    "tune_": "tunes",
}
# max/min/sorted with a key: picking the best of several (a choice).
KEYED_CHOICE_CALLS = ("max", "min", "sorted")
# Keyword arguments through which validation data reach a fit, a tuner or a callback.
VALIDATION_KEYWORDS = ("validation_data", "val_data", "validation", "eval_set", "x_val", "y_val")


@dataclass(frozen=True)
class Violation:
    """One broken rule: the cell's index in the notebook (all cells counted), the rule, details."""

    cell: int
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"cell {self.cell}: {self.rule}: {self.detail}"


def _python(source: str) -> str:
    """The cell as plain Python: IPython magics and shell escapes become function calls."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except ImportError:  # IPython is a dependency; without it, drop magic lines
        return "\n".join(
            "" if ln.lstrip().startswith(("%", "!")) else ln for ln in source.split("\n")
        )


def _without_comments(source: str) -> str:
    """``source`` without its comments (a comment that names ``x_test`` does not use it)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return source
    lines = source.splitlines(keepends=True)
    for tok in reversed([t for t in tokens if t.type == tokenize.COMMENT]):
        (row, col), (_, end) = tok.start, tok.end
        lines[row - 1] = lines[row - 1][:col] + lines[row - 1][end:]
    return "".join(lines)


def names_of_test_data(text: str) -> list[str]:
    """The test-set names ``text`` mentions, sorted, without those of :data:`NOT_TEST_DATA`, and
    the :data:`TEST_EXPRESSIONS` it contains (as written)."""
    found = {m for m in TEST_NAME.findall(text) if m not in NOT_TEST_DATA}
    found |= {m.group(0) for pattern in TEST_EXPRESSIONS for m in re.finditer(pattern, text)}
    return sorted(found)


def _segment(source: str, node: ast.AST) -> str:
    return ast.get_source_segment(source, node) or ast.unparse(node)


def _short(source: str, node: ast.AST) -> str:
    """The node's code on one line, cut at 80 characters (for messages)."""
    return " ".join(_segment(source, node).split())[:80]


def _mentions_test(source: str, node: ast.AST | None) -> list[str]:
    return [] if node is None else names_of_test_data(_segment(source, node))


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _target_names(target: ast.AST) -> list[str]:
    """Every identifier a target binds or writes into (x_val, ds_val, data.x_val, val["x"])."""
    names = []
    for node in ast.walk(target):
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names.append(node.value)
    return names


def _pairs(target: ast.AST, value: ast.AST | None):
    """(target, value) pairs of an assignment, element by element for ``a, b = c, d``."""
    same = isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List))
    if (
        same
        and len(target.elts) == len(value.elts)
        and not any(isinstance(e, ast.Starred) for e in target.elts)
    ):
        for t, v in zip(target.elts, value.elts, strict=True):
            yield from _pairs(t, v)
    else:
        yield target, value


def _uses_validation(source: str, node: ast.AST) -> bool:
    """Whether the expression names validation results (val_acc, x_val, ds_val, ...)."""
    return any(VALIDATION_NAME.search(w) for w in re.findall(r"\w+", _segment(source, node)))


def check_cell(source: str, tags, index: int = 0) -> list[Violation]:
    """The rules a code cell's ``source`` (with its ``tags``) breaks."""
    code = _without_comments(_python(source))
    names = names_of_test_data(code)
    tagged = TEST_SET_TAG in (tags or [])
    found = []
    if names and not tagged:
        found.append(
            Violation(index, "mentions the test set without the 'test-set' tag", ", ".join(names))
        )
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        return [*found, Violation(index, "not valid Python, so it cannot be checked", str(err))]

    for node in ast.walk(tree):
        # Validation data, early stopping or a tuner fed from the test set (any cell).
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target, value in (p for t in targets for p in _pairs(t, node.value)):
                bound = [n for n in _target_names(target) if VALIDATION_NAME.search(n)]
                used = _mentions_test(code, value)
                if bound and used:
                    found.append(
                        Violation(
                            index,
                            "validation data built from the test set",
                            f"{', '.join(bound)} from {', '.join(used)}",
                        )
                    )
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                used = _mentions_test(code, kw.value)
                if kw.arg in VALIDATION_KEYWORDS and used:
                    found.append(
                        Violation(
                            index,
                            "the test set passed as validation",
                            f"{kw.arg}={_short(code, kw.value)}",
                        )
                    )
        if not tagged:
            continue
        # A test-set cell reports; it does not train, tune or choose.
        if isinstance(node, ast.Call):
            name = _call_name(node) or ""
            what = FORBIDDEN_CALLS.get(name) or next(
                (v for p, v in FORBIDDEN_CALL_PREFIXES.items() if name.startswith(p)), None
            )
            if what:
                found.append(Violation(index, f"a test-set cell {what}", _short(code, node)))
            keys = [kw for kw in node.keywords if kw.arg == "key"]
            if name in KEYED_CHOICE_CALLS and keys:
                found.append(
                    Violation(
                        index,
                        "a test-set cell chooses (a keyed max/min/sorted)",
                        _short(code, node),
                    )
                )
        if isinstance(node, (ast.If, ast.IfExp, ast.While)) and (
            _mentions_test(code, node.test) or _uses_validation(code, node.test)
        ):
            found.append(
                Violation(
                    index, "a test-set cell decides on results", f"if {_short(code, node.test)}"
                )
            )
        if isinstance(node, ast.Compare) and any(
            isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) for op in node.ops
        ):
            operands = [node.left, *node.comparators]
            if (
                sum(bool(_mentions_test(code, o) or _uses_validation(code, o)) for o in operands)
                >= 2
            ):
                found.append(
                    Violation(
                        index, "a test-set cell compares results (a choice)", _short(code, node)
                    )
                )
    return found


def _bound_and_read(source: str) -> tuple[set[str], set[str]]:
    """The names a cell binds (assignments, loops, defs, imports) and those it reads."""
    try:
        tree = ast.parse(_without_comments(_python(source)))
    except SyntaxError:
        return set(), set()
    bound, read = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, (ast.Store, ast.Del)) else read).add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):  # a parameter: what the function body reads by that name
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return bound, read


def check_notebook(nb) -> list[Violation]:
    """Every violation in a notebook (an ``nbformat`` node or a path to an ``.ipynb``): each
    cell's, and, in the order the cells run, an untagged cell reading a name whose last binding
    was made in a ``test-set`` cell (test results leaking out under another name)."""
    if isinstance(nb, (str, Path)):
        import nbformat

        nb = nbformat.read(str(nb), as_version=4)
    found, bound_in_test_set = [], {}
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tagged = TEST_SET_TAG in cell.get("metadata", {}).get("tags", [])
        found += check_cell(cell.source, cell.get("metadata", {}).get("tags", []), i)
        bound, read = _bound_and_read(cell.source)
        leaked = sorted(n for n in read - bound if not tagged and bound_in_test_set.get(n))
        if leaked:
            found.append(
                Violation(i, "reads names last bound in a test-set cell", ", ".join(leaked))
            )
        bound_in_test_set |= dict.fromkeys(bound, tagged)
    return found
