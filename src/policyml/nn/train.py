"""The training loop: shuffled mini-batch gradient descent with optional early stopping.

Each epoch (one pass over the data):

1. set the learning rate from the schedule (``schedule.lr_at(epoch)``);
2. reshuffle the rows with ``rng`` (stochastic updates) into preallocated buffers, so every batch
   is a contiguous slice (a view: no copy per batch);
3. for each batch of ``batch_size`` rows (the last may be smaller): forward pass, weighted loss,
   ``zero_grad``, backward pass, L2 gradient, gradient clipping, optimiser step;
4. evaluate the validation loss, remember the best parameters, and stop after
   ``early_stopping_patience`` epochs without improvement.

Survey weights in mini-batches
    Each batch's loss is the weighted mean of its examples' losses (weights divided by the batch's
    weight sum). Over the whole data (``batch_size >= n``) this is exactly the weighted objective
    ``sum w_i l_i / sum w_i``; for smaller batches each step is a ratio estimate of its gradient,
    whose scale does not depend on how much weight a batch happens to draw (so one learning rate
    suits PUMS weights of any magnitude).

L2
    ``l2 > 0`` adds the gradient of ``0.5 * l2 * sum ||W||^2`` (weights only, not biases) to the
    data-loss gradient before clipping. Reported losses are data losses, without the penalty.

Reported losses
    ``History.train_loss`` is the weighted mean of the per-example training losses seen during the
    epoch (as the parameters moved); ``History.val_loss`` is the weighted validation loss at the end
    of the epoch.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import TYPE_CHECKING

import numpy as np

from ..core.errors import ConfigError, DataError
from .layers import Module
from .losses import L2Penalty
from .optim import Constant, Schedule, clip_grad_norm

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclasses.dataclass
class History:
    """Per-epoch record of a :func:`fit` run (epochs are 0-based).

    ``best_epoch`` is the epoch whose parameters the model holds after fitting: the epoch of lowest
    validation loss when validation data was given (and ``restore_best``), else the last epoch.
    """

    train_loss: list[float] = dataclasses.field(default_factory=list)
    val_loss: list[float] = dataclasses.field(default_factory=list)
    lr: list[float] = dataclasses.field(default_factory=list)
    seconds: list[float] = dataclasses.field(default_factory=list)
    best_epoch: int = -1
    stopped_early: bool = False

    @property
    def n_epochs(self) -> int:
        return len(self.train_loss)

    def to_frame(self) -> pd.DataFrame:
        """One row per epoch: epoch, train_loss, val_loss (NaN without validation), lr, seconds."""
        import pandas as pd

        n = self.n_epochs
        return pd.DataFrame(
            {
                "epoch": np.arange(n),
                "train_loss": self.train_loss,
                "val_loss": self.val_loss if self.val_loss else [math.nan] * n,
                "lr": self.lr,
                "seconds": self.seconds,
            }
        )


def _as_2d(values, dtype: np.dtype, what: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=dtype)
    except (TypeError, ValueError) as error:
        raise DataError(f"{what} must be numeric", hint="encode categories as numbers first") from error
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise DataError(f"{what} must be one- or two-dimensional, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise DataError(f"{what} contains NaN or infinite values", hint="impute or drop them first")
    return np.ascontiguousarray(array)


def _weights(sample_weight, n: int, dtype: np.dtype, what: str) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=dtype).reshape(-1)
    if w.shape[0] != n:
        raise DataError(f"{what} has {w.shape[0]} values for {n} rows", hint="pass one weight per row")
    if not np.isfinite(w).all() or (w < 0).any() or not w.sum() > 0:
        raise DataError(
            f"{what} must be finite and non-negative with a positive sum",
            hint="check the survey weight column",
        )
    return w


def check_data(X, y, sample_weight, dtype: np.dtype, what: str = "X"):
    """X and y as 2-D float arrays of ``dtype`` with matching rows, and the weights (or None)."""
    X = _as_2d(X, dtype, what)
    y = _as_2d(y, dtype, "y" if what == "X" else f"y for {what}")
    if X.shape[0] != y.shape[0]:
        raise DataError(
            f"{what} has {X.shape[0]} rows but y has {y.shape[0]}", hint="pass one target per row"
        )
    if X.shape[0] == 0:
        raise DataError(f"{what} has no rows")
    w = _weights(sample_weight, X.shape[0], dtype, "sample_weight" if what == "X" else f"weights for {what}")
    return X, y, w


def fit(
    model: Module,
    loss,
    optimizer,
    X,
    y,
    sample_weight=None,
    *,
    epochs: int,
    batch_size: int | None,
    schedule: Schedule | None = None,
    rng: np.random.Generator,
    X_val=None,
    y_val=None,
    w_val=None,
    early_stopping_patience: int | None = None,
    min_delta: float = 0.0,
    restore_best: bool = True,
    clip_norm: float | None = None,
    l2: float = 0.0,
) -> History:
    """Train ``model`` in place by mini-batch gradient descent on ``loss`` and return its History.

    ``batch_size=None`` means full-batch gradient descent. ``schedule`` defaults to a constant rate
    (the optimiser's ``lr``). With validation data, the validation loss is computed every epoch; the
    parameters of the best epoch (lowest validation loss, improvement meaning a drop of more than
    ``min_delta``) are restored at the end if ``restore_best``, and training stops after
    ``early_stopping_patience`` epochs without improvement (never, if None). Data are cast to the
    model's dtype; scaling them is the caller's job.
    """
    if int(epochs) < 1:
        raise ConfigError(f"epochs={epochs!r} must be at least 1")
    if batch_size is not None and int(batch_size) < 1:
        raise ConfigError(f"batch_size={batch_size!r} must be at least 1", hint="e.g. 64, or None for full batch")
    if early_stopping_patience is not None and int(early_stopping_patience) < 1:
        raise ConfigError(f"early_stopping_patience={early_stopping_patience!r} must be at least 1")
    if clip_norm is not None and not clip_norm > 0:
        raise ConfigError(f"clip_norm={clip_norm!r} must be positive", hint="e.g. 1.0, or None")
    if not l2 >= 0:
        raise ConfigError(f"l2={l2!r} must be non-negative")
    dtype = model.dtype
    X, y, w = check_data(X, y, sample_weight, dtype)
    validate = X_val is not None
    if validate:
        if y_val is None:
            raise DataError("X_val was given without y_val")
        X_val, y_val, w_val = check_data(X_val, y_val, w_val, dtype, what="X_val")
    n = X.shape[0]
    batch = n if batch_size is None else min(int(batch_size), n)
    schedule = (schedule or Constant()).with_lr(optimizer.lr)
    params = model.parameters()
    penalty = L2Penalty(l2) if l2 > 0 else None

    # Shuffled copies of the data, refilled each epoch; batches are slices of these.
    Xs, ys = np.empty_like(X), np.empty_like(y)
    ws = np.empty_like(w) if w is not None else None
    best = [np.empty_like(p.value) for p in params] if validate else None
    best_loss = math.inf
    history = History()
    since_best = 0
    for epoch in range(int(epochs)):
        start = time.perf_counter()
        optimizer.lr = schedule.lr_at(epoch)
        if batch < n:
            order = rng.permutation(n)
            np.take(X, order, axis=0, out=Xs)
            np.take(y, order, axis=0, out=ys)
            if w is not None:
                np.take(w, order, out=ws)
            Xe, ye, we = Xs, ys, ws
        else:
            Xe, ye, we = X, y, w
        total = 0.0
        for lo in range(0, n, batch):
            hi = min(lo + batch, n)
            wb = we[lo:hi] if we is not None else None
            batch_loss = loss.forward(model.forward(Xe[lo:hi]), ye[lo:hi], wb)
            total += batch_loss * (float(wb.sum()) if wb is not None else hi - lo)
            optimizer.zero_grad()
            model.backward(loss.backward(), input_grad=False)
            if penalty is not None:
                penalty.backward(params)
            if clip_norm is not None:
                clip_grad_norm(params, clip_norm)
            optimizer.step()
        train_loss = total / (float(w.sum()) if w is not None else n)
        if not math.isfinite(train_loss):
            raise ConfigError(
                f"training diverged: the training loss is {train_loss} at epoch {epoch}",
                hint="lower the learning rate, scale the inputs, or set clip_norm",
            )
        history.train_loss.append(train_loss)
        history.lr.append(optimizer.lr)
        if validate:
            val_loss = loss.forward(model.forward(X_val), y_val, w_val)
            history.val_loss.append(val_loss)
            if val_loss < best_loss - min_delta:
                best_loss, since_best = val_loss, 0
                history.best_epoch = epoch
                for b, p in zip(best, params):
                    np.copyto(b, p.value)
            else:
                since_best += 1
        history.seconds.append(time.perf_counter() - start)
        if early_stopping_patience is not None and since_best >= early_stopping_patience:
            history.stopped_early = True
            break
    if validate and restore_best and history.best_epoch >= 0:
        for b, p in zip(best, params):
            np.copyto(p.value, b)
    else:
        history.best_epoch = history.n_epochs - 1
    model.clear_cache()
    return history
