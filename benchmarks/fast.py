"""The lesson's network, trained faster: the same arithmetic as ``numpy_net``, fewer wasted cycles.

Only the hot methods are overridden, each saying which trick it plays, and every operation keeps
the lesson's order, so both networks end with the same parameters (``tests/test_fast.py``).
Where a step's time goes, and what changes here:

1. the matrix products (BLAS, already on every core): only the one nobody needs is skipped;
2. Adam and the L2 term: NumPy makes some fifteen passes over the 1.3 M parameters, one per
   operation of the formula; here one compiled loop (numba) does the whole formula for each
   number in a single pass, in the lesson's order, so the results are the same bits;
3. the element-wise layers (bias, ReLU, dropout): in place, into buffers reused every step, the
   masks applied by one compiled loop each instead of two or three NumPy passes;
4. dropout's random numbers: the next step's are drawn on the second core while Adam runs on the
   first, in the generator's own order (:class:`DrawnAhead`). That core is free only if OpenBLAS's
   helper thread sleeps between products instead of spinning for 0.1 s after each: the
   benchmark sets ``OPENBLAS_THREAD_TIMEOUT=20`` (2**20 cycles) before NumPy loads.

``train.train(recipe, ..., build=fast.build)`` trains with it. Not part of the lesson: the NumPy
notebook trains the lesson's own classes.
"""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from from_scratch_numpy import numpy_net as nn

__all__ = ["Adam", "DrawnAhead", "FastNetwork", "build", "make_fast"]


def _buffer(owner, name, shape, dtype):
    """One array per (name, shape), allocated once and reused: no allocation in the loop."""
    buffers = owner.__dict__.setdefault("_buffers", {})
    if (name, shape) not in buffers:
        buffers[name, shape] = np.empty(shape, dtype)
    return buffers[name, shape]


# The compiled loops (numba): one pass each, in place, no temporaries. error_model="numpy": x / 0
# gives inf as in NumPy, instead of a check that stops LLVM from vectorising the loop (8 float32
# numbers per instruction); nogil, one thread: BLAS has the cores.
kernel = njit(nogil=True, error_model="numpy", cache=True)


@kernel
def _scale_where(a, keep, scale):
    """a *= scale where keep > 0, else a *= 0: the lesson's ``a * mask`` and ``delta * (z > 0)``."""
    zero = scale - scale  # 0 in a's dtype
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] *= scale if keep[i, j] > 0 else zero


class FastDense(nn.Dense):
    """Dense writing its products into reused buffers (``out=``) and adding the bias in place."""

    def forward(self, A_prev, training=False):
        if not training:  # predictions may be kept by the caller: fresh arrays
            return super().forward(A_prev, training)
        self.A_prev = A_prev
        out = _buffer(self, "z", (len(A_prev), self.W.shape[1]), self.W.dtype)
        return np.add(np.matmul(A_prev, self.W, out=out), self.b, out=out)

    def backward(self, delta, input_grad=True):
        # dW and db are views into the network's flat gradient vector: written in place.
        np.matmul(self.A_prev.T, delta, out=self.dW)
        np.sum(delta, axis=0, out=self.db)
        if not input_grad:  # the first layer: nobody needs the gradient for the images
            return None
        out = _buffer(self, "d", self.A_prev.shape, self.W.dtype)
        return np.matmul(delta, self.W.T, out=out)


class FastReLU(nn.ReLU):
    """ReLU in place on the Dense output it receives (its own buffer, read by no one else)."""

    def forward(self, Z, training=False):
        self.Z = np.maximum(Z, 0, out=Z)  # Z > 0 exactly where max(Z, 0) > 0
        return Z

    def backward(self, delta):
        _scale_where(delta, self.Z, delta.dtype.type(1))  # no boolean array in between
        return delta


class DrawnAhead:
    """A generator's ``random()`` numbers in its own order, the next step's drawn on another thread.

    ``take(n)`` gives exactly the n numbers ``rng.random(n)`` would; ``draw_ahead()`` starts drawing
    as many as were taken since its last call (one step's masks) and returns at once: NumPy fills
    the array without the GIL. All draws from ``rng`` must then go through ``take``.
    """

    def __init__(self, rng):
        self.rng, self.pool, self.job = rng, ThreadPoolExecutor(1), None
        self.buffer = self.ready = np.empty(0)  # ready: the drawn numbers not yet taken
        self.taken = 0

    def take(self, n):
        """The generator's next n numbers."""
        self._wait()
        got, self.ready, self.taken = self.ready[:n], self.ready[n:], self.taken + n
        return got if len(got) == n else np.concatenate([got, self.rng.random(n - len(got))])

    def draw_ahead(self):
        """Draw, in the background, as many numbers as were taken since the last call."""
        self._wait()
        rest, n = len(self.ready), self.taken
        new = self.buffer if len(self.buffer) >= rest + n else np.empty(rest + n)
        new[:rest] = self.ready  # numbers drawn but not taken (a smaller last batch) stay first
        self.buffer, self.ready, self.taken = new, new[: rest + n], 0
        self.job = self.pool.submit(self.rng.random, n, out=new[rest : rest + n])

    def _wait(self):
        if self.job is not None:
            self.job, job = None, self.job
            job.result()


class FastDropout(nn.Dropout):
    """Dropout taking the lesson's random numbers drawn ahead; mask and scale in one compiled pass."""

    def forward(self, a, training=False):
        if not training:
            return a
        self.scale = np.asarray(1, a.dtype) / (1 - self.rate)  # the lesson's value, rounded alike
        if not self.frozen:
            u = self.numbers.take(a.size).reshape(a.shape)  # rng.random(a.shape): same numbers
            self.mask = np.greater_equal(u, self.rate, out=_buffer(self, "k", a.shape, bool))
        _scale_where(a, self.mask, self.scale)
        return a

    def backward(self, delta):
        _scale_where(delta, self.mask, self.scale)
        return delta


class FastNetwork(nn.Network):
    """The lesson's Network with every parameter and gradient a view of one flat vector each.

    Adam then sweeps all 1.3 M parameters in one pass; weights come first and biases last, so
    the L2 term applies to ``theta[:n_decay]`` only.
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
        """As the lesson's; with the fast Adam the L2 penalty and gradient come from its pass,
        while another thread draws the next step's dropout numbers."""
        if not isinstance(optimizer, Adam):
            return super().train_step(x, y, optimizer)
        loss = self.loss_fn.forward(self.forward(x, training=True), y)
        self.backward(l2=False)
        for numbers in self.numbers:
            numbers.draw_ahead()
        return loss + 0.5 * self.weight_decay * optimizer.step_flat(self)


@kernel
def _adam(W, dW, m, v, wd, beta1, beta2, lr, eps, c1, c2, one_minus_beta1, one_minus_beta2):
    """The lesson's Adam with ``dW + wd * W``, for every number of W in one pass (c = 1 - beta**t).

    While its arrays stay in the cache, the divisions bound this loop. From step 165 on, c1 rounds
    to 1 in float32 and m / c1 is m: that division is skipped (LLVM compiles both loops).
    """
    for i in range(W.size):
        g = dW[i] + W[i] * wd
        m[i] = beta1 * m[i] + g * one_minus_beta1
        v[i] = beta2 * v[i] + (g * g) * one_minus_beta2
        m_hat = m[i] if c1 == 1 else m[i] / c1
        W[i] -= m_hat * lr / (np.sqrt(v[i] / c2) + eps)


class Adam(nn.Adam):
    """Adam over a FastNetwork's flat parameter vector, the L2 term fused in, in one compiled pass."""

    def step_flat(self, net):
        """One step of every parameter, adding weight_decay * W to dW; returns sum(W**2) before it."""
        if not self.m:
            self.m, self.v = [np.zeros_like(net.theta)], [np.zeros_like(net.theta)]
        self.t += 1
        d, wd, f = net.n_decay, net.weight_decay, net.theta.dtype.type  # weights: theta[:d]
        W, dW, m, v = net.theta, net.grad, self.m[0], self.v[0]
        squares = float(np.dot(W[:d], W[:d])) if wd else 0.0
        b1, b2, t = self.beta1, self.beta2, self.t  # scalars rounded as NumPy rounds the lesson's
        s = [f(a) for a in (b1, b2, self.lr, self.eps, 1 - b1**t, 1 - b2**t, 1 - b1, 1 - b2)]
        _adam(W[:d], dW[:d], m[:d], v[:d], f(wd), *s)
        _adam(W[d:], dW[d:], m[d:], v[d:], f(0), *s)
        return squares


_FAST = {nn.Dense: FastDense, nn.ReLU: FastReLU, nn.Dropout: FastDropout}


def make_fast(net):
    """The lesson's network ``net`` (same weights), with the fast classes swapped in."""
    numbers = {}  # one DrawnAhead per generator (mlp's dropout layers share one)
    for layer in net.layers:
        layer.__class__ = _FAST.get(type(layer), type(layer))
        if isinstance(layer, FastDropout):
            if id(layer.rng) not in numbers:
                numbers[id(layer.rng)] = DrawnAhead(layer.rng)
            layer.numbers = numbers[id(layer.rng)]
    net.__class__ = FastNetwork
    net.numbers = list(numbers.values())
    return net.flatten()


def build(recipe, seed=0):
    """``numpy_net.build``'s network, optimizer and schedule, made fast (the same initial weights)."""
    net, optimizer, schedule = nn.build(recipe, seed)
    if isinstance(optimizer, nn.Adam):
        optimizer = Adam(optimizer.lr, optimizer.beta1, optimizer.beta2, optimizer.eps)
    return make_fast(net), optimizer, schedule
