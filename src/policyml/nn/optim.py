"""Gradient-descent updates, learning-rate schedules and gradient clipping.

The lecture's update ``NEW w = OLD w - lr * dL/dw`` is :class:`SGD` with ``momentum=0``. With
momentum the step follows a running sum of past gradients (PyTorch's convention)::

    v = momentum * v + g            w = w - lr * v

:class:`Adam` scales each coordinate's step by running estimates of the gradient's first and second
moments (Kingma & Ba 2015, with bias correction), the default for the MLP estimators.

Optimisers expose ``lr`` (a plain attribute: the trainer sets it every epoch from a schedule),
``step()`` (update in place from the ``grad`` arrays) and ``zero_grad()``. On construction they
:func:`~policyml.nn.layers.pack` their parameters into one contiguous vector (each ``Parameter``'s
arrays become views into it), so a step is a few vectorised operations however many layers there
are: Adam's update was 40% of an epoch's time when run array by array.

Schedules ("take larger steps earlier, then smaller steps, then some larger steps" -- the lecture)
map a 0-based epoch to a learning rate with ``lr_at(epoch)``. Their ``lr`` (the starting rate) may
be left ``None``; the trainer then fills in the optimiser's ``lr``.

:func:`clip_grad_norm` keeps gradients "in a reasonable range": if the global L2 norm of all
gradients exceeds ``max_norm`` they are all scaled by the same factor so that it equals ``max_norm``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import numpy as np

from ..core.errors import ConfigError
from .layers import Parameter, pack


def _check_lr(lr: float) -> float:
    if not (isinstance(lr, (int, float, np.floating)) and math.isfinite(lr) and lr > 0):
        raise ConfigError(f"learning rate {lr!r} must be a positive number", hint="e.g. 1e-3 for Adam")
    return float(lr)


class SGD:
    """Stochastic gradient descent with optional (heavy-ball) momentum."""

    def __init__(self, params: Iterable[Parameter], lr: float = 0.01, momentum: float = 0.0):
        self.params = list(params)
        self.lr = _check_lr(lr)
        if not 0.0 <= momentum < 1.0:
            raise ConfigError(f"momentum={momentum!r} must be in [0, 1)", hint="e.g. 0.9, or 0 for none")
        self.momentum = float(momentum)
        self._w, self._g = pack(self.params)
        self._v = np.zeros_like(self._w) if momentum else None
        self._tmp = np.empty_like(self._w)

    def zero_grad(self) -> None:
        self._g.fill(0)

    def step(self) -> None:
        direction = self._g
        if self._v is not None:
            self._v *= self.momentum  # v = momentum v + g
            self._v += self._g
            direction = self._v
        np.multiply(direction, self.lr, out=self._tmp)  # w -= lr v
        self._w -= self._tmp

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr:g}, momentum={self.momentum:g})"


class Adam:
    """Adam: per-coordinate steps ``lr * m_hat / (sqrt(v_hat) + eps)`` from bias-corrected running
    means of the gradient (``m``) and of its square (``v``)."""

    def __init__(
        self,
        params: Iterable[Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ):
        self.params = list(params)
        self.lr = _check_lr(lr)
        beta1, beta2 = betas
        if not (0.0 <= beta1 < 1.0 and 0.0 <= beta2 < 1.0):
            raise ConfigError(f"betas={betas!r} must both be in [0, 1)", hint="e.g. (0.9, 0.999)")
        self.betas = (float(beta1), float(beta2))
        self.eps = float(eps)
        self.t = 0
        self._w, self._g = pack(self.params)
        self._m = np.zeros_like(self._w)
        self._v = np.zeros_like(self._w)
        self._tmp = np.empty_like(self._w)

    def zero_grad(self) -> None:
        self._g.fill(0)

    def step(self) -> None:
        beta1, beta2 = self.betas
        self.t += 1
        bias1 = 1.0 - beta1**self.t
        root_bias2 = math.sqrt(1.0 - beta2**self.t)
        step_size = self.lr / bias1
        eps = self.eps * root_bias2  # sqrt(v_hat) + eps == (sqrt(v) + eps * root_bias2) / root_bias2
        g, m, v, tmp = self._g, self._m, self._v, self._tmp
        np.multiply(g, 1.0 - beta1, out=tmp)  # m = beta1 m + (1 - beta1) g
        m *= beta1
        m += tmp
        np.multiply(g, g, out=tmp)  # v = beta2 v + (1 - beta2) g^2
        tmp *= 1.0 - beta2
        v *= beta2
        v += tmp
        np.sqrt(v, out=tmp)  # w -= lr m_hat / (sqrt(v_hat) + eps)
        tmp += eps
        np.divide(m, tmp, out=tmp)
        tmp *= step_size * root_bias2
        self._w -= tmp

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr:g}, betas={self.betas}, eps={self.eps:g})"


# --------------------------------------------------------------------------------------------------
# Learning-rate schedules
# --------------------------------------------------------------------------------------------------


class Schedule:
    """Base class: ``lr_at(epoch)`` for 0-based epochs, from the starting rate ``lr``."""

    lr: float | None

    def with_lr(self, lr: float) -> Schedule:
        """This schedule starting from ``lr`` if it has none of its own."""
        return self if self.lr is not None else dataclasses.replace(self, lr=lr)

    def _base(self) -> float:
        if self.lr is None:
            raise ConfigError(
                f"{self!r} has no starting learning rate",
                hint="pass lr=..., or let fit() take the optimiser's learning rate",
            )
        return self.lr

    def lr_at(self, epoch: int) -> float:  # pragma: no cover - interface
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Constant(Schedule):
    """The same rate every epoch."""

    lr: float | None = None

    def lr_at(self, epoch: int) -> float:
        return self._base()


@dataclasses.dataclass(frozen=True)
class StepDecay(Schedule):
    """``lr * gamma ** (epoch // step_size)``: e.g. halved (gamma 0.5) every ``step_size`` epochs."""

    step_size: int = 10
    gamma: float = 0.5
    lr: float | None = None

    def __post_init__(self):
        if int(self.step_size) < 1:
            raise ConfigError(f"step_size={self.step_size!r} must be at least 1", hint="e.g. 10 epochs")
        if not 0.0 < self.gamma <= 1.0:
            raise ConfigError(f"gamma={self.gamma!r} must be in (0, 1]", hint="e.g. 0.5 to halve")

    def lr_at(self, epoch: int) -> float:
        return self._base() * self.gamma ** (epoch // self.step_size)


@dataclasses.dataclass(frozen=True)
class CosineWarmRestarts(Schedule):
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017)::

        lr_at(e) = eta_min + (lr - eta_min) * (1 + cos(pi * t / T)) / 2

    where ``t`` counts epochs since the last restart and ``T`` is the current cycle length: ``T_0``,
    then ``T_0 * T_mult``, ``T_0 * T_mult**2``, ... The rate falls from ``lr`` towards ``eta_min``
    and jumps back to ``lr`` at epochs ``T_0``, ``T_0 * (1 + T_mult)``, ...
    """

    T_0: int = 10
    T_mult: int = 1
    eta_min: float = 0.0
    lr: float | None = None

    def __post_init__(self):
        if int(self.T_0) < 1 or int(self.T_mult) < 1:
            raise ConfigError(
                f"T_0={self.T_0!r} and T_mult={self.T_mult!r} must be integers of at least 1",
                hint="e.g. T_0=10, T_mult=2",
            )
        if self.eta_min < 0:
            raise ConfigError(f"eta_min={self.eta_min!r} must be non-negative")

    def cycle(self, epoch: int) -> tuple[int, int]:
        """(epochs since the last restart, length of the current cycle)."""
        t, length = int(epoch), int(self.T_0)
        while t >= length:
            t -= length
            length *= int(self.T_mult)
        return t, length

    def lr_at(self, epoch: int) -> float:
        t, length = self.cycle(epoch)
        lr = self._base()
        return self.eta_min + (lr - self.eta_min) * (1.0 + math.cos(math.pi * t / length)) / 2.0


# --------------------------------------------------------------------------------------------------
# Gradient clipping
# --------------------------------------------------------------------------------------------------


def grad_norm(params: Iterable[Parameter]) -> float:
    """Global L2 norm of all gradients, as if concatenated into one vector."""
    return math.sqrt(sum(float(np.vdot(p.grad, p.grad)) for p in params))


def clip_grad_norm(params: Iterable[Parameter], max_norm: float) -> float:
    """Scale all gradients by ``max_norm / norm`` if their global norm exceeds ``max_norm``.

    Returns the norm before clipping. Gradients with norm at most ``max_norm`` are left untouched;
    clipped ones have global norm ``max_norm`` (up to rounding).
    """
    params = list(params)
    total = grad_norm(params)
    if total > max_norm:
        scale = max_norm / total
        for p in params:
            p.grad *= scale
    return total
