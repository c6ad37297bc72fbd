"""How fast does the NumPy network train, next to Keras and next to what the machine can do?

As nanoGPT's ``estimate_mfu``: the FLOPs of one training sample, the float32 matmul throughput of
NumPy's BLAS on exactly one step's products (the "limit"), then samples/s of each row and its share
of the limit. Rows, each in its own process (its own peak memory): NumPy plain (``numpy_net.py``),
NumPy fast (``fast.py``), Keras (the same layers, Adam and cosine schedule), the original
notebook's network and the notebook's CNN (``numpy_net.cnn``, trained by ``train.fit``; its FLOPs
and limit are those of its im2col products). Every row runs three times, in the order
A B C D E E D C B A A B C D E, and keeps its fastest run: a slow spell of a shared machine then
hits every row alike. Test accuracy after each epoch, off the clock. Writes ``results/benchmark.{md,json}`` and ``results/figures/benchmark.png``;
``--smoke``: 1,024 images, numbers meaningless, into ``results/smoke``.
"""

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

# fast.py draws dropout's numbers for the next step on the second core while Adam runs on the first:
# OpenBLAS's helper thread must sleep between products, not spin. It reads this when NumPy loads it.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")  # every row, as in the notebook

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a clone, no install needed
sys.path.insert(0, str(Path(__file__).resolve().parent))  # fast.py, beside this script
import fast  # noqa: E402

from from_scratch_numpy import numpy_net, train  # noqa: E402

ROWS = ("NumPy plain", "NumPy fast", "Keras", "original (NumPy plain)", "NumPy CNN")
TARGET = 0.98  # test accuracy for "seconds to 98%"
OPENBLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                "OPENBLAS_THREAD_TIMEOUT")


def recipe_of(row):
    """The recipe a row trains: the improved network, or the first notebook's for the baseline."""
    return train.ORIGINAL if row.startswith("original") else train.IMPROVED


def network_of(row):
    """What a row trains, as ``flops_of`` and ``limit_of`` take it: "cnn" or an MLP recipe."""
    return "cnn" if row == "NumPy CNN" else recipe_of(row)


def flops_of(network):
    """Matrix-product FLOPs of one training sample of ``network_of(row)``."""
    return cnn_flops_per_sample() if network == "cnn" else flops_per_sample(network.sizes)


def limit_of(network, seconds):
    """The matmul limit (GFLOP/s) on one training step's products of ``network_of(row)``."""
    if network == "cnn":
        return cnn_matmul_limit(CNN_BATCH, seconds)
    return matmul_limit(network.sizes, network.batch_size, network.dtype, seconds)


def describe(network):
    """One line naming the network, its dtype and batch size."""
    if network == "cnn":
        s = CNN_SETTINGS
        return (f"CNN: 3x3 conv {'-'.join(map(str, s['filters']))}, padding {s['padding']}, "
                f"2x2 pools, dense {s['hidden']}-10, float32, batch {CNN_BATCH}")  # fmt: skip
    return f"{'-'.join(map(str, network.sizes))}, {network.dtype}, batch {network.batch_size}"


def flops_per_sample(sizes):
    """Matrix-product FLOPs (2 per multiply-add) of one sample: a @ W and a.T @ delta for every
    layer, delta @ W.T for all but the first (nobody needs the images' gradient). Element-wise
    work (bias, activations, dropout, softmax, the optimizer) is O(n), not counted."""
    per_layer = [2 * n_in * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False)]
    return sum(per_layer) * 3 - per_layer[0]


def step_products(sizes, batch, dtype, rng):
    """Operands (A, B) of every matrix product of one training step, in the step's layouts."""
    products = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        a, W, delta = (
            rng.random(s).astype(dtype) for s in [(batch, n_in), (n_in, n_out), (batch, n_out)]
        )
        products += [(a, W), (a.T, delta)] + ([(delta, W.T)] if i else [])
    return products


def matmul_limit(sizes, batch, dtype, seconds=2.0):
    """GFLOP/s of NumPy's BLAS running one step's products back to back (the best of many tries)."""
    products = step_products(sizes, batch, dtype, np.random.default_rng(0))
    assert product_flops(products) == batch * flops_per_sample(sizes)
    return products_gflops(products, seconds)


def product_flops(products):
    """FLOPs of the matrix products (A, B): 2 per multiply-add."""
    return sum(2 * A.shape[0] * A.shape[1] * B.shape[1] for A, B in products)


def products_gflops(products, seconds=2.0, clock=time.perf_counter):
    """GFLOP/s of ``np.matmul`` on the (A, B) pairs run back to back (the best of many tries);
    ``clock=time.process_time``: this process's CPU time (with one BLAS thread, the time it ran)."""
    dtype = products[0][0].dtype
    outs = [np.empty((A.shape[0], B.shape[1]), dtype) for A, B in products]
    flops = product_flops(products)
    best, end, tries = float("inf"), time.perf_counter() + seconds, 0
    while time.perf_counter() < end or tries < 5:
        start = clock()
        for (A, B), out in zip(products, outs, strict=True):
            np.matmul(A, B, out=out)
        best, tries = min(best, clock() - start), tries + 1
    return flops / best / 1e9


# The NumPy notebook's CNN ("A convolutional network by hand"): cnn()'s defaults, Adam with a
# cosine schedule from CNN_LR, batches of 128, as the notebook trains it.
CNN_SETTINGS = dict(filters=(16, 32), padding=0, hidden=128, dropout=0.25)
CNN_LR, CNN_BATCH = 3e-3, 128  # the notebook's CNN_LR


def cnn_product_shapes(settings=None):
    """(M, K, F) of each layer's product per sample, in order: a Conv2D multiplies its
    (H' * W', k * k * C_in) patches by W (k * k * C_in, C_out), a Dense layer (1, n_in) by W."""
    net = numpy_net.cnn(**(settings or CNN_SETTINGS))
    net.forward(np.zeros((1, 784), np.float32))
    shapes = []
    for layer in net.layers:
        if isinstance(layer, numpy_net.Conv2D):
            shapes.append((int(np.prod(layer.out_shape)), *layer.W.shape))  # out_shape: (1, H', W')
        elif hasattr(layer, "W"):
            shapes.append((1, *layer.W.shape))
    return shapes


def cnn_flops_per_sample(settings=None):
    """Matrix-product FLOPs of one sample's training step: for each layer the forward product,
    the weights' gradient and (all but the first layer) delta for the layer before, 2 M K F each.
    im2col, col2im, pooling and the element-wise work are not counted."""
    per_layer = [2 * M * K * F for M, K, F in cnn_product_shapes(settings)]
    return sum(per_layer) * 3 - per_layer[0]


def cnn_matmul_limit(batch, seconds=2.0, settings=None, clock=time.perf_counter):
    """GFLOP/s of NumPy's BLAS on one CNN step's products, in the lesson's layouts."""
    rng, products = np.random.default_rng(0), []
    for i, (M, K, F) in enumerate(cnn_product_shapes(settings)):
        cols, W, delta = (
            rng.random(s, dtype=np.float32) for s in [(batch * M, K), (K, F), (batch * M, F)]
        )
        products += [(cols, W), (cols.T, delta)] + ([(delta, W.T)] if i else [])
    assert product_flops(products) == batch * cnn_flops_per_sample(settings)
    return products_gflops(products, seconds, clock)


def load(n_train, n_test):
    """MNIST as float32 pixels in [0, 1] (N, 784) and labels, plus where it came from."""
    from common.data import load_dataset

    splits = load_dataset("mnist")
    (x, y), (x_test, y_test) = splits
    prep = lambda images: images.reshape(len(images), -1).astype(np.float32) / np.float32(255)  # noqa: E731
    return prep(x[:n_train]), y[:n_train], prep(x_test[:n_test]), y_test[:n_test], splits.source


def train_numpy(row, x, y, x_test, y_test, epochs, seed):
    """Train the lesson's (or the fast) network with ``train.train``; test accuracy per epoch."""
    recipe = recipe_of(row)
    x, x_test, accuracy = x.astype(recipe.dtype), x_test.astype(recipe.dtype), []
    log = lambda epoch, net, logs: accuracy.append(train.evaluate(net, x_test, y_test)[1])  # noqa: E731
    build = fast.build if "fast" in row else numpy_net.build
    kw = {"build": build, "epochs": epochs, "progress": False, "on_epoch_end": log}
    _, history = train.train(recipe, x, y, seed=seed, **kw)  # history["time"]: training only
    return list(history["time"]), accuracy


def train_cnn(x, y, x_test, y_test, epochs, seed):
    """The notebook's CNN, trained by ``train.fit`` as the notebook does; test accuracy per epoch."""
    nn = numpy_net
    net, accuracy = nn.cnn(**CNN_SETTINGS, seed=seed), []
    log = lambda epoch, net, logs: accuracy.append(train.evaluate(net, x_test, y_test)[1])  # noqa: E731
    history = train.fit(net, nn.Adam(CNN_LR), x, y, epochs=epochs, batch_size=CNN_BATCH, seed=seed,
                        lr_schedule=nn.cosine_schedule(CNN_LR, epochs), progress=False,
                        on_epoch_end=log)  # fmt: skip
    return list(history["time"]), accuracy


def train_keras(x, y, x_test, y_test, epochs, seed):
    """The same network in Keras: Dense-ReLU(-Dropout) layers, Adam, the cosine schedule."""
    import keras
    from keras import layers

    r = train.IMPROVED
    keras.utils.set_random_seed(seed)
    hidden = [
        layer for width in r.sizes[1:-1]
        for layer in [layers.Dense(width, activation="relu")] + [layers.Dropout(r.dropout)] * (r.dropout > 0)
    ]  # fmt: skip
    model = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), *hidden, layers.Dense(10)])
    steps = -(-len(x) // r.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(r.lr, epochs * steps, alpha=0.01)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=r.label_smoothing
        ),
        metrics=["accuracy"],
    )
    times, accuracy = [], []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):  # the clock stops before the evaluation
            times.append(time.perf_counter() - self.start)
            logits = self.model.predict(x_test.reshape(-1, 28, 28, 1), batch_size=4096, verbose=0)
            accuracy.append(float(np.mean(logits.argmax(axis=1) == y_test)))

    y_hot, kw = keras.utils.to_categorical(y, 10), {"callbacks": [Clock()], "verbose": 0}
    model.fit(x.reshape(-1, 28, 28, 1), y_hot, batch_size=r.batch_size, epochs=epochs, **kw)
    return times, accuracy


def steady(epoch_times):
    """The epochs after the first, which includes Keras's tracing and NumPy's warm-up."""
    return epoch_times[1:] or epoch_times


def run_row(row, epochs, n_train, n_test, seed):
    """Train one row in this process; return its numbers (called through ``--row``)."""
    x, y, x_test, y_test, source = load(n_train, n_test)
    train_row = {"Keras": train_keras, "NumPy CNN": train_cnn}.get(row, lambda *a: train_numpy(row, *a))
    times, accuracy = train_row(x, y, x_test, y_test, epochs, seed)
    reached = [i + 1 for i, acc in enumerate(accuracy) if acc >= TARGET][:1]
    return {
        "row": row,
        "samples_per_s": len(x) / float(np.median(steady(times))),
        "epoch_s": times,
        "test_accuracy": accuracy,
        "epochs_to_target": reached[0] if reached else None,
        "s_to_target": sum(times[: reached[0]]) if reached else None,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KB
        "data_source": dataclasses.asdict(source),
    }


def in_subprocess(row, args):
    """Run one row in a fresh Python process (its own memory, no other framework loaded)."""
    flags = (
        f"--epochs={args.epochs} --n-train={args.n_train} --n-test={args.n_test} --seed={args.seed}"
    )
    cmd = [sys.executable, __file__, "--row", row, *flags.split()]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def conditions(load_before, args, seconds):
    """What the numbers depend on: the load, NumPy's BLAS and its threads, the run's size."""
    from threadpoolctl import threadpool_info

    blas = [f"{i['internal_api']} {i['version']} ({i.get('architecture')}), {i['num_threads']} threads"
            for i in threadpool_info() if i["user_api"] == "blas"]  # fmt: skip
    env = {k: os.environ[k] for k in OPENBLAS_ENV if k in os.environ}
    return {
        "load average (1 min) at start / end": f"{load_before:.2f} / {os.getloadavg()[0]:.2f}",
        "NumPy's BLAS": "; ".join(blas) + (f"; environment {env}" if env else ""),
        "epochs per row; training / test images": f"{args.epochs}; {args.n_train:,} / {args.n_test:,}",
        "wall time of the benchmark (s)": f"{seconds:.0f}",
    }


def speed_row(r, limits, fastest_epoch):
    """One row of the "Training speed" table (``fastest_epoch``: samples/s of the row's fastest
    steady epoch in any of its runs: the spell-free speed)."""
    network = network_of(r["row"])
    gflops = r["samples_per_s"] * flops_of(network) / 1e9
    s_to = r["s_to_target"]
    return {
        "run": r["row"],
        "samples/s": f"{r['samples_per_s']:,.0f}",
        "fastest epoch, samples/s": f"{fastest_epoch:,.0f}",
        "GFLOP/s": f"{gflops:.1f}",
        "% of matmul limit": f"{100 * gflops / limits[network]:.1f}",
        "s to 98% test acc.": "-" if s_to is None else f"{s_to:.1f}",
        "epochs to 98%": r["epochs_to_target"] or f"not in {len(r['epoch_s'])}",
        "final test acc. %": f"{100 * r['test_accuracy'][-1]:.2f}",
        "peak memory MB": f"{r['peak_rss_mb']:.0f}",
    }


def chart(results, limits, mode):
    """Samples/s of each row (bar) against the samples/s its matmul limit would allow (outline)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from common.plots import save_fig

    names = [r["row"] for r in results][::-1]
    speed = [r["samples_per_s"] for r in results][::-1]
    ceiling = [limits[network_of(n)] * 1e9 / flops_of(network_of(n)) for n in names]
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(names) + 1.2))
    ax.barh(names, ceiling, color="none", edgecolor="grey", linestyle="--", label="matmul limit")
    ax.barh(names, speed, color="tab:blue", label="measured")
    for i, (s, c) in enumerate(zip(speed, ceiling, strict=True)):
        ax.text(s, i, f" {s:,.0f} ({100 * s / c:.0f}%)", va="center", fontsize=8)
    ax.legend(loc="lower right", fontsize=8)
    ax.set(xscale="log", xlabel="training samples per second (log scale)",
           title="Training throughput against the matrix-multiply limit")  # fmt: skip
    return save_fig("benchmark", fig, mode=mode)


def main(argv=None):
    """Measure the limits, train every row, write the tables, the JSON and the chart."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="a tiny run that checks the script works")
    p.add_argument("--epochs", type=int, default=5, help="epochs per row (default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-keras", action="store_true", help="skip the Keras row")
    for hidden in ("--row", "--n-train", "--n-test"):
        p.add_argument(hidden, help=argparse.SUPPRESS, type=str if hidden == "--row" else int)
    args = p.parse_args(argv)
    if args.epochs < 1:
        p.error("--epochs must be >= 1")
    if args.row:
        print(json.dumps(run_row(args.row, args.epochs, args.n_train, args.n_test, args.seed)))
        return None
    args.epochs, args.n_train, args.n_test = (
        (2, 1024, 256) if args.smoke else (args.epochs, 60_000, 10_000)
    )
    from common.repro import Timer
    from common.results import atomic_write, markdown_table, save_results

    mode, load_before = "smoke" if args.smoke else "full", os.getloadavg()[0]
    with Timer() as wall:
        rows = [row for row in ROWS if not (args.no_keras and row == "Keras")]
        networks = dict.fromkeys(network_of(row) for row in rows)  # in order, once each
        limits = {n: limit_of(n, 0.2 if args.smoke else 2.0) for n in networks}
        runs = [in_subprocess(row, args) for row in rows + rows[::-1] + rows]  # ABC.. ..CBA ABC..
        results = [max((r for r in runs if r["row"] == row), key=lambda r: r["samples_per_s"])
                   for row in rows]  # fmt: skip
    fastest = {row: args.n_train / min(t for r in runs if r["row"] == row for t in steady(r["epoch_s"]))
               for row in rows}  # fmt: skip
    limit_rows = [{"network": describe(n), "FLOP per sample": f"{flops_of(n):,}",
                   "matmul limit GFLOP/s": f"{gflops:.1f}"} for n, gflops in limits.items()]  # fmt: skip
    out = {
        "Training speed": [speed_row(r, limits, fastest[r["row"]]) for r in results],
        "Matrix-multiply limit": limit_rows,
        "Conditions": [
            {"item": k, "value": v} for k, v in conditions(load_before, args, wall.seconds).items()
        ],
    }
    recipes = {"improved": dataclasses.asdict(train.IMPROVED)}
    recipes["original"] = dataclasses.asdict(train.ORIGINAL)
    metrics = {"tables": out, "runs": results, "every_run": runs, "limits_gflops": [*limits.values()]}  # fmt: skip
    recipes["cnn"] = {**CNN_SETTINGS, "lr": CNN_LR, "batch_size": CNN_BATCH, "schedule": "cosine"}
    json_path = save_results("benchmark", metrics, mode=mode, data_source=results[0]["data_source"],
                             seeds=[args.seed], config={"recipes": recipes})  # fmt: skip
    text = "# Benchmark\n\nGenerated by `benchmarks/bench.py`; see `benchmarks/README.md`.\n\n"
    text += "\n".join(f"## {title}\n\n{markdown_table(rows)}" for title, rows in out.items())
    md = atomic_write(json_path.with_suffix(".md"), lambda tmp: tmp.write_text(text, "utf-8"))
    print(text, f"\nwrote {md}, {json_path}, {chart(results, limits, mode)}", sep="")
    return out


if __name__ == "__main__":
    main()
