"""Where one training step of the lesson's CNN spends its time: im2col, the matrix products,
col2im, pooling, the rest; next to the time the step's products take at the matmul limit.

    python benchmarks/profile_cnn.py [--steps 60] [--batch 128] [--clock cpu]

Each part is timed on its own, with the shapes and the very calls of the lesson's layers
(median over ``--steps`` random MNIST-shaped batches, after a warm-up), and the whole
``train_step`` is timed as well: the parts should add up to about the whole. ``--clock cpu``
times with this process's CPU time instead of the wall clock: on a machine shared with other jobs
it counts only the time the step actually ran (exact with one BLAS thread,
OPENBLAS_NUM_THREADS=1; with more it adds up the threads' times).
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (first: it sets OPENBLAS_THREAD_TIMEOUT before NumPy loads)
import numpy as np  # noqa: E402

from from_scratch_numpy import numpy_net as nn  # noqa: E402

CLOCK = time.perf_counter  # or time.process_time (--clock cpu)


def median_ms(fn, steps):
    """Median milliseconds of ``fn()`` over ``steps`` calls, the first fifth skipped (warm-up)."""
    times = []
    for _ in range(steps):
        start = CLOCK()
        fn()
        times.append(CLOCK() - start)
    return float(np.median(times[steps // 5 :])) * 1e3


def parts(net, x, y, steps):
    """Milliseconds of each part of one training step, measured on the network's own arrays."""
    net.loss(x, y, training=True)  # every layer now holds its inputs, as in a real step
    net.backward()
    out, a, delta = {}, x, None
    acts = []
    for layer in net.layers:
        acts.append(a)
        a = layer.forward(a, training=True)
    deltas = [None] * len(net.layers)
    delta = net.loss_fn.backward()
    for i in reversed(range(len(net.layers))):
        deltas[i] = delta
        delta = net.layers[i].backward(delta)

    def add(key, ms):
        out[key] = out.get(key, 0.0) + ms

    first = next(layer for layer in net.layers if hasattr(layer, "W"))
    for layer, a_in, d_out in zip(net.layers, acts, deltas, strict=True):
        if isinstance(layer, nn.Conv2D):
            unused = " (first layer: its input gradient, unused)" if layer is first else ""
            k, W = layer.k, layer.W
            p = layer.padding
            pad = ((0, 0), (p, p), (p, p), (0, 0))
            add("padding", median_ms(lambda a_in=a_in, pad=pad: np.pad(a_in, pad), steps))
            padded = np.pad(a_in, pad)
            cols = nn.im2col(padded, k)
            c2, d2 = cols.reshape(-1, cols.shape[3]), d_out.reshape(-1, d_out.shape[3])
            add("im2col", median_ms(lambda padded=padded, k=k: nn.im2col(padded, k), steps))
            add("products", median_ms(lambda c2=c2, W=W: c2 @ W, steps))
            add("products", median_ms(lambda c2=c2, d2=d2: c2.T @ d2, steps))
            add("products" + unused, median_ms(lambda d2=d2, W=W: d2 @ W.T, steps))
            z = c2 @ W
            add("bias, db", median_ms(lambda z=z, b=layer.b: z + b, steps))
            add("bias, db", median_ms(lambda d2=d2: d2.sum(axis=0), steps))
            d_cols = (d2 @ W.T).reshape(*cols.shape)
            col2im_ms = median_ms(lambda d=d_cols, s=padded.shape, k=k: nn.col2im(d, s, k), steps)
            add("col2im" + unused, col2im_ms)
        elif isinstance(layer, nn.MaxPool2D):
            add("pooling", median_ms(lambda layer=layer, a_in=a_in: layer.forward(a_in), steps))
            layer.forward(a_in)
            add("pooling", median_ms(lambda layer=layer, d=d_out: layer.backward(d), steps))
        elif isinstance(layer, nn.Dense):
            add(
                "dense layers", median_ms(lambda layer=layer, a_in=a_in: layer.forward(a_in), steps)
            )
            layer.forward(a_in)
            add("dense layers", median_ms(lambda layer=layer, d=d_out: layer.backward(d), steps))
        else:  # ReLU, Dropout, Reshape, Flatten
            add(
                "ReLU, dropout, reshapes",
                median_ms(lambda layer=layer, a_in=a_in: layer.forward(a_in, True), steps),
            )
            layer.forward(a_in, True)
            add(
                "ReLU, dropout, reshapes",
                median_ms(lambda layer=layer, d=d_out: layer.backward(d), steps),
            )
    z = net.forward(x, training=True)
    add(
        "loss, L2",
        median_ms(
            lambda: (net.loss_fn.forward(z, y), net.loss_fn.backward(), net.l2_penalty()), steps
        ),
    )
    optimizer = nn.Adam(1e-3)
    add("Adam", median_ms(lambda: optimizer.step(net.parameters()), steps))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = p.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    rng = np.random.default_rng(0)
    net = nn.cnn(**bench.CNN_SETTINGS)
    x = rng.random((args.batch, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.batch)
    limit = bench.cnn_matmul_limit(args.batch, clock=CLOCK)
    at_limit = args.batch * bench.cnn_flops_per_sample() / limit / 1e6
    optimizer = nn.Adam(1e-3)
    step = median_ms(lambda: net.train_step(x, y, optimizer), args.steps)
    ms = parts(net, x, y, args.steps)
    print(f"load average {os.getloadavg()[0]:.2f}; {args.clock} clock; batch {args.batch}; matmul limit {limit:.1f} "
          f"GFLOP/s = {at_limit:.2f} ms for one step's products\n")  # fmt: skip
    print("| part of one step | ms | % of the step |\n|---|---|---|")
    for name, t in sorted(ms.items(), key=lambda item: -item[1]):
        print(f"| {name} | {t:.2f} | {100 * t / step:.0f} |")
    print(f"| sum of the parts | {sum(ms.values()):.2f} | {100 * sum(ms.values()) / step:.0f} |")
    print(f"| **train_step, measured** | **{step:.2f}** | 100 |")
    print(f"\n{args.batch / step * 1e3:,.0f} samples/s; the step runs at "
          f"{100 * at_limit / step:.1f} % of the matmul limit")  # fmt: skip


if __name__ == "__main__":
    main()
