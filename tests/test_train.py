"""Tests for from_scratch_numpy/train.py: recipes, build, the fit loop, saving and loading weights."""

import dataclasses
import os

import numpy as np
import pytest
from conftest import blobs

from from_scratch_numpy import numpy_net as nn
from from_scratch_numpy import train as T


def quiet_fit(net, optimizer, x, y, **kwargs):
    """fit without a progress bar."""
    return T.fit(net, optimizer, x, y, progress=False, **kwargs)


class RecordingSGD(nn.SGD):
    """SGD that records the learning rate and the batch size of every step it takes."""

    def __init__(self, lr):
        super().__init__(lr)
        self.lrs, self.batch_sizes = [], []

    def step(self, parameters):
        """Record, then update."""
        self.lrs.append(self.lr)
        self.batch_sizes.append(len(parameters[0][1]))
        super().step(parameters)


def record_batches(net):
    """Wrap net.train_step so that the rows of every batch it gets are recorded."""
    batches = []
    train_step = net.train_step

    def recording_train_step(x, y, optimizer):
        batches.append(x.copy())
        return train_step(x, y, optimizer)

    net.train_step = recording_train_step
    return batches


# ----------------------------------------------------------------------------- recipes and build


def test_recipes():
    assert T.ORIGINAL.sizes == (784, 128, 10) and T.ORIGINAL.init == "small_normal"
    assert (T.ORIGINAL.optimizer, T.ORIGINAL.lr, T.ORIGINAL.batch_size) == ("SGD", 0.01, 32)
    assert (
        T.ORIGINAL.shuffle is False
        and T.ORIGINAL.dtype == "float64"
        and T.ORIGINAL.schedule is None
    )
    assert T.IMPROVED.optimizer == "Adam" and T.IMPROVED.schedule == "cosine"
    assert T.IMPROVED.label_smoothing > 0 and T.IMPROVED.weight_decay > 0 and T.IMPROVED.dropout > 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        T.IMPROVED.lr = 1.0
    changed = T.replace(T.IMPROVED, lr=0.5)
    assert changed.lr == 0.5 and T.IMPROVED.lr == 2e-3
    assert "Adam lr 0.002" in T.IMPROVED.describe()


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"optimizer": "RMSprop"}, "optimizer must be one of"),
        ({"lr": 0}, "lr must be a finite number > 0"),
        ({"lr": float("inf")}, "lr must be a finite number > 0"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"epochs": 1.5}, "epochs must be a positive integer"),
        ({"momentum": 1.0}, r"momentum must be a number in \[0, 1\)"),
        ({"dropout": 1.0}, "dropout rate must be"),
        ({"dtype": "int64"}, "dtype must be float32 or float64"),
        ({"schedule": "step"}, "schedule must be None or 'cosine'"),
        ({"monitor": "loss"}, "monitor must be"),
        ({"val_fraction": 0.0}, r"val_fraction must be a number in \(0, 1\)"),
        ({"early_stopping_patience": 0}, "early_stopping_patience must be a positive integer"),
        ({"warmup_epochs": 20}, "warmup_epochs must be in"),
    ],
)
def test_impossible_recipes_are_value_errors(changes, match):
    with pytest.raises(ValueError, match=match):
        T.replace(T.IMPROVED, **changes)


def test_build_makes_the_recipes_network_optimizer_and_schedule():
    recipe = T.replace(T.IMPROVED, sizes=(784, 32, 16, 10))
    net, opt, schedule = nn.build(recipe, seed=0)
    assert schedule(0) == recipe.lr and schedule(recipe.epochs) == 0.0  # cosine, over the epochs
    assert schedule(recipe.epochs / 2) == pytest.approx(recipe.lr / 2)
    assert [W.shape for W, _ in net.parameters()][::2] == [(784, 32), (32, 16), (16, 10)]
    assert isinstance(opt, nn.Adam) and opt.lr == recipe.lr
    assert (
        net.loss_fn.label_smoothing == recipe.label_smoothing
        and net.weight_decay == recipe.weight_decay
    )
    assert all(
        layer.rate == recipe.dropout for layer in net.layers if isinstance(layer, nn.Dropout)
    )
    assert net.layers[0].W.dtype == np.float32
    net64, sgd, constant = nn.build(T.ORIGINAL, seed=0)
    assert net64.layers[0].W.dtype == np.float64 and isinstance(sgd, nn.SGD) and constant is None
    assert net64.layers[0].W.std() == pytest.approx(0.01, rel=0.05)
    _, momentum, _ = nn.build(T.replace(T.ORIGINAL, optimizer="Momentum", momentum=0.8), seed=0)
    assert isinstance(momentum, nn.Momentum) and momentum.momentum == 0.8
    again, *_ = nn.build(recipe, seed=0)
    other, *_ = nn.build(recipe, seed=1)
    np.testing.assert_array_equal(again.layers[0].W, net.layers[0].W)
    assert not np.array_equal(other.layers[0].W, net.layers[0].W)


@pytest.mark.parametrize(
    ("recipe", "seed"), [("IMPROVED", 0), (T.IMPROVED, -1), (T.IMPROVED, 1.5), (T.IMPROVED, True)]
)
def test_train_bad_arguments(recipe, seed):
    x, y = blobs(n=40, d=784)
    with pytest.raises(ValueError, match="recipe must be a Recipe|seed must be an integer >= 0"):
        T.train(recipe, x.clip(0, 1), y, seed=seed, progress=False)


# ----------------------------------------------------------------------------- fit


def test_fit_learns_and_history_is_keras_style():
    x, y = blobs(600)
    net = nn.mlp((20, 32, 3), dropout=0.1, weight_decay=1e-4, seed=0)
    hist = quiet_fit(
        net,
        nn.Adam(1e-2),
        x[:500],
        y[:500],
        epochs=8,
        batch_size=32,
        validation_data=(x[500:], y[500:]),
        lr_schedule=nn.cosine_schedule(1e-2, 8),
    )
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"):
        assert len(hist[key]) == 8, key
    assert hist["loss"][-1] < hist["loss"][0] and hist["val_accuracy"][-1] > 0.95
    assert hist["val_loss"][-1] == pytest.approx(T.evaluate(net, x[500:], y[500:])[0])
    assert (T.predict(net, x[500:]) == y[500:]).mean() == hist["val_accuracy"][-1]
    assert all(W.dtype == np.float32 for W, _ in net.parameters())


@pytest.mark.parametrize(("n", "batch_size"), [(96, 32), (100, 32), (10, 32), (7, 1)])
def test_every_example_is_used_exactly_once_per_epoch(n, batch_size):
    x = np.arange(n * 4, dtype=np.float32).reshape(n, 4) / (n * 4)  # every row different, in [0, 1)
    y = np.arange(n) % 3
    net = nn.mlp((4, 3, 3), seed=0)
    batches = record_batches(net)
    quiet_fit(net, nn.SGD(1e-9), x, y, epochs=2, batch_size=batch_size, seed=0)
    steps = -(-n // batch_size)
    assert len(batches) == 2 * steps
    for epoch in range(2):
        rows = np.concatenate(batches[epoch * steps : (epoch + 1) * steps])
        assert sorted(map(tuple, rows)) == sorted(map(tuple, x))


def test_fit_hands_the_schedules_learning_rate_to_the_optimizer_at_every_step():
    x, y = blobs(100, d=6)
    schedule = nn.cosine_schedule(0.1, 3, warmup=1)
    opt = RecordingSGD(0.1)
    hist = quiet_fit(
        nn.mlp((6, 5, 3), seed=0), opt, x, y, epochs=3, batch_size=32, lr_schedule=schedule
    )
    steps = 4
    expected = [schedule(epoch + step / steps) for epoch in range(3) for step in range(steps)]
    np.testing.assert_allclose(opt.lrs, expected, rtol=1e-12)
    assert len(set(np.round(opt.lrs, 12))) == len(expected)  # really a different rate each step
    np.testing.assert_allclose(hist["lr"], [schedule(e) for e in range(3)])


def test_logged_training_loss_includes_l2_and_the_accuracy_is_right():
    x, y = blobs(90, d=6)
    net = nn.mlp((6, 5, 3), weight_decay=2.0, seed=0)
    loss, acc = T.evaluate(net, x, y)  # includes the L2 penalty
    hist = quiet_fit(net, nn.SGD(1e-12), x, y, epochs=1, batch_size=32)  # weights do not move
    assert net.l2_penalty() > 1.0
    assert hist["loss"][0] == pytest.approx(loss, rel=1e-5)
    assert hist["accuracy"][0] == pytest.approx(acc)


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(1)  # random labels: the validation loss soon gets worse
    x, y = rng.random(size=(400, 20), dtype=np.float32), rng.integers(0, 3, size=400)
    net = nn.mlp((20, 64, 3), seed=0)
    hist = quiet_fit(
        net,
        nn.Adam(1e-2),
        x[:300],
        y[:300],
        epochs=30,
        batch_size=32,
        validation_data=(x[300:], y[300:]),
        early_stopping_patience=2,
        monitor="val_loss",
    )
    assert len(hist["val_loss"]) == hist.best_epoch + 3 < 30
    assert hist["val_loss"][hist.best_epoch] == min(hist["val_loss"])
    assert T.evaluate(net, x[300:], y[300:])[0] == pytest.approx(
        hist["val_loss"][hist.best_epoch], rel=1e-6
    )


def test_best_epoch_by_validation_accuracy_is_the_first_best():
    x, y = blobs(200)
    net = nn.mlp((20, 8, 3), seed=0)
    hist = quiet_fit(
        net, nn.Adam(1e-2), x[:150], y[:150], epochs=6, validation_data=(x[150:], y[150:])
    )
    assert hist.best_epoch == int(np.argmax(hist["val_accuracy"]))


def test_fixed_seed_gives_bit_identical_runs():
    x, y = blobs(300)

    def run(seed):
        net, opt = nn.build(T.replace(T.IMPROVED, sizes=(20, 16, 3)), seed)[:2]
        hist = quiet_fit(net, opt, x, y, epochs=3, batch_size=32, seed=seed)
        del hist["time"]
        return net, hist

    (a, ha), (b, hb), (c, hc) = run(7), run(7), run(8)
    assert ha == hb and ha != hc
    for (Wa, _), (Wb, _) in zip(a.parameters(), b.parameters(), strict=False):
        np.testing.assert_array_equal(Wa, Wb)
    assert not np.array_equal(a.layers[0].W, c.layers[0].W)


def test_shuffle_false_keeps_the_data_order():
    x, y = blobs(96)
    net = nn.mlp((20, 8, 3), seed=0)
    batches = record_batches(net)
    quiet_fit(net, nn.SGD(0.1), x, y, epochs=2, batch_size=32, shuffle=False, seed=5)
    np.testing.assert_array_equal(np.concatenate(batches[:3]), x)
    np.testing.assert_array_equal(np.concatenate(batches[3:]), x)
    shuffled = nn.mlp((20, 8, 3), seed=0)
    batches = record_batches(shuffled)
    quiet_fit(shuffled, nn.SGD(0.1), x, y, epochs=1, batch_size=32)
    assert not np.array_equal(np.concatenate(batches), x)


def test_diverging_run_stops_with_a_clear_error():
    x, y = blobs(256)
    with pytest.raises(
        T.TrainingDivergedError, match=r"diverged.*epoch \d+, step \d+/8 .*smaller learning rate"
    ):  # 256 digits in batches of 32: 8 steps an epoch
        quiet_fit(nn.mlp((20, 16, 3), seed=0), nn.SGD(1e6), x, y, epochs=5, batch_size=32)


def test_progress_is_one_bar_and_on_epoch_end_is_called(capsys):
    x, y = blobs(64)
    calls = []
    T.fit(
        nn.mlp((20, 8, 3), seed=0),
        nn.SGD(0.1),
        x,
        y,
        epochs=3,
        validation_data=(x, y),
        on_epoch_end=lambda epoch, net, logs: calls.append((epoch, sorted(logs))),
    )
    err = capsys.readouterr().err
    assert "3/3" in err and "val_accuracy" in err and err.count("\n") == 1
    assert calls == [(e, ["accuracy", "loss", "val_accuracy", "val_loss"]) for e in range(3)]
    quiet_fit(nn.mlp((20, 8, 3), seed=0), nn.SGD(0.1), x, y, epochs=1)
    assert capsys.readouterr().err == ""


def test_train_uses_the_recipe():
    x, y = blobs(200, d=784)
    recipe = T.replace(T.IMPROVED, sizes=(784, 16, 3), epochs=3, early_stopping_patience=1)
    net, hist = T.train(
        recipe, x[:150], y[:150], (x[150:], y[150:]), seed=0, epochs=2, progress=False
    )
    assert len(hist["loss"]) <= 2 and hist["lr"][0] == pytest.approx(recipe.lr)
    net, hist = T.train(recipe, x, y, seed=0, progress=False)
    assert len(hist["loss"]) == 3 and "val_loss" not in hist
    with pytest.raises(TypeError, match="batch_size"):  # the recipe's setting, given twice
        T.train(recipe, x, y, batch_size=7, progress=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"epochs": 2.5}, "epochs must be a positive integer"),
        ({"batch_size": -32}, "batch_size must be a positive integer"),
        ({"batch_size": 2.5}, "batch_size must be a positive integer"),
        ({"early_stopping_patience": 2}, "early stopping needs validation_data"),
        ({"monitor": "accuracy"}, "monitor must be"),
        ({"lr_schedule": 0.1}, "lr_schedule must be a function"),
        ({"optimizer": None}, "optimizer must be an SGD, Momentum or Adam"),
        ({"optimizer": nn.Adam(eps=-1e-8)}, "optimizer.eps must be a finite number > 0"),
        ({"optimizer": nn.Adam(beta1=1.5)}, r"optimizer.beta1 must be a number in \[0, 1\)"),
        ({"optimizer": nn.Adam(beta2=-0.1)}, r"optimizer.beta2 must be a number in \[0, 1\)"),
        ({"optimizer": nn.Momentum(momentum=-0.5)}, r"optimizer.momentum must be"),
        ({"optimizer": nn.SGD(0)}, "learning rate"),
        ({"optimizer": nn.SGD(float("nan"))}, "learning rate"),
        ({"validation_data": (np.zeros((5, 20)), np.zeros(4, int))}, r"y must have shape \(5,\)"),
        ({"validation_data": (np.full((5, 20), np.nan), np.zeros(5, int))}, "NaN or infinite"),
        ({"validation_data": (np.zeros((5, 20)), np.zeros(5, int), None)}, "too many values"),
    ],
)
def test_impossible_fit_settings_are_value_errors(kwargs, match):
    x, y = blobs(40)
    kwargs = {"optimizer": nn.SGD(0.1), **kwargs}
    with pytest.raises(ValueError, match=match):
        quiet_fit(nn.mlp((20, 8, 3)), kwargs.pop("optimizer"), x, y, **kwargs)


def test_bad_training_data_are_value_errors_not_divergence():
    x, y = blobs(40)
    net = nn.mlp((20, 8, 3))
    bad = x.copy()
    bad[3, 4] = np.nan
    for x_bad, y_bad, match in [
        (bad, y, "NaN or infinite"),
        (x[:0], y[:0], "non-empty"),
        ((x * 10).astype(np.int64), y, "integer images must be uint8"),
        (x, np.where(y == 0, 3, y), r"labels must be in 0\.\.2"),
        (x, y[:-1], r"y must have shape \(40,\)"),
        (x, y.astype(float), "labels must be integers"),
    ]:
        with pytest.raises(ValueError, match=match):
            quiet_fit(net, nn.SGD(0.1), x_bad, y_bad)


# ----------------------------------------------------------------------------- save / load


def test_save_load_round_trip_reproduces_predictions_exactly(tmp_path):
    x, y = blobs(200)
    net = nn.mlp((20, 16, 3), seed=0)
    quiet_fit(net, nn.Adam(1e-2), x, y, epochs=2)
    path = T.save_weights(net, tmp_path / "models" / "weights")
    assert path.name == "weights.npz"
    with np.load(path, allow_pickle=False) as f:
        assert sorted(f.files) == ["dense0.W", "dense0.b", "dense2.W", "dense2.b"]
    other = T.load_weights(nn.mlp((20, 16, 3), seed=99), path)
    np.testing.assert_array_equal(T.predict_proba(other, x), T.predict_proba(net, x))


def _bad_files(tmp_path, good):
    """(file, expected message) pairs, each file wrong in one way."""
    arrays = {k: v.copy() for k, v in good.items()}
    cases = []

    def npz(name, **changes):
        path = tmp_path / f"{name}.npz"
        np.savez(path, **{**arrays, **changes})
        return path

    cases.append(
        (
            npz("shape", **{"dense0.W": np.zeros((20, 32), np.float32)}),
            r"dense0\.W.*\(20, 32\).*\(20, 16\)",
        )
    )
    partial = tmp_path / "partial.npz"
    np.savez(partial, **{k: v for k, v in arrays.items() if k != "dense2.b"})
    cases.append((partial, r"missing \['dense2\.b'\]"))
    cases.append((npz("extra", **{"dense9.W": np.zeros(3)}), r"unexpected \['dense9\.W'\]"))
    cases.append(
        (npz("nan", **{"dense2.b": np.array([0.0, np.nan, 0.0])}), r"dense2\.b.*NaN or infinite")
    )
    cases.append(
        (npz("text", **{"dense2.b": np.array(["a", "b", "c"])}), r"dense2\.b.*not numeric")
    )
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{**arrays, "dense2.b": np.array([{}, {}, {}], dtype=object)})
    cases.append((pickled, "pickled objects"))
    text = tmp_path / "notes.npz"
    text.write_text("these are not weights\n")
    cases.append((text, r"is not an \.npz file"))
    cases.append((tmp_path / "absent.npz", "no such file"))
    return cases


def test_bad_weight_files_are_refused_and_leave_the_network_untouched(tmp_path):
    net = nn.mlp((20, 16, 3), seed=0)
    good = T.parameter_arrays(nn.mlp((20, 16, 3), seed=1))
    before = [W.copy() for W, _ in net.parameters()]
    for path, match in _bad_files(tmp_path, good):
        with pytest.raises(ValueError, match=match):
            T.load_weights(net, path)
        for W0, (W, _) in zip(before, net.parameters(), strict=False):
            np.testing.assert_array_equal(W, W0, err_msg=str(path))


# --- issue 28: a real user's disk and hyperparameters ---------------------------------------------


def test_save_weights_on_a_full_disk_leaves_the_earlier_file_intact(tmp_path, monkeypatch):
    x, _ = blobs(50)
    good = nn.mlp((20, 16, 3), seed=0)
    path = T.save_weights(good, tmp_path / "numpy_mlp.npz")
    before = path.read_bytes()

    def full_disk(file, **arrays):  # np.savez given a path or an open file
        f = open(file, "wb") if isinstance(file, (str, os.PathLike)) else file  # noqa: SIM115
        f.write(b"PK\x03\x04" + b"\0" * 100)  # a few bytes, then the disk is full
        f.flush()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", full_disk)
    with pytest.raises(OSError, match="No space left"):
        T.save_weights(nn.mlp((20, 16, 3), seed=1), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["numpy_mlp.npz"], "no temporary file left"
    loaded = T.load_weights(nn.mlp((20, 16, 3), seed=5), path)
    np.testing.assert_array_equal(T.predict_proba(loaded, x), T.predict_proba(good, x))


def test_a_weights_file_declaring_a_huge_extra_array_is_refused_unread(tmp_path, monkeypatch):
    import zipfile

    arrays = T.parameter_arrays(nn.mlp((20, 16, 3), seed=1))
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, **arrays, extra=np.zeros(20_000_000, np.uint8))  # 20 MB declared
    assert path.stat().st_size < 200_000
    read, real = [], zipfile.ZipExtFile.read
    monkeypatch.setattr(
        zipfile.ZipExtFile, "read", lambda self, n=-1: read.append(n) or real(self, n)
    )
    net = nn.mlp((20, 16, 3), seed=0)
    with pytest.raises(ValueError, match=r"declares|unexpected \['extra'\]"):
        T.load_weights(net, path)
    assert not read, "nothing inflated: refused from the zip directory"


def test_a_parameter_declaring_another_shape_is_refused_before_it_is_read(tmp_path, monkeypatch):
    import zipfile

    arrays = T.parameter_arrays(nn.mlp((20, 16, 3), seed=1))
    path = tmp_path / "big.npz"
    np.savez_compressed(path, **{**arrays, "dense0.W": np.zeros((20, 200_000), np.float32)})
    read, real = [], zipfile.ZipExtFile.read
    monkeypatch.setattr(
        zipfile.ZipExtFile, "read", lambda self, n=-1: read.append(n) or real(self, n)
    )
    with pytest.raises(ValueError, match=r"declares|dense0\.W.*\(20, 200000\)"):
        T.load_weights(nn.mlp((20, 16, 3), seed=0), path)
    assert all(0 <= n < 10_000 for n in read), "at most headers were read"


def test_weights_finite_in_float64_but_infinite_in_float32_are_refused(tmp_path):
    arrays = {k: v.astype(np.float64) for k, v in T.parameter_arrays(nn.mlp((20, 16, 3))).items()}
    arrays["dense0.W"][0, 0] = 1e300
    np.savez(tmp_path / "huge.npz", **arrays)
    net = nn.mlp((20, 16, 3), seed=0)
    before = net.layers[0].W.copy()
    with pytest.raises(ValueError, match=r"dense0\.W.*infinite values as float32"):
        T.load_weights(net, tmp_path / "huge.npz")
    np.testing.assert_array_equal(net.layers[0].W, before)


def test_a_loss_exploding_far_above_its_start_is_divergence_naming_the_learning_rate():
    x, y = blobs(400)
    net = nn.mlp((20, 32, 3), seed=0)
    with pytest.raises(T.TrainingDivergedError, match=r"learning rate 1e\+06"):
        quiet_fit(net, nn.Adam(1e6), x, y, epochs=5, batch_size=32)


def test_a_reasonable_run_is_not_called_divergent():
    x, y = blobs(400)
    history = quiet_fit(nn.mlp((20, 32, 3), seed=0), nn.SGD(0.5), x, y, epochs=5, batch_size=32)
    assert history["accuracy"][-1] > 0.9


def test_a_negative_scheduled_learning_rate_is_refused_before_training():
    x, y = blobs(100)
    net = nn.mlp((20, 16, 3), seed=0)
    before = net.layers[0].W.copy()
    with pytest.raises(
        ValueError, match=r"lr_schedule\(0\) gave -0\.1; a learning rate must be a finite number >= 0"
    ):
        quiet_fit(net, nn.SGD(0.1), x, y, epochs=3, lr_schedule=nn.cosine_schedule(-0.1, 3))
    np.testing.assert_array_equal(net.layers[0].W, before)  # not one step uphill
    with pytest.raises(ValueError, match="lr"):
        T.replace(T.IMPROVED, lr=-0.1)  # and a recipe cannot hold one


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_fit_with_an_impossible_seed_names_the_seed(seed):
    x, y = blobs(50)
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0"):
        quiet_fit(nn.mlp((20, 16, 3)), nn.SGD(0.1), x, y, epochs=1, seed=seed)
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0"):
        T.train(T.replace(T.IMPROVED, sizes=(20, 16, 3), epochs=1), x, y, seed=seed, progress=False)


def test_a_weights_file_with_an_unsupported_zip_method_gets_a_clear_error(tmp_path):
    """Second pass (fuzzing load_weights): NotImplementedError escaped from zipfile."""
    path = T.save_weights(nn.mlp((20, 16, 3), seed=1), tmp_path / "w.npz")
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # local and central
        at = data.find(signature)
        while at != -1:
            data[at + offset : at + offset + 2] = (99).to_bytes(2, "little")  # method 99: AES
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))
    net = nn.mlp((20, 16, 3), seed=0)
    with pytest.raises(ValueError, match="not a readable .npz file"):
        T.load_weights(net, path)
