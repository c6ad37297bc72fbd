"""The NumPy notebook's exercise checks: they pass the reference solutions, say "not attempted yet"
(and nothing that reads as "Correct") for the notebook's empty templates, and reject plausible
wrong answers."""

import numpy as np
import pytest

from from_scratch_numpy import numpy_net as nn
from from_scratch_numpy import solutions as s


class Template:  # the notebook's exercise cells before the learner writes anything
    class LeakyReLU:
        alpha = 0.01

        def forward(self, Z, training=False): ...

        def backward(self, delta): ...

    class Tanh:
        def forward(self, Z, training=False): ...

        def backward(self, delta): ...

    class RMSprop:
        def __init__(self, lr=1e-3, rho=0.9, eps=1e-8):
            self.lr, self.rho, self.eps = lr, rho, eps

        def step(self, parameters): ...

    @staticmethod
    def confusion(y_true, y_pred, n_classes): ...

    @staticmethod
    def accuracy(C): ...

    @staticmethod
    def im2col_strided(A, k, stride): ...

    @staticmethod
    def col2im_strided(d_cols, A_shape, k, stride): ...


CHECKS = {  # check, the reference answer, the notebook's template
    "leaky_relu": (s.check_leaky_relu, (s.LeakyReLU,), (Template.LeakyReLU,)),
    "tanh": (s.check_tanh, (s.Tanh,), (Template.Tanh,)),
    "rmsprop": (s.check_rmsprop, (s.RMSprop,), (Template.RMSprop,)),
    "confusion": (
        s.check_confusion_matrix,
        (s.confusion_matrix_by_hand, s.accuracy_from_confusion),
        (Template.confusion, Template.accuracy),
    ),
    "strided": (
        s.check_strided_conv,
        (s.im2col_strided, s.col2im_strided),
        (Template.im2col_strided, Template.col2im_strided),
    ),
}


@pytest.mark.parametrize("name", CHECKS)
def test_the_reference_passes(name, capsys):
    check, reference, _ = CHECKS[name]
    assert check(*reference) is True
    assert "Correct" in capsys.readouterr().out


@pytest.mark.parametrize("name", CHECKS)
def test_the_empty_template_is_not_attempted_and_never_correct(name, capsys):
    check, _, template = CHECKS[name]
    assert check(*template) is None
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "Correct" not in out and "right" not in out


class NoSlope(s.LeakyReLU):
    def backward(self, delta):
        return delta * (self.Z > 0)  # forgets alpha


class SlopeOnTheWrongSide(s.LeakyReLU):
    def forward(self, Z, training=False):
        self.Z = Z
        return np.where(Z > 0, self.alpha * Z, Z)

    def backward(self, delta):
        return delta * np.where(self.Z > 0, self.alpha, 1.0)


class TanhDerivativeOfZ(s.Tanh):
    def backward(self, delta):
        return delta * (1 - self.A)  # 1 - A instead of 1 - A**2


class TanhSquaredInput:
    def forward(self, Z, training=False):
        self.Z = Z
        return np.tanh(Z)

    def backward(self, delta):
        return delta * (1 - self.Z**2)  # Z where tanh(Z) belongs


class RMSpropNoSqrt(s.RMSprop):
    def step(self, parameters):
        if not self.s:
            self.s = [np.zeros_like(W) for W, _ in parameters]
        for i, (W, dW) in enumerate(parameters):
            self.s[i] = self.rho * self.s[i] + (1 - self.rho) * dW**2
            W -= self.lr * dW / (self.s[i] + self.eps)


class RMSpropForgets(s.RMSprop):
    def step(self, parameters):
        for W, dW in parameters:  # a fresh s every step: no running average
            W -= self.lr * dW / (np.sqrt((1 - self.rho) * dW**2) + self.eps)


class AdamInstead(s.RMSprop):
    def step(self, parameters):  # the rho * s term weighted like Adam's momentum: (1 - rho) missing
        if not self.s:
            self.s = [np.zeros_like(W) for W, _ in parameters]
        for i, (W, dW) in enumerate(parameters):
            self.s[i] = self.rho * self.s[i] + dW**2
            W -= self.lr * dW / (np.sqrt(self.s[i]) + self.eps)


def transposed(y_true, y_pred, n):
    return s.confusion_matrix_by_hand(y_true, y_pred, n).T


def only_seen_classes(y_true, y_pred, n):
    k = max(y_true.max(), y_pred.max())  # off by one: the last class is dropped
    return s.confusion_matrix_by_hand(y_true, y_pred, n)[:k, :k]


def error_rate(C):
    return 1 - np.trace(C) / C.sum()


def im2col_stride_rows_only(A, k, stride):
    return nn.im2col(A, k)[:, ::stride]


def im2col_ignoring_stride(A, k, stride):
    return nn.im2col(A, k)


def col2im_ignoring_stride(d_cols, A_shape, k, stride):  # as if the patches were every pixel
    N, H_out, W_out, C = d_cols.shape[0], d_cols.shape[1], d_cols.shape[2], A_shape[3]
    return nn.col2im(d_cols, (N, H_out + k - 1, W_out + k - 1, C), k)


def col2im_overwriting(d_cols, A_shape, k, stride):
    N, H_out, W_out, _ = d_cols.shape
    d_patches = d_cols.reshape(N, H_out, W_out, k, k, A_shape[3])
    d_A = np.zeros(A_shape)
    for u in range(k):
        for v in range(k):
            rows, cols = slice(u, u + stride * H_out, stride), slice(v, v + stride * W_out, stride)
            d_A[:, rows, cols, :] = d_patches[:, :, :, u, v, :]  # = where overlapping patches add
    return d_A


def col2im_offsets_times_stride(d_cols, A_shape, k, stride):
    N, H_out, W_out, _ = d_cols.shape
    d_patches = d_cols.reshape(N, H_out, W_out, k, k, A_shape[3])
    d_A = np.zeros((N, A_shape[1] + k * stride, A_shape[2] + k * stride, A_shape[3]))
    for u in range(k):
        for v in range(k):  # the patch entry's offset (u, v) scaled by the stride as well
            rows = slice(u * stride, u * stride + stride * H_out, stride)
            cols = slice(v * stride, v * stride + stride * W_out, stride)
            d_A[:, rows, cols, :] += d_patches[:, :, :, u, v, :]
    return d_A[:, : A_shape[1], : A_shape[2]]


WRONG = {
    "leaky_relu": [(NoSlope,), (SlopeOnTheWrongSide,)],
    "tanh": [(TanhDerivativeOfZ,), (TanhSquaredInput,)],
    "rmsprop": [(RMSpropNoSqrt,), (RMSpropForgets,), (AdamInstead,)],
    "confusion": [
        (transposed, s.accuracy_from_confusion),
        (only_seen_classes, s.accuracy_from_confusion),
        (s.confusion_matrix_by_hand, error_rate),
    ],
    "strided": [
        (im2col_stride_rows_only, s.col2im_strided),
        (im2col_ignoring_stride, s.col2im_strided),
        (s.im2col_strided, col2im_ignoring_stride),
        (s.im2col_strided, col2im_overwriting),
        (s.im2col_strided, col2im_offsets_times_stride),
    ],
}


@pytest.mark.parametrize(("name", "i"), [(n, i) for n, wrong in WRONG.items() for i in range(len(wrong))])
def test_plausible_wrong_answers_are_rejected(name, i, capsys):
    check = CHECKS[name][0]
    assert check(*WRONG[name][i]) is False
    out = capsys.readouterr().out
    assert "Not yet right" in out and "Correct" not in out
