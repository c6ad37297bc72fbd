"""Benchmark: the from-scratch NumPy network against Keras, and against the machine's own limit.

One run measures, side by side, on the full MNIST (``common.data.load_mnist()``):

1. the float32 matrix-multiply throughput of NumPy's BLAS on exactly the products one training
   step computes (the machine's limit for this network), next to the BLAS library and threads;
2. the NumPy network's training throughput (samples/s, GFLOP/s) as a fraction of (1);
3. the same architecture, optimizer, batch size and learning rate in Keras (first epoch, which
   includes tracing, timed apart from the steady epochs), and the training seconds each framework
   needs to reach 98% test accuracy (median of the repetitions);
4. the original notebook's configuration (784-128-10, float64, batch 32, SGD 0.01) as a baseline;
5. the peak resident memory of a NumPy training run next to the size of the float32 training set.

Every training run happens in a fresh subprocess (``--worker``), so the peak memory is that run's
own and TensorFlow's threads never share a process with the NumPy runs. The table is printed and
written to ``results/benchmark.md`` and ``results/benchmark.json``.

Usage::

    python benchmarks/bench_numpy_vs_keras.py            # full run (a few minutes)
    python benchmarks/bench_numpy_vs_keras.py --smoke    # tiny subset, seconds: checks it runs
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # running the file directly from a fresh clone
    sys.path.insert(0, str(REPO_ROOT))

RESULT_TAG = "BENCH_RESULT "
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_VERBOSE")
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
BASELINE = {
    "sizes": [784, 128, 10],
    "dtype": "float64",
    "batch_size": 32,
    "optimizer": "sgd",
    "lr": 0.01,
    "init": "small_normal",
    "shuffle": False,
}
# A copy of numpy_net.IMPROVED (the notebook's improved settings), used only if it cannot be imported.
NOTEBOOK_AFTER_FALLBACK = {
    "sizes": (784, 512, 512, 10),
    "dropout": 0.3,
    "label_smoothing": 0.1,
    "weight_decay": 0.0,
    "optimizer": "Adam",
    "lr": 1e-3,
    "warmup_epochs": 1,
    "schedule": "cosine",
    "batch_size": 128,
    "epochs": 15,
    "dtype": "float32",
}
SIMPLE = {
    "sizes": (784, 512, 10),
    "dropout": 0.0,
    "label_smoothing": 0.0,
    "weight_decay": 0.0,
    "optimizer": "Adam",
    "lr": 1e-3,
    "warmup_epochs": 0,
    "schedule": "constant",
    "batch_size": 128,
    "epochs": 30,
    "dtype": "float32",
}
TABLE_THROUGHPUT = "Training throughput and time to 98% test accuracy"
TABLE_MATMUL = "Matrix-multiply limit (NumPy BLAS, one training step's products)"
TABLE_MEMORY = "Peak memory of a NumPy training run"
TABLE_TARGETS = "Targets"
TABLE_MACHINE = "Machine and libraries"
TABLE_PROFILE = "Where a NumPy training step's time goes (cProfile)"


# ------------------------------------------------------------------------------------------------
# FLOP counting and the matrix-multiply limit
# ------------------------------------------------------------------------------------------------


def step_products(sizes, batch):
    """The matrix products one training step computes, as (name, (m, k, n)) with FLOPs 2*m*k*n.

    Forward ``a @ W`` for every layer; backward ``a.T @ delta`` (the weight gradient) for every
    layer and ``delta @ W.T`` (the gradient for the layer's input) for every layer but the first,
    which neither framework computes (nothing before the first layer has parameters).
    """
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    ops = []
    for n_in, n_out in pairs:
        ops.append((f"forward a@W {batch}x{n_in} @ {n_in}x{n_out}", "fwd", (batch, n_in, n_out)))
    for i, (n_in, n_out) in reversed(list(enumerate(pairs))):
        ops.append(
            (f"backward a.T@delta {n_in}x{batch} @ {batch}x{n_out}", "wgrad", (n_in, batch, n_out))
        )
        if i > 0:
            ops.append(
                (
                    f"backward delta@W.T {batch}x{n_out} @ {n_out}x{n_in}",
                    "igrad",
                    (batch, n_out, n_in),
                )
            )
    return ops


def flops_per_sample(sizes):
    """Matrix-multiply FLOPs per training sample (multiply and add counted as 2 FLOPs).

    Returns forward, backward as executed (weight gradients for every layer, input gradients for
    every layer but the first), their sum, and the conventional "3 x forward" figure. Bias adds,
    activations, softmax, the loss and the optimizer update are not counted (they are O(units)
    or O(parameters) per step, not O(batch x parameters)).
    """
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    forward = 2 * sum(i * o for i, o in pairs)
    backward = 2 * sum(i * o for i, o in pairs) + 2 * sum(i * o for i, o in pairs[1:])
    return {
        "forward": forward,
        "backward": backward,
        "train": forward + backward,
        "conventional_3x_forward": 3 * forward,
    }


def _time_best(fn, trials, min_seconds=0.02):
    """Best-of-``trials`` seconds per call; each trial loops until it lasts ``min_seconds``."""
    fn()  # warm up (thread pool start, page faults)
    loops, elapsed = 1, 0.0
    while True:  # calibrate the loop count
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds or loops >= 1 << 16:
            break
        loops *= 2
    best = elapsed / loops
    for _ in range(trials - 1):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter() - t0) / loops)
    return best


def matmul_limit(sizes, batch, dtype="float32", trials=7, min_seconds=0.02):
    """GFLOP/s of each product a training step computes, and of the whole set (best-of-N).

    The operands have the network's shapes and dtype, and the calls are the ones the network
    makes (``a @ W``, ``np.matmul(a.T, delta, out=dW)``, ``delta @ W.T``). The total rate is
    total FLOPs / sum of best times: the rate a training step would reach if it did nothing but
    its matrix products.
    """
    rng = np.random.default_rng(0)
    dt = np.dtype(dtype)
    rows, total_flops, total_s = [], 0, 0.0
    for name, kind, (m, k, n) in step_products(sizes, batch):
        if kind == "fwd":
            a = rng.random((m, k), dtype=np.float64).astype(dt)
            w = rng.random((k, n), dtype=np.float64).astype(dt)

            def fn(a=a, w=w):
                return a @ w

        elif kind == "wgrad":  # (n_in x batch) @ (batch x n_out) from a (batch, n_in) array
            a = rng.random((k, m), dtype=np.float64).astype(dt)
            d = rng.random((k, n), dtype=np.float64).astype(dt)
            out = np.empty((m, n), dtype=dt)

            def fn(a=a, d=d, out=out):
                return np.matmul(a.T, d, out=out)

        else:  # delta @ W.T with W of shape (n_in, n_out) = (n, k)
            d = rng.random((m, k), dtype=np.float64).astype(dt)
            w = rng.random((n, k), dtype=np.float64).astype(dt)

            def fn(d=d, w=w):
                return d @ w.T

        seconds = _time_best(fn, trials, min_seconds)
        flops = 2 * m * k * n
        rows.append(
            {"product": name, "flops": flops, "seconds": seconds, "gflops": flops / seconds / 1e9}
        )
        total_flops += flops
        total_s += seconds
    big = 1024
    a = rng.random((big, big), dtype=np.float64).astype(dt)
    big_s = _time_best(lambda: a @ a, max(3, trials // 2), min_seconds)
    return {
        "dtype": dt.name,
        "batch_size": batch,
        "sizes": list(sizes),
        "products": rows,
        "step_flops": total_flops,
        "step_matmul_seconds": total_s,
        "gflops": total_flops / total_s / 1e9,
        "square_1024_gflops": 2 * big**3 / big_s / 1e9,
    }


def best_limit(*limits):
    """Combine matmul-limit measurements of the same shapes: the best time of each product."""
    limits = [lim for lim in limits if lim]
    out = json.loads(json.dumps(limits[0]))  # deep copy
    for i, prod in enumerate(out["products"]):
        prod["seconds"] = min(lim["products"][i]["seconds"] for lim in limits)
        prod["gflops"] = prod["flops"] / prod["seconds"] / 1e9
    out["step_matmul_seconds"] = sum(p["seconds"] for p in out["products"])
    out["gflops"] = out["step_flops"] / out["step_matmul_seconds"] / 1e9
    out["square_1024_gflops"] = max(lim["square_1024_gflops"] for lim in limits)
    out["measurements"] = len(limits)
    return out


# ------------------------------------------------------------------------------------------------
# Environment and memory
# ------------------------------------------------------------------------------------------------


def blas_info():
    """threadpoolctl's view of the BLAS/OpenMP libraries NumPy loaded, and the relevant env vars."""
    try:
        from threadpoolctl import threadpool_info

        pools = [
            {k: v for k, v in p.items() if k != "filepath"} | {"file": Path(p["filepath"]).name}
            for p in threadpool_info()
        ]
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        pools = []
    env = {name: os.environ.get(name) for name in OPENBLAS_VARS + THREAD_VARS}
    return {"threadpools": pools, "env": env}


def _blas_summary(info):
    """One line: the BLAS library, version, threads and kernel (architecture) threadpoolctl reports."""
    blas = [p for p in info["threadpools"] if p.get("user_api") == "blas"]
    if not blas:
        return "unknown"
    return "; ".join(
        f"{p.get('internal_api')} {p.get('version')} ({p.get('file')}), {p.get('num_threads')} threads, "
        f"kernel {p.get('architecture')}, {p.get('threading_layer')}"
        for p in blas
    )


def _cpu_model():
    """The CPU model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _rss_bytes():
    """Current resident set size of this process."""
    try:
        import psutil

        return psutil.Process().memory_info().rss
    except ImportError:  # pragma: no cover
        return None


def _peak_rss_bytes():
    """Peak resident set of this process: VmHWM from /proc (its own address space), else ru_maxrss.

    ru_maxrss of a freshly exec'd child can inherit the parent's high-water mark on Linux; VmHWM
    belongs to the process's own memory map, so it is the run's own peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _cpu_seconds():
    """User + system CPU seconds of this process so far."""
    t = os.times()
    return t.user + t.system


def improved_config():
    """The NumPy notebook's improved settings: ``numpy_net.IMPROVED``, trained as ``train_improved``.

    ``train_improved`` always uses Adam with a linear warm-up and cosine decay over the run's
    epochs (warm-up at most half of them); returns (settings, where they came from). Falls back
    to a built-in copy if numpy_net has no IMPROVED recipe.
    """
    try:
        import from_scratch_numpy.numpy_net as nn

        raw = dict(nn.IMPROVED)
        raw.setdefault("schedule", "cosine")
        return raw, "from_scratch_numpy.numpy_net.IMPROVED (as train_improved trains it)"
    except (ImportError, AttributeError) as err:
        return dict(NOTEBOOK_AFTER_FALLBACK), f"built-in copy (numpy_net.IMPROVED not found: {err})"


def baseline_config():
    """The original notebook's settings: ``numpy_net.ORIGINAL`` if present, else the built-in copy."""
    try:
        import from_scratch_numpy.numpy_net as nn

        raw = dict(nn.ORIGINAL)
        return {
            "sizes": [int(v) for v in raw["sizes"]],
            "dtype": str(raw["dtype"]),
            "batch_size": int(raw["batch_size"]),
            "optimizer": str(raw["optimizer"]).lower(),
            "lr": float(raw["lr"]),
            "init": raw.get("init", "small_normal"),
            "shuffle": bool(raw.get("shuffle", False)),
        }
    except (ImportError, AttributeError, KeyError):
        return dict(BASELINE)


def normalize_config(raw):
    """Settings in the benchmark's own terms (lower-case optimizer, lists, floats)."""
    cfg = {
        "sizes": [int(v) for v in raw["sizes"]],
        "dropout": float(raw.get("dropout", 0.0)),
        "input_dropout": float(raw.get("input_dropout", 0.0)),
        "label_smoothing": float(raw.get("label_smoothing", 0.0)),
        "weight_decay": float(raw.get("weight_decay", 0.0)),
        "optimizer": str(raw.get("optimizer", "adam")).lower(),
        "lr": float(raw["lr"]),
        "schedule": str(raw.get("schedule", "constant")).lower(),
        "warmup_epochs": float(raw.get("warmup_epochs", 0) or 0),
        "shuffle": bool(raw.get("shuffle", True)),
        "batch_size": int(raw["batch_size"]),
        "epochs": int(raw.get("epochs", 10)),
        "dtype": str(raw.get("dtype", "float32")),
    }
    if cfg["optimizer"] not in ("adam", "sgd", "momentum"):
        raise ValueError(f"unsupported optimizer {cfg['optimizer']!r}")
    if cfg["schedule"] not in ("constant", "cosine"):
        raise ValueError(f"unsupported schedule {cfg['schedule']!r}")
    return cfg


def describe_config(cfg):
    """One line: sizes, regularizers, optimizer, learning rate and schedule, batch size."""
    parts = ["-".join(map(str, cfg["sizes"]))]
    if cfg["dropout"]:
        parts.append(f"dropout {cfg['dropout']:g}")
    if cfg.get("input_dropout"):
        parts.append(f"input dropout {cfg['input_dropout']:g}")
    if cfg["label_smoothing"]:
        parts.append(f"label smoothing {cfg['label_smoothing']:g}")
    if cfg["weight_decay"]:
        parts.append(f"L2 {cfg['weight_decay']:g}")
    sched = (
        f", cosine over {cfg['epochs']} epochs, warm-up {cfg['warmup_epochs']:g}"
        if cfg["schedule"] == "cosine"
        else ""
    )
    parts.append(f"{cfg['optimizer']} lr {cfg['lr']:g}{sched}")
    return ", ".join(parts)


# ------------------------------------------------------------------------------------------------
# Workers: each runs in its own process and prints one JSON line tagged RESULT_TAG
# ------------------------------------------------------------------------------------------------


def _load_data(spec):
    """MNIST as float32/float64 rows in [0, 1] (the NumPy network's own preprocess), maybe subsampled."""
    import warnings

    from common.data import load_mnist, subsample
    from from_scratch_numpy.numpy_net import preprocess

    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # the offline-sample warning: the source is reported instead
        data = load_mnist(spec.get("data_dir"))
    (x_train, y_train), (x_test, y_test) = data
    if spec.get("n_train"):
        x_train, y_train = subsample(x_train, y_train, spec["n_train"], seed=0)
    if spec.get("n_test"):
        x_test, y_test = subsample(x_test, y_test, spec["n_test"], seed=0)
    dtype = np.dtype(spec.get("dtype", "float32"))
    return (
        preprocess(x_train, dtype),
        y_train.astype(np.int64),
        preprocess(x_test, dtype),
        y_test.astype(np.int64),
        data.source.to_dict(),
    )


def _make_numpy_optimizer(nn, name, lr):
    return {"adam": nn.Adam, "sgd": nn.SGD, "momentum": nn.Momentum}[name](lr=lr)


def _numpy_network(nn, spec):
    return nn.mlp(
        tuple(spec["sizes"]),
        dropout=spec.get("dropout", 0.0),
        input_dropout=spec.get("input_dropout", 0.0),
        weight_decay=spec.get("weight_decay", 0.0),
        label_smoothing=spec.get("label_smoothing", 0.0),
        init=spec.get("init", "he"),
        dtype=np.dtype(spec["dtype"]),
        seed=spec["seed"],
    )


def _numpy_schedule(nn, spec):
    """The learning rate as a function of t = epoch + fraction of the epoch (None: constant)."""
    if spec.get("schedule", "constant") == "constant":
        return None
    return nn.cosine_schedule(spec["lr"], spec["epochs_max"], warmup=spec.get("warmup_epochs", 0))


def worker_numpy(spec):
    """Train the NumPy network epoch by epoch, test accuracy after each (not timed); stop at target."""
    import from_scratch_numpy.numpy_net as nn

    rss_start = _rss_bytes()
    x, y, xt, yt, source = _load_data(spec)
    rss_data = _rss_bytes()
    net = _numpy_network(nn, spec)
    opt = _make_numpy_optimizer(nn, spec["optimizer"], spec["lr"])
    schedule = _numpy_schedule(nn, spec)
    epochs, train_s, cumulative, seconds_to_target = [], 0.0, 0.0, None
    cpu0 = _cpu_seconds()
    for epoch in range(spec["epochs_max"]):
        t0 = time.perf_counter()
        net.fit(  # one epoch per call, so the test accuracy can be measured off the clock
            x,
            y,
            optimizer=opt,
            epochs=1,
            batch_size=spec["batch_size"],
            shuffle=spec.get("shuffle", True),
            seed=spec["seed"] * 100_003 + epoch,
            lr_schedule=(lambda t, e=epoch: schedule(e + t)) if schedule else None,
            progress=False,
        )
        seconds = time.perf_counter() - t0
        cumulative += seconds
        train_s += seconds
        acc = net.evaluate(xt, yt)[1]  # not timed
        epochs.append({"epoch": epoch + 1, "seconds": seconds, "test_accuracy": acc})
        if seconds_to_target is None and acc >= spec["target"]:
            seconds_to_target = cumulative
            if spec.get("stop_at_target", True):
                break
    cpu = _cpu_seconds() - cpu0
    return {
        "framework": "numpy",
        "seed": spec["seed"],
        "n_train": len(x),
        "n_test": len(xt),
        "data_source": source,
        "epochs": epochs,
        "seconds_to_target": seconds_to_target,
        "train_seconds": train_s,
        "cpu_seconds": cpu,
        "rss_start_bytes": rss_start,
        "rss_after_data_bytes": rss_data,
        "peak_rss_bytes": _peak_rss_bytes(),
        "blas": blas_info(),
    }


def worker_keras(spec):
    """The same network in Keras: one fit() call, epochs timed by a callback, evaluation not timed."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    rss_start = _rss_bytes()
    import keras
    import tensorflow as tf

    x, y, xt, yt, source = _load_data(spec)
    keras.utils.set_random_seed(spec["seed"])
    init = keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")  # He normal
    # (lambda / 2) * sum(W**2), as the NumPy network's L2 term
    reg = keras.regularizers.L2(spec["weight_decay"] / 2) if spec.get("weight_decay") else None
    sizes = spec["sizes"]
    layers = [keras.Input((sizes[0],))]
    if spec.get("input_dropout"):
        layers.append(keras.layers.Dropout(spec["input_dropout"]))
    for n_out in sizes[1:-1]:
        layers.append(
            keras.layers.Dense(
                n_out, activation="relu", kernel_initializer=init, kernel_regularizer=reg
            )
        )
        if spec.get("dropout"):
            layers.append(keras.layers.Dropout(spec["dropout"]))
    layers.append(keras.layers.Dense(sizes[-1], kernel_initializer=init, kernel_regularizer=reg))
    model = keras.Sequential(layers)
    steps_per_epoch = -(-len(x) // spec["batch_size"])
    lr = _keras_schedule(keras, spec, steps_per_epoch)
    optimizer = {
        "adam": lambda: keras.optimizers.Adam(lr, epsilon=1e-8),
        "sgd": lambda: keras.optimizers.SGD(lr),
        "momentum": lambda: keras.optimizers.SGD(lr, momentum=0.9),
    }[spec["optimizer"]]()
    # one-hot targets, so that label smoothing means the same as in the NumPy network
    y = keras.utils.to_categorical(y, sizes[-1]).astype(np.float32)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=spec.get("label_smoothing", 0.0)
        ),
        metrics=["accuracy"],  # the NumPy loop also counts training accuracy
        jit_compile=bool(spec.get("xla", False)),
    )
    target = spec["target"]
    epochs = []
    state = {"cumulative": 0.0, "seconds_to_target": None}

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch > 0:
                state["t0"] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - state["t0"]
            state["cumulative"] += seconds
            logits = self.model(xt, training=False)  # not timed
            acc = float(np.mean(np.argmax(np.asarray(logits), axis=1) == yt))
            epochs.append({"epoch": epoch + 1, "seconds": seconds, "test_accuracy": acc})
            if state["seconds_to_target"] is None and acc >= target:
                state["seconds_to_target"] = state["cumulative"]
                if spec.get("stop_at_target", True):
                    self.model.stop_training = True

    cpu0 = _cpu_seconds()
    state["t0"] = time.perf_counter()  # the first epoch includes fit()'s set-up and the tracing
    model.fit(
        x,
        y,
        batch_size=spec["batch_size"],
        epochs=spec["epochs_max"],
        shuffle=True,
        verbose=0,
        callbacks=[EpochClock()],
    )
    cpu = _cpu_seconds() - cpu0
    return {
        "framework": "keras",
        "seed": spec["seed"],
        "xla": bool(spec.get("xla", False)),
        "n_train": len(x),
        "n_test": len(xt),
        "data_source": source,
        "epochs": epochs,
        "seconds_to_target": state["seconds_to_target"],
        "train_seconds": state["cumulative"],
        "cpu_seconds": cpu,
        "rss_start_bytes": rss_start,
        "peak_rss_bytes": _peak_rss_bytes(),
        "tf_threads": {
            "intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
            "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
        },
        "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)"),
    }


def _keras_schedule(keras, spec, steps_per_epoch):
    """The NumPy network's cosine schedule (numpy_net.cosine_schedule) as a Keras schedule."""
    if spec.get("schedule", "constant") == "constant":
        return spec["lr"]
    from keras import ops

    lr, epochs, warmup = spec["lr"], spec["epochs_max"], spec.get("warmup_epochs", 0)

    class Cosine(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            t = ops.cast(step, "float32") / steps_per_epoch  # epoch + fraction of the epoch
            progress = ops.minimum(1.0, (t - warmup) / max(epochs - warmup, 1e-12))
            cosine = 0.5 * lr * (1 + ops.cos(math.pi * progress))
            if not warmup:
                return cosine
            return ops.where(t < warmup, lr * (t + 1e-3) / warmup, cosine)

        def get_config(self):
            return {}

    return Cosine()


def worker_profile(spec):
    """cProfile the first steps of a NumPy training epoch: seconds per step in each function."""
    import cProfile
    import pstats

    import from_scratch_numpy.numpy_net as nn

    x, y, _, _, _ = _load_data(spec)
    n = min(len(x), spec.get("profile_steps", 150) * spec["batch_size"])
    x, y = x[:n], y[:n]  # the first steps of an epoch: enough for stable shares, and quick
    net = _numpy_network(nn, spec)
    opt = _make_numpy_optimizer(nn, spec["optimizer"], spec["lr"])
    sched = _numpy_schedule(nn, spec)
    names = {}  # (file, first line) -> "Class.method", to label cProfile's rows
    for obj in vars(nn).values():
        for member in vars(obj).values() if isinstance(obj, type) else [obj]:
            code = getattr(member, "__code__", None)
            if code is not None:
                names[(code.co_filename, code.co_firstlineno)] = code.co_qualname
    # one warm-up epoch on a slice, so first-touch allocations are not profiled
    net.fit(
        x[:2048], y[:2048], optimizer=opt, epochs=1, batch_size=spec["batch_size"], progress=False
    )
    t0 = time.perf_counter()
    net.fit(
        x,
        y,
        optimizer=opt,
        epochs=1,
        batch_size=spec["batch_size"],
        lr_schedule=sched,
        progress=False,
    )
    plain = time.perf_counter() - t0
    prof = cProfile.Profile()
    prof.enable()
    net.fit(
        x,
        y,
        optimizer=opt,
        epochs=1,
        batch_size=spec["batch_size"],
        lr_schedule=sched,
        progress=False,
    )
    prof.disable()
    stats = pstats.Stats(prof).stats
    steps = -(-len(x) // spec["batch_size"])
    rows = []
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.items():
        where = names.get((filename, line)) or (
            f"{Path(filename).name}:{line}({func})" if line else func
        )
        rows.append({"function": where, "calls": ncalls, "tottime": tottime, "cumtime": cumtime})
    rows.sort(key=lambda r: -r["tottime"])
    total = sum(r["tottime"] for r in rows)
    return {
        "steps": steps,
        "epoch_seconds_unprofiled": plain,
        "epoch_seconds_profiled": total,
        "functions": rows[:14],
    }


def worker_matmul(spec):
    """The matrix-multiply limit in this process's environment (used with OPENBLAS_* unset)."""
    out = matmul_limit(
        spec["sizes"],
        spec["batch_size"],
        spec["dtype"],
        spec["trials"],
        spec.get("min_seconds", 0.02),
    )
    out["blas"] = blas_info()
    return out


WORKERS = {
    "numpy": worker_numpy,
    "keras": worker_keras,
    "profile": worker_profile,
    "matmul": worker_matmul,
}


def _cpu_counters():
    """(busy CPU seconds of the whole machine, CPU seconds of finished children of this process).

    From /proc/stat (user + nice + system + irq + softirq + steal); None off Linux. During a
    worker, busy - the worker's own CPU time = the CPU time other processes (or the hypervisor,
    as steal) took: the contention that run saw.
    """
    import resource

    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
        busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        busy = None
    return busy, child.ru_utime + child.ru_stime


def run_worker(kind, spec, env=None, timeout=1800):
    """Run ``kind`` in a fresh Python process and return its JSON result (raise with its stderr)."""
    t0, load_before = time.perf_counter(), os.getloadavg()[0]
    busy0, child0 = _cpu_counters()
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        kind,
        "--spec",
        json.dumps(spec),
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=str(REPO_ROOT)
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            load_after, wall = os.getloadavg()[0], time.perf_counter() - t0
            busy1, child1 = _cpu_counters()
            others = (
                max(0.0, (busy1 - busy0) - (child1 - child0)) / wall if busy0 is not None else None
            )
            _log(
                f"  {kind} worker done in {wall:.1f} s (load {load_before:.2f} -> "
                f"{load_after:.2f}; other processes used {_fmt(others, '.2f')} cores)"
            )
            result = json.loads(line[len(RESULT_TAG) :])
            result["load_1min"] = [load_before, load_after]
            result["other_processes_cores"] = others
            return result
    raise RuntimeError(
        f"benchmark worker {kind!r} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}"
    )


# ------------------------------------------------------------------------------------------------
# Summaries and the table
# ------------------------------------------------------------------------------------------------


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _median_to_target(runs):
    """Median seconds to the target; a run that never reached it counts as infinitely slow."""
    values = [
        r["seconds_to_target"] if r["seconds_to_target"] is not None else math.inf for r in runs
    ]
    return statistics.median(values) if values else None


def summarize_runs(runs, flops_sample):
    """Throughput (median over runs of the median steady epoch), first epoch, seconds to target."""
    first, steady, per_run_rate = [], [], []
    for r in runs:
        eps = r["epochs"]
        first.append(eps[0]["seconds"])
        later = [e["seconds"] for e in eps[1:]]
        if later:
            steady.append(statistics.median(later))
        rate_epochs = later or [eps[0]["seconds"]]
        per_run_rate.append(r["n_train"] / statistics.median(rate_epochs))
    rate = _median(per_run_rate)
    return {
        "samples_per_s": rate,
        "gflops": rate * flops_sample / 1e9 if rate else None,
        "first_epoch_s": _median(first),
        "steady_epoch_s": _median(steady),
        "rate_from": "steady epochs" if steady else "first epoch (only one epoch run)",
        "seconds_to_target": _median_to_target(runs),
        "epochs_to_target": _median(
            [len(r["epochs"]) if r["seconds_to_target"] is not None else None for r in runs]
        ),
        "reached": sum(r["seconds_to_target"] is not None for r in runs),
        "final_test_accuracy": _median([r["epochs"][-1]["test_accuracy"] for r in runs]),
        "cpu_per_wall": _median(
            [r["cpu_seconds"] / r["train_seconds"] for r in runs if r["train_seconds"]]
        ),
        "runs": len(runs),
        "load_1min": [
            min(v for r in runs for v in r.get("load_1min", [math.nan])),
            max(v for r in runs for v in r.get("load_1min", [math.nan])),
        ],
        "samples_per_s_per_run": per_run_rate,
        "other_processes_cores": max(
            (
                r["other_processes_cores"]
                for r in runs
                if r.get("other_processes_cores") is not None
            ),
            default=None,
        ),
    }


def _fmt(value, spec=".1f", none="n/a"):
    if value is None:
        return none
    if isinstance(value, float) and math.isinf(value):
        return "not reached"
    return format(value, spec)


def _mb(nbytes):
    return None if nbytes is None else nbytes / 1e6


def _markdown(rows):
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def build_tables(res):
    """The tables (title -> list of row dicts, formatted strings) from the raw measurements."""
    cfg = res["config"]
    pct = cfg["target_accuracy"] * 100
    limit = res["matmul"]["float32"]
    base_limit = res["matmul"]["baseline"]
    throughput = []

    def row(name, s, lim, dtype, batch, note):
        frac = s["gflops"] / lim["gflops"] if s["gflops"] and lim else None
        throughput.append(
            {
                "run": name,
                "dtype, batch": f"{dtype}, {batch}",
                "samples/s": _fmt(s["samples_per_s"], ",.0f"),
                "GFLOP/s": _fmt(s["gflops"], ".1f"),
                "% of matmul limit": _fmt(frac * 100 if frac is not None else None, ".1f"),
                "first epoch s": _fmt(s["first_epoch_s"], ".2f"),
                "steady epoch s": _fmt(s["steady_epoch_s"], ".2f"),
                f"train s to {pct:g}% (median)": _fmt(s.get("seconds_to_target"), ".1f", "-"),
                f"epochs to {pct:g}%": _fmt(s.get("epochs_to_target"), ".0f", "-"),
                "final test acc %": _fmt(
                    s["final_test_accuracy"] * 100
                    if s["final_test_accuracy"] is not None
                    else None,
                    ".2f",
                ),
                "CPU s / wall s": _fmt(s["cpu_per_wall"], ".2f"),
                "cores busy elsewhere": _fmt(s["other_processes_cores"], ".2f"),
                "note": note,
            }
        )

    net = cfg["network"]
    reps = cfg["repeats"]
    batch = net["batch_size"]
    row(
        "NumPy (from scratch)",
        res["summary"]["numpy"],
        limit,
        net["dtype"],
        batch,
        f"median of {reps} runs (seeds {cfg['seeds']})",
    )
    if "keras" in res["summary"]:
        row(
            "Keras, same network and settings",
            res["summary"]["keras"],
            limit,
            net["dtype"],
            batch,
            f"median of {reps} runs; jit_compile=False; first epoch includes tracing",
        )
    if "keras_xla" in res["summary"]:
        row(
            "Keras with XLA (jit_compile=True)",
            res["summary"]["keras_xla"],
            limit,
            net["dtype"],
            batch,
            "separate row: 1 run, throughput only",
        )
    if "numpy_1thread" in res["summary"]:
        row(
            "NumPy, 1 BLAS thread",
            res["summary"]["numpy_1thread"],
            res["matmul"]["float32_1thread"],
            net["dtype"],
            batch,
            "separate row: 1 run, throughput only; % of the 1-thread matmul limit",
        )
    b = cfg["baseline"]
    row(
        f"NumPy, original notebook: {'-'.join(map(str, b['sizes']))}, {b['optimizer'].upper()} "
        f"lr {b['lr']:g}",
        res["summary"]["baseline"],
        base_limit,
        b["dtype"],
        b["batch_size"],
        f"baseline: 1 epoch, {'no ' if not b['shuffle'] else ''}shuffling; "
        f"% of the {b['dtype']} matmul limit",
    )

    matmul_rows = []
    for key, lim in (
        ("float32", limit),
        ("baseline", base_limit),
        ("float32_1thread", res["matmul"].get("float32_1thread")),
        ("float32_openblas_unset", res["matmul"].get("float32_openblas_unset")),
    ):
        if not lim:
            continue
        label = {
            "float32": "network",
            "baseline": "baseline",
            "float32_1thread": "network, 1 BLAS thread",
            "float32_openblas_unset": "network, OPENBLAS_CORETYPE/L2_SIZE unset",
        }[key]
        if lim.get("blas"):  # measured in a subprocess: say which kernel OpenBLAS chose there
            label += f" [{_blas_summary(lim['blas'])}]"
        for p in lim["products"]:
            matmul_rows.append(
                {
                    "config": f"{label} ({lim['dtype']}, batch {lim['batch_size']})",
                    "product": p["product"],
                    "GFLOP/s": f"{p['gflops']:.1f}",
                }
            )
        matmul_rows.append(
            {
                "config": f"{label} ({lim['dtype']}, batch {lim['batch_size']})",
                "product": "**one training step's products together** (the limit)",
                "GFLOP/s": f"**{lim['gflops']:.1f}**",
            }
        )
        matmul_rows.append(
            {
                "config": f"{label} ({lim['dtype']})",
                "product": "reference: 1024x1024 @ 1024x1024",
                "GFLOP/s": f"{lim['square_1024_gflops']:.1f}",
            }
        )

    mem = res["memory"]
    memory_rows = [
        {
            "quantity": "peak resident set of a NumPy training run (VmHWM, whole process)",
            "MB": _fmt(_mb(mem["peak_rss_bytes"]), ",.0f"),
            "x float32 training set": _fmt(mem["peak_ratio"], ".2f"),
        },
        {
            "quantity": "  of which above the process before loading data",
            "MB": _fmt(_mb(mem["peak_minus_start_bytes"]), ",.0f"),
            "x float32 training set": _fmt(mem["delta_ratio"], ".2f"),
        },
        {
            "quantity": f"float32 training set ({mem['n_train']:,} x 784 x 4 bytes)",
            "MB": _fmt(_mb(mem["train_set_bytes"]), ",.0f"),
            "x float32 training set": "1.00",
        },
    ]
    if res["summary"].get("keras"):
        memory_rows.append(
            {
                "quantity": "for comparison: peak resident set of a Keras run (incl. TensorFlow)",
                "MB": _fmt(_mb(mem.get("keras_peak_rss_bytes")), ",.0f"),
                "x float32 training set": _fmt(mem.get("keras_peak_ratio"), ".2f"),
            }
        )

    target_rows = [
        {
            "target": t["target"],
            "measured": t["measured"],
            "threshold": t["threshold"],
            "result": t["result"],
        }
        for t in res["targets"]
    ]

    m = res["machine"]
    machine_rows = [
        {"item": "date (UTC)", "value": res["date"]},
        {
            "item": "CPU",
            "value": f"{m['cpu_model']}, {m['cpu_count']} logical CPUs, {m['platform']}",
        },
        {
            "item": "load average (1 min) at start / end",
            "value": f"{res['load_start'][0]:.2f} / {res['load_end'][0]:.2f}",
        },
        {"item": "NumPy BLAS (threadpoolctl)", "value": _blas_summary(res["blas"])},
        {
            "item": "OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE",
            "value": " / ".join(str(res["blas"]["env"].get(k)) for k in OPENBLAS_VARS[:2]),
        },
        {
            "item": "thread env (OPENBLAS/OMP/MKL_NUM_THREADS)",
            "value": " / ".join(str(res["blas"]["env"].get(k)) for k in THREAD_VARS),
        },
        {
            "item": "versions",
            "value": ", ".join(f"{k} {v}" for k, v in res["versions"].items()),
        },
        {"item": "data", "value": res["data_summary"]},
        {
            "item": "network and training settings (both frameworks)",
            "value": f"{cfg['network_description']}; batch {batch}; {net['dtype']}; "
            f"He-normal init; trained on {cfg['training_set']}; settings from: {cfg['network_source']}",
        },
        {
            "item": "FLOPs counted per training sample",
            "value": (
                f"{res['flops']['train']:,} = forward {res['flops']['forward']:,} + backward "
                f"{res['flops']['backward']:,} (matrix products only; weight gradients of every "
                f"layer, input gradients of every layer but the first; the conventional 3 x forward "
                f"would be {res['flops']['conventional_3x_forward']:,})"
            ),
        },
        {"item": "wall time of this benchmark", "value": f"{res['wall_seconds']:.0f} s"},
    ]
    if res.get("keras_threads"):
        machine_rows.insert(
            5,
            {
                "item": "TensorFlow threads (intra-op / inter-op, 0 = all cores); oneDNN",
                "value": f"{res['keras_threads']['intra_op']} / {res['keras_threads']['inter_op']}; {res['keras_onednn']}",
            },
        )
    tables = {
        TABLE_THROUGHPUT: throughput,
        TABLE_TARGETS: target_rows,
        TABLE_MATMUL: matmul_rows,
        TABLE_MEMORY: memory_rows,
    }
    if res.get("profile"):
        prof = res["profile"]
        steps = prof["steps"]
        prof_rows = [
            {
                "function (self time)": r["function"],
                "calls per step": f"{r['calls'] / steps:.1f}",
                "ms per step": f"{r['tottime'] / steps * 1e3:.3f}",
                "% of profiled time": f"{r['tottime'] / prof['epoch_seconds_profiled'] * 100:.1f}",
            }
            for r in prof["functions"]
        ]
        step_ms = prof["epoch_seconds_unprofiled"] / steps * 1e3
        prof_rows.append(
            {
                "function (self time)": "for comparison: a whole step without the profiler",
                "calls per step": "1",
                "ms per step": f"{step_ms:.3f}",
                "% of profiled time": "",
            }
        )
        prof_rows.append(
            {
                "function (self time)": "for comparison: the step's matrix products at the limit's rate",
                "calls per step": f"{len(limit['products'])}",
                "ms per step": f"{limit['step_matmul_seconds'] * 1e3:.3f}",
                "% of profiled time": f"{limit['step_matmul_seconds'] * 1e3 / step_ms * 100:.1f}% of the unprofiled step",
            }
        )
        tables[TABLE_PROFILE] = prof_rows
    tables[TABLE_MACHINE] = machine_rows
    return tables


def render_markdown(res, tables):
    parts = [
        "# Benchmark: the NumPy network vs Keras vs the machine's matrix-multiply limit\n",
        f"Generated by `benchmarks/bench_numpy_vs_keras.py{' --smoke' if res['config']['smoke'] else ''}`"
        f" on {res['date']}; do not edit by hand. See `benchmarks/README.md` for how to read it.\n",
    ]
    if res["config"]["smoke"]:
        parts.append("**SMOKE RUN: tiny subset, numbers are not meaningful.**\n")
    if res["data_is_sample"]:
        parts.append("**WARNING: offline 5,000-digit sample, not full MNIST.**\n")
    parts.append(
        "Training seconds exclude the test-set evaluation after each epoch (it is done between "
        "epochs, off the clock); Keras's first epoch includes `fit()`'s set-up and tracing.\n"
    )
    for title, rows in tables.items():
        parts.append(f"## {title}\n")
        parts.append(_markdown(rows) + "\n")
    return "\n".join(parts)


def evaluate_targets(res):
    limit = res["matmul"]["float32"]["gflops"]
    np_s = res["summary"]["numpy"]
    frac = np_s["gflops"] / limit if np_s["gflops"] else None
    targets = [
        {
            "target": "NumPy loop sustains >= 50% of the float32 matmul limit",
            "value": frac,
            "measured": f"{np_s['gflops']:.1f} of {limit:.1f} GFLOP/s = {frac * 100:.1f}%",
            "threshold": ">= 50%",
            "result": "PASS" if frac is not None and frac >= 0.5 else "FAIL",
        }
    ]
    ke = res["summary"].get("keras")
    if ke is not None:
        a, b = np_s["seconds_to_target"], ke["seconds_to_target"]
        ratio = a / b if a is not None and b and not math.isinf(a) and not math.isinf(b) else None
        pct = res["config"]["target_accuracy"] * 100
        targets.append(
            {
                "target": f"NumPy seconds to {pct:g}% <= 0.4 x Keras's (median of {res['config']['repeats']})",
                "value": ratio,
                "measured": f"{_fmt(a, '.1f')} s vs {_fmt(b, '.1f')} s = {_fmt(ratio, '.2f')} x",
                "threshold": "<= 0.40 x",
                "result": "PASS" if ratio is not None and ratio <= 0.4 else "FAIL",
            }
        )
    mem = res["memory"]
    targets.append(
        {
            "target": "Peak RSS of a NumPy training run < 3 x float32 training set",
            "value": mem["peak_ratio"],
            "measured": f"{_mb(mem['peak_rss_bytes']):,.0f} MB = {mem['peak_ratio']:.2f} x {_mb(mem['train_set_bytes']):,.0f} MB",
            "threshold": "< 3.00 x",
            "result": "PASS" if mem["peak_ratio"] < 3 else "FAIL",
        }
    )
    return targets


# ------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="tiny subset, 2 epochs, 1 repetition")
    p.add_argument(
        "--repeats", type=int, default=None, help="repetitions (seeds 0..N-1); default 3, smoke 1"
    )
    p.add_argument(
        "--epochs-max",
        type=int,
        default=None,
        help="epoch cap per run (and the cosine schedule's length); "
        "default: the configuration's epochs, smoke 2",
    )
    p.add_argument("--target-accuracy", type=float, default=0.98)
    p.add_argument(
        "--config",
        choices=("notebook", "simple"),
        default="notebook",
        help="notebook: the NumPy notebook's improved settings (numpy_net.IMPROVED); "
        "simple: 784-512-10, Adam 1e-3, batch 128, no dropout. The options below override either.",
    )
    p.add_argument("--sizes", default=None, help="layer sizes, e.g. 784,512,10")
    p.add_argument("--optimizer", choices=("adam", "sgd", "momentum"), default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--schedule", choices=("constant", "cosine"), default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--dropout", type=float, default=None)
    p.add_argument("--label-smoothing", type=float, default=None)
    p.add_argument(
        "--data-dir", default=None, help="MNIST folder (default: MNIST_DATA_DIR / cache)"
    )
    p.add_argument("--no-keras", action="store_true", help="skip the Keras rows")
    p.add_argument(
        "--xla",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add a Keras jit_compile=True row, throughput only (default: on, off in smoke)",
    )
    p.add_argument(
        "--one-thread-row",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add a NumPy row with 1 BLAS thread, throughput only (default: on, off in smoke)",
    )
    p.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="cProfile one NumPy epoch (default on)",
    )
    p.add_argument(
        "--matmul-trials", type=int, default=None, help="best-of-N trials (default 7, smoke 3)"
    )
    p.add_argument("--name", default="benchmark", help="results file stem (default benchmark)")
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return args
    smoke = args.smoke
    if args.config == "notebook":
        raw, args.config_source = improved_config()
    else:
        raw, args.config_source = dict(SIMPLE), "benchmark's simple preset"
    try:
        cfg = normalize_config(raw)
    except (KeyError, TypeError, ValueError) as err:
        cfg, args.config_source = (
            normalize_config(NOTEBOOK_AFTER_FALLBACK),
            f"built-in copy (notebook settings unusable: {err})",
        )
    if args.sizes is not None:
        try:
            cfg["sizes"] = [int(v) for v in args.sizes.split(",")]
        except ValueError:
            p.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    for key in ("optimizer", "lr", "schedule", "batch_size", "dropout", "label_smoothing"):
        if getattr(args, key) is not None:
            cfg[key] = getattr(args, key)
    overridden = [
        k
        for k in (
            "sizes",
            "optimizer",
            "lr",
            "schedule",
            "batch_size",
            "dropout",
            "label_smoothing",
        )
        if getattr(args, k) is not None
    ]
    if overridden:
        args.config_source += f", overridden: {', '.join(overridden)}"
    sizes = cfg["sizes"]
    if len(sizes) < 2 or sizes[0] != 784 or sizes[-1] != 10 or min(sizes) < 1:
        p.error("--sizes must start with 784 and end with 10, e.g. 784,512,10")
    args.repeats = args.repeats if args.repeats is not None else (1 if smoke else 3)
    args.epochs_max = (
        args.epochs_max if args.epochs_max is not None else (2 if smoke else cfg["epochs"])
    )
    if args.repeats < 1 or args.epochs_max < 1 or cfg["batch_size"] < 1 or not cfg["lr"] > 0:
        p.error("--repeats, --epochs-max, --batch-size and --lr must be positive")
    if not 0 <= cfg["dropout"] < 1 or not 0 <= cfg["label_smoothing"] < 1:
        p.error("--dropout and --label-smoothing must be in [0, 1)")
    cfg["epochs"] = args.epochs_max  # the cosine schedule runs over the epochs actually allowed
    cfg["warmup_epochs"] = min(cfg["warmup_epochs"], args.epochs_max / 2)  # as train_improved
    args.cfg = cfg
    args.xla = (not smoke) if args.xla is None else args.xla
    args.one_thread_row = (not smoke) if args.one_thread_row is None else args.one_thread_row
    args.matmul_trials = args.matmul_trials or (3 if smoke else 7)
    args.matmul_min_seconds = 0.005 if smoke else 0.02  # each trial loops at least this long
    return args


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def main(argv=None):
    """Run the whole benchmark; print the table; write results/<name>.md and .json. Returns the record."""
    args = parse_args(argv)
    if args.worker:
        spec = json.loads(args.spec)
        if spec.get("blas_threads"):  # a row measured with fewer BLAS threads than the default
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=spec["blas_threads"], user_api="blas"):
                result = WORKERS[args.worker](spec)
        else:
            result = WORKERS[args.worker](spec)
        print(RESULT_TAG + json.dumps(result), flush=True)
        return result

    from common.repro import library_versions
    from common.results import results_dir, save_results

    wall0 = time.perf_counter()
    load_start = os.getloadavg()
    smoke = args.smoke
    seeds = list(range(args.repeats))
    subset = {"n_train": 1000, "n_test": 500} if smoke else {}
    common_spec = {"data_dir": args.data_dir, "target": args.target_accuracy, **subset}
    cfg = args.cfg
    base = baseline_config()
    improved = {**cfg, "init": "he", "epochs_max": args.epochs_max, **common_spec}
    _log(f"benchmark: load average {load_start[0]:.2f}; {'smoke' if smoke else 'full'} run")

    # 1. The machine's limit (in this process: NumPy only, no TensorFlow here).
    # Measured at the start and again at the end; each product keeps its best time, so a burst
    # of load from elsewhere during one of the two measurements does not lower the limit.
    def measure_limits():
        out = {
            "float32": matmul_limit(
                cfg["sizes"],
                cfg["batch_size"],
                cfg["dtype"],
                args.matmul_trials,
                args.matmul_min_seconds,
            ),
            "baseline": matmul_limit(
                base["sizes"],
                base["batch_size"],
                base["dtype"],
                args.matmul_trials,
                args.matmul_min_seconds,
            ),
        }
        if args.one_thread_row:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=1, user_api="blas"):
                out["float32_1thread"] = matmul_limit(
                    cfg["sizes"],
                    cfg["batch_size"],
                    cfg["dtype"],
                    args.matmul_trials,
                    args.matmul_min_seconds,
                )
        return out

    _log("matmul limit ...")
    matmul_start = measure_limits()
    matmul = dict(matmul_start)
    blas = blas_info()
    if any(os.environ.get(k) for k in OPENBLAS_VARS[:2]):
        env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS[:2]}
        matmul["float32_openblas_unset"] = run_worker(
            "matmul",
            {
                "sizes": cfg["sizes"],
                "batch_size": cfg["batch_size"],
                "dtype": cfg["dtype"],
                "trials": args.matmul_trials,
                "min_seconds": args.matmul_min_seconds,
            },
            env=env,
        )

    # 2-3. NumPy and Keras, alternating seeds so that drifting load hits both alike.
    runs = {"numpy": [], "keras": [], "keras_xla": [], "baseline": []}
    keras_info = {}
    for seed in seeds:
        _log(f"seed {seed}: NumPy ...")
        runs["numpy"].append(run_worker("numpy", {**improved, "seed": seed}))
        if not args.no_keras:
            _log(f"seed {seed}: Keras ...")
            runs["keras"].append(run_worker("keras", {**improved, "seed": seed}))
    if args.xla and not args.no_keras:
        _log("Keras XLA ...")
        runs["keras_xla"].append(
            run_worker(
                "keras",
                {
                    **improved,
                    "seed": 0,
                    "xla": True,
                    "epochs_max": min(2, args.epochs_max),
                    "stop_at_target": False,
                },
            )
        )
    if args.one_thread_row:
        _log("NumPy with 1 BLAS thread ...")
        runs["numpy_1thread"] = [
            run_worker(
                "numpy",
                {
                    **improved,
                    "seed": 0,
                    "blas_threads": 1,
                    "epochs_max": min(2, args.epochs_max),
                    "stop_at_target": False,
                },
            )
        ]
    # 4. The original notebook's configuration: one epoch for its throughput.
    _log("baseline (original notebook) ...")
    runs["baseline"].append(
        run_worker(
            "numpy",
            {**base, **common_spec, "epochs_max": 1, "seed": 0, "stop_at_target": False},
        )
    )
    profile = None
    if args.profile:
        _log("profile of one NumPy epoch ...")
        profile = run_worker("profile", {**improved, "seed": 0})
    if runs["keras"]:
        keras_info = runs["keras"][0]
    _log("matmul limit again ...")
    matmul_end = measure_limits()
    for key in matmul_start:
        matmul[key] = best_limit(matmul_start[key], matmul_end[key])

    flops = flops_per_sample(cfg["sizes"])
    summary = {
        "numpy": summarize_runs(runs["numpy"], flops["train"]),
        "baseline": summarize_runs(runs["baseline"], flops_per_sample(base["sizes"])["train"]),
    }
    if runs["keras"]:
        summary["keras"] = summarize_runs(runs["keras"], flops["train"])
    if runs["keras_xla"]:
        summary["keras_xla"] = summarize_runs(runs["keras_xla"], flops["train"])
        summary["keras_xla"]["seconds_to_target"] = None  # throughput-only row
        summary["keras_xla"]["epochs_to_target"] = None
    if runs.get("numpy_1thread"):
        summary["numpy_1thread"] = summarize_runs(runs["numpy_1thread"], flops["train"])
        summary["numpy_1thread"]["seconds_to_target"] = None  # throughput-only row
        summary["numpy_1thread"]["epochs_to_target"] = None

    # 5. Memory: the NumPy runs' own peaks (each was a fresh process).
    n_train = runs["numpy"][0]["n_train"]
    train_bytes = n_train * 784 * 4
    peak = max(r["peak_rss_bytes"] for r in runs["numpy"])
    start = min(r["rss_start_bytes"] or 0 for r in runs["numpy"])
    memory = {
        "n_train": n_train,
        "train_set_bytes": train_bytes,
        "peak_rss_bytes": peak,
        "peak_ratio": peak / train_bytes,
        "rss_start_bytes": start,
        "peak_minus_start_bytes": peak - start,
        "delta_ratio": (peak - start) / train_bytes,
    }
    if runs["keras"]:
        kpeak = max(r["peak_rss_bytes"] for r in runs["keras"])
        memory.update(keras_peak_rss_bytes=kpeak, keras_peak_ratio=kpeak / train_bytes)

    source = runs["numpy"][0]["data_source"]
    res = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "config": {
            "smoke": smoke,
            "mode": "smoke" if smoke else "full",
            "repeats": args.repeats,
            "seeds": seeds,
            "epochs_max": args.epochs_max,
            "target_accuracy": args.target_accuracy,
            "network": cfg,
            "network_source": args.config_source,
            "network_description": describe_config(cfg),
            "training_set": "the full training set (no validation split, no early stopping)",
            "init": "He normal (std sqrt(2/n_in)); Keras: VarianceScaling(2, fan_in, untruncated_normal)",
            "adam_epsilon": 1e-8,
            "baseline": base,
            "xla_row": bool(args.xla and not args.no_keras),
            "one_thread_row": bool(args.one_thread_row),
            **subset,
        },
        "machine": {
            "cpu_model": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
        },
        "versions": library_versions() | {"threadpoolctl": _version("threadpoolctl")},
        "blas": blas,
        "keras_threads": keras_info.get("tf_threads"),
        "keras_onednn": keras_info.get("onednn"),
        "flops": flops,
        "matmul": matmul,
        "summary": summary,
        "memory": memory,
        "profile": profile,
        "data_summary": (
            f"{source.get('kind')} {source.get('location')} (verified: {source.get('verified')}); "
            f"{n_train:,} train / {runs['numpy'][0]['n_test']:,} test used"
        ),
        "data_is_sample": bool(source.get("is_sample")),
        "load_start": load_start,
    }
    res["targets"] = evaluate_targets(res)
    res["load_end"] = os.getloadavg()
    res["wall_seconds"] = time.perf_counter() - wall0
    tables = build_tables(res)
    text = render_markdown(res, tables)
    print(text)

    res["runs"] = runs
    json_path = save_results(
        args.name,
        {"tables": tables, **{k: v for k, v in res.items() if k not in ("date",)}},
        data_source=source,
        seeds=seeds,
        timings={"benchmark wall time": res["wall_seconds"]},
        config=res["config"],
    )
    md_path = results_dir() / f"{args.name}.md"
    md_path.write_text(text + "\n", encoding="utf-8")
    _log(f"wrote {md_path} and {json_path} in {res['wall_seconds']:.0f} s")
    return res


def _version(name):
    import importlib.metadata

    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    main()
