"""The test set is used only to report: checked statically in both notebooks (issue 29).

``notebook_rules`` holds the rules as data. Here: the committed notebooks keep them; the checker
accepts an honest synthetic notebook and rejects each planted bug of issue 29 that lives in a
notebook, in a synthetic notebook and (``PLANTED``) in a copy of the real one.
"""

from __future__ import annotations

import nbformat
import pytest
from conftest import REPO_ROOT
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from notebook_rules import TEST_SET_TAG, Violation, check_cell, check_notebook, names_of_test_data

NUMPY_NOTEBOOK = "from_scratch_numpy/basic_algorithm_numpy.ipynb"
KERAS_NOTEBOOK = "advance_pipeline_tensorflow/advanced_algorithm_keras_pipeline.ipynb"


def cell(source: str, test_set: bool = False):
    return new_code_cell(source, metadata={"tags": [TEST_SET_TAG]} if test_set else {})


# An honest notebook in the shape of both lessons: every choice on validation, the test set only
# evaluated and reported, in cells tagged `test-set`.
HONEST = {
    "data": cell(
        "data = load_dataset(DATASET)\n"
        "x_full, y_full = data[0]\n"
        "(x_train, y_train), (x_val, y_val) = train_val_split(x_full, y_full, val_fraction=0.1)"
    ),
    "test data": cell(
        "x_test, y_test = data[1]\n"
        "if MODE == 'smoke':\n"
        "    x_test, y_test = subsample(x_test, y_test, 1_000, seed=0)\n"
        "x_test_img = x_test.reshape(len(x_test), -1)",
        test_set=True,
    ),
    "val": cell("ds_val = make_dataset(x_val, y_val, batch_size=512)  # never x_test"),
    "tuner": cell(
        "tuner = km.make_random_search(km.make_hypermodel(), max_trials=8)\n"
        "tuner.search(train_data(0), validation_data=ds_val, epochs=3, verbose=0)\n"
        "best_hp = tuner.get_best_hyperparameters(1)[0].values"
    ),
    "cnn": cell(
        "runs = [study.train(build, 'adam', 1e-3, seed=s, train_data=train_data(s),\n"
        "                    val_data=ds_val, early_stop_patience=3) for s in SEEDS]\n"
        "for r in runs:\n"
        "    r['val_proba'] = km.predict_proba(r['model'], x_val)"
    ),
    "choices": cell(
        "use_tta = study.choose_tta(val_acc_plain, val_acc_tta, y_val)\n"
        "method = study.choose_vote([r['val_proba'] for r in runs], y_val)\n"
        "best = study.best_single_model(runs)\n"
        "members = max(range(1, 6), key=lambda k: by_size[k - 1])"
    ),
    "numpy final": cell(
        "final = {seed: train.fit(IMPROVED, x_train, y_train, validation_data=(x_val, y_val),\n"
        "                         seed=seed) for seed in SEEDS}"
    ),
    "ablation": cell(
        "ablation = {name: train.fit(recipe, x_tr, y_tr, validation_data=(x_val, y_val))\n"
        "            .history['val_accuracy'][-1] for name, recipe in RECIPES.items()}"
    ),
    "prose": new_markdown_cell("The test set (`x_test`) is evaluated once, below."),
    "report": cell(
        "# the test set, once per final model\n"
        "test_proba = {seed: train.predict_proba(net, x_test_img) for seed, net in final.items()}\n"
        "test_pred = {seed: p.argmax(1) for seed, p in test_proba.items()}\n"
        "test_acc = {seed: metrics.accuracy(y_test, p) for seed, p in test_pred.items()}\n"
        "res = metrics.mcnemar_test(y_test, test_pred[0], test_pred[1])\n"
        "print(f'{int((test_pred[0] != y_test).sum())} errors; best on validation: {best}')",
        test_set=True,
    ),
    "figures": cell(
        "%matplotlib inline\n"
        "fig = plots.plot_misclassified(x_test, y_test, test_pred[0], test_proba[0], n=20)\n"
        "order = np.argsort(-test_proba[0].max(1))  # the most confident first",
        test_set=True,
    ),
    "results": cell(
        "# extra code: write the results files\n"
        "save_results('keras_cnn', {'test_acc': test_acc, 'val_acc': val_acc}, seeds=CNN_SEEDS)",
        test_set=True,
    ),
}


def notebook(**replaced) -> nbformat.NotebookNode:
    """The honest notebook with some cells replaced (by the keys of ``HONEST``)."""
    unknown = set(replaced) - set(HONEST)
    assert not unknown, unknown
    cells = [replaced.get(k, c) for k, c in HONEST.items()]
    return new_notebook(cells=[nbformat.from_dict(dict(c)) for c in cells])


def rules(violations: list[Violation]) -> set[str]:
    return {v.rule for v in violations}


# ----------------------------------------------------------------------------- the real notebooks
@pytest.mark.parametrize("path", [NUMPY_NOTEBOOK, KERAS_NOTEBOOK])
def test_the_notebooks_use_the_test_set_only_to_report(path):
    violations = check_notebook(REPO_ROOT / path)
    assert not violations, f"{path}:\n" + "\n".join(map(str, violations))


@pytest.mark.parametrize("path", [NUMPY_NOTEBOOK, KERAS_NOTEBOOK])
def test_the_notebooks_evaluate_on_the_test_set_somewhere(path):
    """The check is not vacuous: each notebook does have tagged cells that use the test set."""
    nb = nbformat.read(REPO_ROOT / path, as_version=4)
    tagged = [c for c in nb.cells if TEST_SET_TAG in c.metadata.get("tags", [])]
    assert tagged and any(names_of_test_data(c.source) for c in tagged)


# ----------------------------------------------------------------------------- the checker itself
def test_an_honest_notebook_passes():
    assert check_notebook(notebook()) == []


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("x_test, y_test = data.test", ["data.test", "x_test", "y_test"]),
        ("p = net.predict(x_test_img)", ["x_test_img"]),
        ("r['test_acc'] + ds_test.n + n_test", ["ds_test", "n_test", "test_acc"]),
        ("metrics.mcnemar_test(a, b, c); train_test_split(x, y, test_size=0.1)", []),
        ("contest, latest, attest, testing, x_val, pytest", []),
    ],
)
def test_test_set_names(text, names):
    assert names_of_test_data(text) == names


def test_comments_do_not_count_as_use_but_strings_do():
    assert check_cell("ds = make_dataset(x_val, y_val)  # not x_test!", []) == []
    assert rules(check_cell("acc = run['test_acc']", [])) == {
        "mentions the test set without the 'test-set' tag"
    }


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("model.fit(x_test, y_test)", "a test-set cell trains"),
        ("net, h = train.train(RECIPE, x_test_img, y_test)", "a test-set cell trains"),
        ("tuner.search(ds_test, epochs=3)", "a test-set cell runs a hyperparameter search"),
        (
            "t = kt.RandomSearch(hm, objective='val_accuracy'); p = predict(x_test)",
            "a test-set cell builds a tuner",
        ),
        (
            "cb = keras.callbacks.EarlyStopping(patience=3); p = predict(x_test)",
            "a test-set cell sets up early stopping",
        ),
        ("use_tta = choose_tta(test_acc_plain, test_acc_tta)", "a test-set cell chooses"),
        ("best = study.best_single_model(runs, y_test)", "a test-set cell chooses"),
        ("m = select_members(runs, y_test)", "a test-set cell chooses"),
        (
            "best = max(runs, key=lambda r: r['test_acc'])",
            "a test-set cell chooses (a keyed max/min/sorted)",
        ),
        (
            "best = max(runs, key=lambda r: r['val_acc']); p = best.predict(x_test)",
            "a test-set cell chooses (a keyed max/min/sorted)",
        ),
        (
            "name = table['test acc'].idxmax(); print(x_test)",
            "a test-set cell chooses the best row",
        ),
        (
            "tta = 'TTA' if test_mean['TTA'] > test_mean['plain'] else 'plain'",
            "a test-set cell decides on results",
        ),
        (
            "use = ens['val_acc'] >= best['val_acc']; pred = ens['test_pred']",
            "a test-set cell compares results (a choice)",
        ),
        ("if test_acc[1] > test_acc[0]:\n    chosen = 1", "a test-set cell decides on results"),
    ],
)
def test_a_test_set_cell_never_trains_tunes_or_chooses(source, rule):
    assert rule in rules(check_cell(source, [TEST_SET_TAG]))
    untagged = rules(check_cell(source, []))
    assert "mentions the test set without the 'test-set' tag" in untagged  # no way around the tag


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        ("ds_val = make_dataset(x_test, y_test)", "validation data built from the test set"),
        (
            "(x_tr, y_tr), (x_val, y_val) = split(x), (x_test, y_test)",
            "validation data built from the test set",
        ),
        ("data.x_val = x_test[:1000]", "validation data built from the test set"),
        ("h = model.fit(ds, validation_data=ds_test)", "the test set passed as validation"),
        (
            "h = train.fit(net, opt, x, y, validation_data=(x_test_img, y_test))",
            "the test set passed as validation",
        ),
        (
            "run = study.train(build, val_data=make_dataset(x_test, y_test))",
            "the test set passed as validation",
        ),
    ],
)
def test_no_cell_builds_validation_from_the_test_set_tag_or_not(source, rule):
    assert rule in rules(check_cell(source, [TEST_SET_TAG]))
    assert rule in rules(check_cell(source, []))


def test_tuples_are_matched_element_by_element():
    assert (
        check_cell("summary['val_acc'], summary['test_acc'] = val_acc, test_acc", [TEST_SET_TAG])
        == []
    )
    assert rules(check_cell("x_tr, x_val = x_train, x_test[:500]", [TEST_SET_TAG])) == {
        "validation data built from the test set"
    }


def test_the_test_half_of_the_data_counts_as_test_set_without_a_name():
    assert rules(check_cell("ds_val = make_dataset(*data[1], batch_size=512)", [])) == {
        "mentions the test set without the 'test-set' tag",
        "validation data built from the test set",
    }


def test_test_results_cannot_leave_a_test_set_cell_under_another_name():
    leak = notebook(
        report=cell(HONEST["report"].source + "\nscores = test_acc", test_set=True),
        results=cell("chosen = max(scores, key=scores.get)"),  # untagged, reads test results
    )
    found = [v for v in check_notebook(leak) if v.rule.startswith("reads names")]
    assert [(v.cell, v.detail) for v in found] == [(list(HONEST).index("results"), "scores")]
    rebound = notebook(results=cell("scores = {0: 0.9}\nchosen = max(scores, key=scores.get)"))
    assert check_notebook(rebound) == []  # bound again in an untagged cell first: no leak
    parameter = notebook(results=cell("def best(scores):\n    return max(scores, key=scores.get)"))
    assert check_notebook(parameter) == []  # a function's parameter is its own name


def test_magics_are_understood_and_broken_cells_are_reported():
    assert check_cell("%%time\nh = model.fit(ds, validation_data=ds_val)", []) == []
    assert rules(check_cell("!ls data\np = predict(x_test)", [TEST_SET_TAG])) == set()
    assert rules(check_cell("def f(:\n    x_test", [TEST_SET_TAG])) == {
        "not valid Python, so it cannot be checked"
    }


def test_violations_name_the_cell():
    nb = notebook(val=cell("ds_val = make_dataset(x_test, y_test, batch_size=512)"))
    found = check_notebook(nb)
    assert {v.cell for v in found} == {list(HONEST).index("val")}
    assert str(found[0]).startswith(f"cell {list(HONEST).index('val')}: ")


# ----------------------------------------------------------------------------- issue 29's planted bugs
# Each as a learner or a hurried author would write it, with and without the `test-set` tag.
PLANTED_IN_SYNTHETIC = {
    "the Keras notebook's ds_val built from x_test, y_test": {
        "val": "ds_val = make_dataset(x_test, y_test, batch_size=512)",
    },
    "keras-tuner's validation_data is the test set": {
        "tuner": "tuner = km.make_random_search(km.make_hypermodel(), max_trials=8)\n"
        "tuner.search(train_data(0), validation_data=make_dataset(x_test, y_test), epochs=3)\n"
        "best_hp = tuner.get_best_hyperparameters(1)[0].values",
    },
    "TTA on/off chosen by test_acc": {
        "choices": "use_tta = study.choose_tta(test_acc_plain, test_acc_tta, y_test)",
    },
    "TTA on/off chosen by test accuracy, inline": {
        "choices": "test_mean = {n: np.mean([r['test_acc'] for r in rs]) for n, rs in runs.items()}\n"
        "CNN_CHOICE = 'CNN + TTA' if test_mean['CNN + TTA'] > test_mean['CNN'] else 'CNN'",
    },
    "soft vs hard vote chosen by test_acc": {
        "choices": "method = max(ensembles, key=lambda k: ensembles[k]['test_acc'])",
    },
    "best single CNN chosen by test_acc": {
        "choices": "best = max(runs, key=lambda r: r['test_acc'])",
    },
    "best single CNN chosen by the choice function fed test results": {
        "choices": "best = study.best_single_model(runs, x_test, y_test)",
    },
    "the NumPy final runs validated on the test images": {
        "numpy final": "final = {seed: train.fit(IMPROVED, x_train, y_train,\n"
        "    validation_data=(x_test_img, y_test), seed=seed) for seed in SEEDS}",
    },
    "the NumPy final runs validated on the test images, positionally": {
        "numpy final": "final = {s: train.train(IMPROVED, x_train, y_train, (x_test_img, y_test), seed=s)\n"
        "         for s in SEEDS}",
    },
    "the ablation scored on the test set": {
        "ablation": "ablation = {name: train.fit(recipe, x_tr, y_tr).evaluate(x_test_img, y_test)[1]\n"
        "            for name, recipe in RECIPES.items()}",
    },
}


@pytest.mark.parametrize("tagged", [False, True], ids=["untagged", "tagged"])
@pytest.mark.parametrize("bug", list(PLANTED_IN_SYNTHETIC))
def test_each_planted_notebook_bug_is_caught(bug, tagged):
    replaced = {k: cell(src, test_set=tagged) for k, src in PLANTED_IN_SYNTHETIC[bug].items()}
    found = check_notebook(notebook(**replaced))
    assert found, f"planted bug not caught: {bug}"
    assert {list(HONEST).index(k) for k in replaced} <= {v.cell for v in found}


# The same bugs planted in a copy of the committed notebooks: (notebook, old, new), the old text
# found exactly once. When a notebook is rewritten, rewrite its entries: a missing one FAILS.
PLANTED_IN_NOTEBOOKS = {
    "the Keras notebook's ds_val built from x_test, y_test": (
        KERAS_NOTEBOOK,
        "ds_val = make_dataset(x_val, y_val, batch_size=512)",
        "ds_val = make_dataset(x_test, y_test, batch_size=512)",
    ),
    "the Keras notebook's ds_val built from the test half of the data": (
        KERAS_NOTEBOOK,
        "ds_val = make_dataset(x_val, y_val, batch_size=512)",
        "ds_val = make_dataset(*data[1], batch_size=512)",
    ),
    "keras-tuner's validation_data is the test set": (
        KERAS_NOTEBOOK,
        "tuner.search(train_data(0, x_tune, y_tune), validation_data=ds_val,",
        "tuner.search(train_data(0, x_tune, y_tune), validation_data=(x_test, y_test),",
    ),
    "TTA on/off chosen by test_acc": (
        KERAS_NOTEBOOK,
        'use_tta = study.choose_tta([r["val_acc"] for r in cnn_runs["CNN"]],\n'
        '                           [r["val_acc"] for r in cnn_runs["CNN + TTA"]])',
        'use_tta = study.choose_tta([r["test_acc"] for r in cnn_runs["CNN"]],\n'
        '                           [r["test_acc"] for r in cnn_runs["CNN + TTA"]])',
    ),
    "soft vs hard vote chosen by test_acc": (
        KERAS_NOTEBOOK,
        "voting = study.choose_voting(y_val, val_probas, VOTES)",
        'voting = study.choose_voting(y_test, [r["test_proba"] for r in cnns], VOTES)',
    ),
    "the number of members chosen on the test set": (
        KERAS_NOTEBOOK,
        "study.choose_members(y_val, val_probas, VOTES[voting])",
        'study.choose_members(y_test, [r["test_proba"] for r in cnns], VOTES[voting])',
    ),
    "best single CNN chosen by test_acc": (
        KERAS_NOTEBOOK,
        "best_cnn = cnns[members[0]]",
        'best_cnn = max(cnns, key=lambda r: r["test_acc"])',
    ),
    "the NumPy final runs validated on the test images": (
        NUMPY_NOTEBOOK,
        "T.train(T.IMPROVED, x_tr, y_tr, (x_val, y_val), seed=seed",
        "T.train(T.IMPROVED, x_tr, y_tr, (x_test_img, y_test), seed=seed",
    ),
    "the ablation scored on the test set": (
        NUMPY_NOTEBOOK,
        '"validation accuracy (%)": 100 * history["val_accuracy"][-1]',
        '"validation accuracy (%)": 100 * T.evaluate(_, x_test_img, y_test)[1]',
    ),
}


def _plant(path: str, old: str, new: str, tag: bool) -> tuple[list[Violation], list[Violation]]:
    nb = nbformat.read(REPO_ROOT / path, as_version=4)
    hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
    count = sum(c.source.count(old) for c in hits)
    assert count == 1, (
        f"{path}: the planted bug's text occurs {count} times (must be once): {old!r}. The notebook "
        "changed: rewrite this entry of PLANTED_IN_NOTEBOOKS for the new cell, never delete it."
    )
    before = check_notebook(nb)
    hits[0].source = hits[0].source.replace(old, new)
    if tag:  # the author also tags the cell: still caught
        hits[0].metadata["tags"] = [*hits[0].metadata.get("tags", []), TEST_SET_TAG]
    return before, check_notebook(nb)


@pytest.mark.parametrize("tag", [False, True], ids=["untagged", "tagged"])
@pytest.mark.parametrize("bug", list(PLANTED_IN_NOTEBOOKS))
def test_each_planted_bug_in_a_copy_of_the_real_notebook_is_caught(bug, tag):
    before, after = _plant(*PLANTED_IN_NOTEBOOKS[bug], tag)
    new = [v for v in after if v not in before]
    assert new, f"planted bug not caught: {bug}"
