"""The lesson's network, trained faster: the same arithmetic as ``numpy_net``, fewer wasted cycles.

Only the hot methods are overridden, each saying which trick it plays, and every operation keeps
the lesson's order, so both networks end with the same parameters (``tests/test_fast.py``).
Where a step's time goes, and what changes here:

1. the matrix products (BLAS, already on every core): only the one nobody needs is skipped;
2. Adam and the L2 term (memory-bound, one core in the lesson): one fused pass over cache-sized
   blocks of a single flat parameter vector, split across cores by a thread pool (NumPy releases
   the GIL inside ufuncs on large arrays, so the threads really run in parallel);
3. the element-wise layers (bias, ReLU, dropout): in place, into buffers reused every step.

``train.build(recipe, seed, fast=True)`` uses :func:`mlp` and :class:`Adam` from here.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from from_scratch_numpy import numpy_net as nn
from from_scratch_numpy.numpy_net import SGD, Momentum  # unchanged: the fast network accepts them

__all__ = ["Adam", "FastNetwork", "Momentum", "SGD", "mlp"]  # SGD, Momentum: train.build

# 32,768 numbers (128 KB of float32) per block: the fifteen operations on a block of W, dW, m, v
# and one scratch block run in the core's cache instead of streaming 20 MB from memory each time.
BLOCK = 1 << 15
THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
_pool: dict[int, ThreadPoolExecutor] = {}  # process id -> pool (a forked child makes its own)


def _buffer(owner, name, shape, dtype):
    """One array per (name, shape), allocated once and reused: no allocation in the loop."""
    buffers = owner.__dict__.setdefault("_buffers", {})
    if (name, shape) not in buffers:
        buffers[name, shape] = np.empty(shape, dtype)
    return buffers[name, shape]


class FastDense(nn.Dense):
    """Dense writing its products into reused buffers (``out=``) and adding the bias in place."""

    def forward(self, a_prev, training=False):
        if not training:  # predictions may be kept by the caller: fresh arrays
            return super().forward(a_prev, training)
        self.a_prev = a_prev
        out = _buffer(self, "z", (len(a_prev), self.W.shape[1]), self.W.dtype)
        return np.add(np.matmul(a_prev, self.W, out=out), self.b, out=out)

    def backward(self, delta, input_grad=True):
        # dW and db are views into the network's flat gradient vector: written in place.
        np.matmul(self.a_prev.T, delta, out=self.dW)
        np.sum(delta, axis=0, out=self.db)
        if not input_grad:  # the first layer: nobody needs the gradient for the images
            return None
        out = _buffer(self, "d", self.a_prev.shape, self.W.dtype)
        return np.matmul(delta, self.W.T, out=out)


class FastReLU(nn.ReLU):
    """ReLU in place on the Dense output it receives (its own buffer, read by no one else)."""

    def forward(self, z, training=False):
        self.z = np.maximum(z, 0, out=z)  # z > 0 exactly where max(z, 0) > 0
        return z

    def backward(self, delta):
        return np.multiply(
            delta, np.greater(self.z, 0, out=_buffer(self, "m", self.z.shape, bool)), out=delta
        )


class FastDropout(nn.Dropout):
    """Dropout drawing the lesson's random numbers into a buffer; masks applied in place."""

    def forward(self, a, training=False):
        if not training:
            return a
        self.scale = np.asarray(1, a.dtype) / (1 - self.rate)  # the lesson's value, rounded alike
        if not self.frozen:
            u = self.rng.random(a.shape, out=_buffer(self, "u", a.shape, np.float64))  # same stream
            self.mask = np.greater_equal(u, self.rate, out=_buffer(self, "k", a.shape, bool))
        a *= self.mask
        a *= self.scale
        return a

    def backward(self, delta):
        delta *= self.mask
        delta *= self.scale
        return delta


class FastNetwork(nn.Network):
    """The lesson's Network with every parameter and gradient a view of one flat vector each.

    Adam then sweeps all 1.3 M parameters in one blocked, threaded pass; weights come first and
    biases last, so the L2 term applies to ``theta[:n_decay]`` only.
    """

    def flatten(self):
        """Move every parameter and gradient into one flat array each (values unchanged)."""
        dense = [layer for layer in self.layers if isinstance(layer, nn.Dense)]
        order = [(d, "W", "dW") for d in dense] + [(d, "b", "db") for d in dense]
        n = sum(getattr(d, p).size for d, p, _ in order)
        self.theta, self.grad = np.empty(n, dense[0].W.dtype), np.zeros(n, dense[0].W.dtype)
        self.n_decay, start = sum(d.W.size for d in dense), 0
        for layer, p, g in order:
            old = getattr(layer, p)
            setattr(layer, p, self.theta[start : start + old.size].reshape(old.shape))
            getattr(layer, p)[...] = old
            setattr(layer, g, self.grad[start : start + old.size].reshape(old.shape))
            start += old.size
        return self

    def backward(self, l2=True):
        """Backpropagate, skipping the first layer's input gradient; ``l2=False``: FastAdam adds it."""
        delta = self.loss_fn.backward()
        first = next(i for i, layer in enumerate(self.layers) if isinstance(layer, nn.Dense))
        for layer in reversed(self.layers[first + 1 :]):
            delta = layer.backward(delta)
        self.layers[first].backward(delta, input_grad=False)
        if l2 and self.weight_decay:
            for layer in self.layers:
                if isinstance(layer, nn.Dense):
                    layer.dW += self.weight_decay * layer.W

    def train_step(self, x, y, optimizer):
        """As the lesson's; with the fast Adam the L2 penalty and gradient come from its pass."""
        if not isinstance(optimizer, Adam):
            return super().train_step(x, y, optimizer)
        loss = self.loss_fn.forward(self.forward(x, training=True), y)
        self.backward(l2=False)
        return loss + 0.5 * self.weight_decay * optimizer.step_flat(self)


class Adam(nn.Adam):
    """Adam over a FastNetwork's flat parameter vector: L2 fused in, cache-sized blocks, all cores."""

    def step_flat(self, net):
        """One step of every parameter, adding weight_decay * W to dW; returns sum(W**2) before it."""
        if not self.m:
            self.m, self.v = [np.zeros_like(net.theta)], [np.zeros_like(net.theta)]
        self.t += 1
        n = net.theta.size
        per = -(-n // (THREADS * BLOCK)) * BLOCK  # one contiguous chunk of whole blocks per thread
        if os.getpid() not in _pool:
            _pool[os.getpid()] = ThreadPoolExecutor(THREADS, thread_name_prefix="fast-adam")
        chunks = [(lo, min(lo + per, n)) for lo in range(0, n, per)]
        return sum(_pool[os.getpid()].map(lambda c: self._update(net, *c), chunks))

    def _update(self, net, lo, hi):
        """The lesson's Adam on theta[lo:hi], block by block; dW doubles as scratch space."""
        b1, b2, wd, t, squares = self.beta1, self.beta2, net.weight_decay, self.t, 0.0
        buf = np.empty(BLOCK, net.theta.dtype)
        for s in range(lo, hi, BLOCK):
            e = min(s + BLOCK, hi)
            W, g, m, v = net.theta[s:e], net.grad[s:e], self.m[0][s:e], self.v[0][s:e]
            b, d = buf[: e - s], max(0, min(e, net.n_decay) - s)  # the first d are weights
            if d and wd:  # the L2 penalty's sum(W**2) and gradient, while the block is in cache
                squares += float(np.dot(W[:d], W[:d]))
                g[:d] += np.multiply(W[:d], wd, out=b[:d])
            m *= b1  # m = beta1 * m + (1 - beta1) * dW
            m += np.multiply(g, 1 - b1, out=b)
            v *= b2  # v = beta2 * v + (1 - beta2) * dW**2
            np.square(g, out=g)
            v += np.multiply(g, 1 - b2, out=g)
            np.divide(m, 1 - b1**t, out=b)  # lr * m_hat / (sqrt(v_hat) + eps)
            b *= self.lr
            np.divide(v, 1 - b2**t, out=g)
            np.sqrt(g, out=g)
            g += self.eps
            W -= np.divide(b, g, out=b)
        return squares


_FAST = {nn.Dense: FastDense, nn.ReLU: FastReLU, nn.Dropout: FastDropout}


def mlp(sizes, **kwargs):
    """The lesson's ``mlp`` (same arguments, same initial weights), with the fast classes swapped in."""
    net = nn.mlp(sizes, **kwargs)
    for layer in net.layers:
        layer.__class__ = _FAST.get(type(layer), type(layer))
    net.__class__ = FastNetwork
    return net.flatten()
