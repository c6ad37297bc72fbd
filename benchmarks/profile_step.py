"""Where one training step's time goes: forward + loss, backward, update; plain vs fast network.

    python benchmarks/profile_step.py [--steps 200]

Times the three phases of ``Network.train_step`` separately (median over steps, in ms) for the
lesson's network, the fast one, and the fast one with its thread pool cut to one thread, next to
the time the step's matrix products take at the matmul limit (``bench.matmul_limit``). Random
MNIST-shaped batches are enough: the time does not depend on the pixel values.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

from from_scratch_numpy import fast, train  # noqa: E402


def phases(net, optimizer, batches):
    """Median milliseconds of (forward + loss, backward, update) over the batches."""
    fused = isinstance(optimizer, fast.Adam)
    times = []
    for x, y in batches:
        t0 = time.perf_counter()
        z = net.forward(x, training=True)
        net.loss_fn.forward(z, y)
        if not fused:  # the fast network adds the L2 penalty in its update pass
            net.l2_penalty()
        t1 = time.perf_counter()
        net.backward(l2=False) if fused else net.backward()
        t2 = time.perf_counter()
        optimizer.step_flat(net) if fused else optimizer.step(net.parameters())
        times.append((t1 - t0, t2 - t1, time.perf_counter() - t2))
    return np.median(np.array(times[len(times) // 5 :]), axis=0) * 1e3  # skip the warm-up


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200)
    args = p.parse_args(argv)
    r = train.IMPROVED
    rng = np.random.default_rng(0)
    batches = [
        (rng.random((r.batch_size, 784), dtype=np.float32), rng.integers(0, 10, r.batch_size))
        for _ in range(args.steps)
    ]
    limit = bench.matmul_limit(r.sizes, r.batch_size, r.dtype)
    at_limit = r.batch_size * bench.flops_per_sample(r.sizes) / limit / 1e6
    threads, rows = fast.THREADS, []
    for name, is_fast, n_threads in [
        ("plain", False, 1),
        ("fast, 1 thread", True, 1),
        (f"fast, {threads} threads", True, threads),
    ]:
        fast.THREADS = n_threads
        fast._pool.clear()
        rows.append((name, *phases(*train.build(r, 0, fast=is_fast), batches)))
    fast.THREADS = threads
    print(
        f"load average {os.getloadavg()[0]:.2f}; matmul limit {limit:.1f} GFLOP/s "
        f"= {at_limit:.2f} ms for one step's products\n"
    )
    print(
        f"| network | forward + loss ms | backward ms | update ms | step ms | % of limit |\n|---{'|---' * 5}|"
    )
    for name, *ms in rows:
        print(
            f"| {name} | "
            + " | ".join(f"{t:.2f}" for t in ms)
            + f" | {sum(ms):.2f} | {100 * at_limit / sum(ms):.0f} |"
        )


if __name__ == "__main__":
    main()
