"""Losses with survey weights, and the L2 penalty.

Both losses are weighted means of per-example losses ``l_i``::

    L = sum_i w_i * l_i / sum_i w_i        (plain mean when sample_weight is None)

so multiplying every weight by a constant changes nothing, and with PUMS weights the loss estimates
the population mean loss. ``forward(pred, target, sample_weight=None)`` returns ``L`` as a float and
caches what ``backward()`` needs; ``backward()`` returns dL/d(pred), same shape as ``pred``.
Targets of shape ``(n,)`` are read as one output column; with several columns ``l_i`` is the mean
over columns.

:class:`L2Penalty` is the optional ridge term ``0.5 * l2 * sum ||W||^2`` over weight matrices only
(biases are not penalised), whose gradient ``l2 * W`` is added to the weight gradients.
"""

from __future__ import annotations

import numpy as np

from .layers import Parameter, sigmoid


def _as_columns(target: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The target with the shape of ``pred`` (``(n,)`` -> ``(n, 1)``) and its dtype."""
    target = np.asarray(target, dtype=pred.dtype)
    return target.reshape(pred.shape) if target.shape != pred.shape else target


def _normalised(sample_weight: np.ndarray | None, pred: np.ndarray) -> np.ndarray | None:
    """Weights divided by their sum, as a column ``(n, 1)`` ready to broadcast (None stays None)."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=pred.dtype).reshape(-1, 1)
    return w / w.sum()


class MSELoss:
    """Mean squared error: ``l_i = mean_k (pred_ik - target_ik)**2``; dL/dpred = 2 w_i (pred - target)
    / (sum w * k)."""

    def forward(self, pred: np.ndarray, target: np.ndarray, sample_weight=None) -> float:
        diff = pred - _as_columns(target, pred)
        w = _normalised(sample_weight, pred)
        # g holds the per-element weight times the error; the loss is <g, diff>, the gradient 2 g.
        g = diff * w if w is not None else diff / diff.shape[0]
        if diff.shape[1] != 1:
            g /= diff.shape[1]
        self._g = g
        return float(np.vdot(g, diff))

    def backward(self) -> np.ndarray:
        return 2 * self._g

    def __repr__(self) -> str:
        return "MSELoss()"


class BinaryLogLoss:
    """Binary cross-entropy on logits ``z`` (pred is the logit, not a probability)::

        l_i = softplus(z) - y z = log(1 + exp(z)) - y z          dl/dz = sigmoid(z) - y

    computed as ``max(z, 0) + log1p(exp(-|z|)) - y z``, so no exp ever overflows. Targets are 0/1
    (or probabilities in [0, 1]).
    """

    def forward(self, pred: np.ndarray, target: np.ndarray, sample_weight=None) -> float:
        z = pred
        y = _as_columns(target, pred)
        w = _normalised(sample_weight, pred)
        softplus = np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))
        losses = softplus - y * z
        # g: d(loss)/dz before weighting; sigmoid(z) = exp(z - softplus(z)) would do too.
        g = sigmoid(z) - y
        if w is not None:
            g *= w
            loss = float(np.vdot(w, losses.mean(axis=1)))
        else:
            g /= z.shape[0]
            loss = float(losses.mean())
        if z.shape[1] != 1:
            g /= z.shape[1]
        self._g = g
        return loss

    def backward(self) -> np.ndarray:
        return self._g

    def __repr__(self) -> str:
        return "BinaryLogLoss()"


class L2Penalty:
    """``0.5 * l2 * sum of squared weights`` (parameters with ``penalised=True``; biases are not).

    ``forward(params)`` returns the penalty; ``backward(params)`` adds ``l2 * W`` to each weight's
    gradient in place. The trainer adds it to the data loss's gradient each step (classic L2
    regularisation; with Adam this is not the decoupled "AdamW" weight decay).
    """

    def __init__(self, l2: float):
        self.l2 = float(l2)

    def forward(self, params: list[Parameter]) -> float:
        return 0.5 * self.l2 * sum(float(np.vdot(p.value, p.value)) for p in params if p.penalised)

    def backward(self, params: list[Parameter]) -> None:
        for p in params:
            if p.penalised:
                p.grad += self.l2 * p.value

    def __repr__(self) -> str:
        return f"L2Penalty(l2={self.l2})"
