"""Where one training step's time goes: forward + loss, backward, update; plain vs fast network.

    python benchmarks/profile_step.py [--steps 200]

Median milliseconds of each phase of ``Network.train_step`` for the lesson's network and the fast
one, next to the time the step's matrix products take at the matmul limit. Random MNIST-shaped
batches: the time does not depend on the pixel values.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402  (first: it sets OPENBLAS_THREAD_TIMEOUT before NumPy loads)
import fast  # noqa: E402  (beside this script; bench put its folder on the path)
import numpy as np  # noqa: E402

from from_scratch_numpy import numpy_net, train  # noqa: E402


def phases(net, optimizer, batches):
    """Median ms of (forward + loss, backward, update); the fast Adam adds the L2 term itself."""
    fused, times = isinstance(optimizer, fast.Adam), []
    for x, y in batches:
        t0 = time.perf_counter()
        net.loss_fn.forward(net.forward(x, training=True), y)
        _ = None if fused else net.l2_penalty()
        t1 = time.perf_counter()
        net.backward(l2=False) if fused else net.backward()
        t2 = time.perf_counter()
        optimizer.step_flat(net) if fused else optimizer.step(net.parameters())
        times.append((t1 - t0, t2 - t1, time.perf_counter() - t2))
    return np.median(np.array(times[len(times) // 5 :]), axis=0) * 1e3  # skip the warm-up


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200)
    r, rng = train.IMPROVED, np.random.default_rng(0)
    batches = [(rng.random((r.batch_size, 784), dtype=np.float32), rng.integers(0, 10, r.batch_size))
               for _ in range(p.parse_args(argv).steps)]  # fmt: skip
    limit = bench.matmul_limit(r.sizes, r.batch_size, r.dtype)
    at_limit = r.batch_size * bench.flops_per_sample(r.sizes) / limit / 1e6
    print(f"load average {os.getloadavg()[0]:.2f}; matmul limit {limit:.1f} GFLOP/s "
          f"= {at_limit:.2f} ms for one step's products\n")  # fmt: skip
    print("| network | forward + loss ms | backward ms | update ms | step ms | % of limit |")
    print("|---|---|---|---|---|---|")
    for name, is_fast in [("plain", False), ("fast", True)]:
        ms = phases(*(fast.build if is_fast else numpy_net.build)(r, 0)[:2], batches)
        cells = " | ".join(f"{t:.2f}" for t in (*ms, sum(ms)))
        print(f"| {name} | {cells} | {100 * at_limit / sum(ms):.0f} |")


if __name__ == "__main__":
    main()
