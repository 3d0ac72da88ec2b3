"""scikit-learn-style estimators on the project's gradient-descent core.

:class:`MLPRegressor` and :class:`MLPClassifier` are multi-layer perceptrons; :class:`LinearRegressionGD`
and :class:`LogisticRegressionGD` are the same machinery with no hidden layer, which makes the core
checkable against closed forms (weighted least squares, scikit-learn's unpenalised logistic
regression).

Inputs must be numeric and **scaled**: neural networks are very sensitive to the scale of the data
(the lecture: centre around 0, keep most values between -1 and 1). Put a
:class:`~sklearn.preprocessing.StandardScaler` (or a ColumnTransformer that scales) in front of these
estimators in a :class:`~sklearn.pipeline.Pipeline`; they do not scale anything themselves.

The estimators follow scikit-learn's conventions: ``__init__`` only stores its arguments, all
validation happens once at the top of ``fit``, ``fit(X, y, sample_weight=None)`` returns ``self``
and learned state ends in ``_``. Survey weights reach ``fit`` through a Pipeline with
``set_fit_request(sample_weight=True)`` under metadata routing, or ``pipe.fit(..., model__sample_weight=w)``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from ..core.errors import ConfigError, DataError
from .layers import (
    ACTIVATIONS,
    DTYPES,
    INITS,
    Dense,
    Identity,
    Module,
    Sequential,
    resolve_dtype,
)
from .losses import BinaryLogLoss, MSELoss
from .optim import SGD, Adam, Constant, CosineWarmRestarts, Schedule, StepDecay
from .train import History, check_data, fit

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("constant", "step", "cosine")
#: rows per forward pass in predict (bounds the memory of hidden activations)
PREDICT_CHUNK = 65_536


def _choice(name: str, value, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ConfigError(
            f"{name}={value!r} is not one of {', '.join(map(repr, allowed))}",
            hint=f"set {name} to one of {', '.join(allowed)}",
        )
    return value


def _number(name: str, value, *, integer: bool = False, low=None, high=None, low_open=False,
            allow_none: bool = False, hint: str | None = None):
    """``value`` checked to be a (finite) number within bounds, else a ConfigError naming it."""
    if value is None and allow_none:
        return None
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not np.isfinite(value):
        what = "an integer" if integer else "a number"
        raise ConfigError(f"{name}={value!r} must be {what}" + (" or None" if allow_none else ""), hint=hint)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and value > high
    if too_low or too_high:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
        hi = "" if high is None else f"<= {high}"
        raise ConfigError(f"{name}={value!r} must be {' and '.join(b for b in (lo, hi) if b)}", hint=hint)
    return int(value) if integer else float(value)


class _GDEstimator(BaseEstimator):
    """Shared fit/predict machinery; subclasses set the loss, output layer and target coding."""

    # ---- configuration -------------------------------------------------------------------------

    def _hidden_sizes(self) -> tuple[int, ...]:
        return ()

    def _validate(self) -> dict:
        """All hyperparameters checked once, resolved into plain values."""
        hidden = self._hidden_sizes()
        activation = _choice("activation", getattr(self, "activation", "identity"), tuple(ACTIVATIONS))
        optimizer = _choice("optimizer", self.optimizer, OPTIMIZERS)
        lr = _number("learning_rate", self.learning_rate, low=0, low_open=True, hint="e.g. 1e-3 for Adam")
        momentum = _number("momentum", self.momentum, low=0, high=0.999)
        batch_size = _number("batch_size", self.batch_size, integer=True, low=1, allow_none=True,
                             hint="a positive number of rows, e.g. 64, or None for full batch")
        epochs = _number("epochs", self.epochs, integer=True, low=1, hint="e.g. 100")
        l2 = _number("l2", self.l2, low=0, hint="0 for no penalty, e.g. 1e-4")
        clip_norm = _number("clip_norm", self.clip_norm, low=0, low_open=True, allow_none=True,
                            hint="e.g. 1.0, or None for no clipping")
        if not isinstance(self.early_stopping, (bool, np.bool_)):
            raise ConfigError(f"early_stopping={self.early_stopping!r} must be True or False")
        fraction = _number("validation_fraction", self.validation_fraction, low=0, high=0.5,
                           low_open=True, hint="e.g. 0.1")
        patience = _number("patience", self.patience, integer=True, low=1, hint="e.g. 10 epochs")
        init = _choice("init", self.init, INITS)
        if isinstance(self.dtype, str):
            _choice("dtype", self.dtype, DTYPES)
        dtype = resolve_dtype(self.dtype)
        schedule = self.schedule
        if schedule is None or isinstance(schedule, str):
            kind = _choice("schedule", schedule or "constant", SCHEDULES)
            schedule = {
                "constant": Constant(),
                "step": StepDecay(step_size=max(1, epochs // 4), gamma=0.5),
                "cosine": CosineWarmRestarts(T_0=max(1, epochs // 7), T_mult=2),
            }[kind]
        elif not isinstance(schedule, Schedule):
            raise ConfigError(
                f"schedule={schedule!r} is not a learning-rate schedule",
                hint=f"use None, one of {SCHEDULES}, or a Constant/StepDecay/CosineWarmRestarts",
            )
        return dict(hidden=hidden, activation=activation, optimizer=optimizer, lr=lr, momentum=momentum,
                    batch_size=batch_size, epochs=epochs, l2=l2, clip_norm=clip_norm,
                    early_stopping=bool(self.early_stopping), validation_fraction=fraction,
                    patience=patience, init=init, dtype=dtype, schedule=schedule)

    # ---- pieces subclasses change --------------------------------------------------------------

    def _loss(self):
        return MSELoss()

    def _encode_target(self, y: np.ndarray) -> np.ndarray:
        """The numeric training target (regressors: y as given)."""
        try:
            return np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise DataError("y must be numeric for a regressor", hint="use a classifier for labels") from error

    # ---- fit / predict --------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Fit on numeric, already-scaled ``X`` (rows x features) and ``y``; ``sample_weight`` are
        survey weights (each mini-batch's loss is their weighted mean). Returns self."""
        cfg = self._validate()
        if hasattr(X, "toarray"):  # a scipy sparse matrix, e.g. from a one-hot ColumnTransformer
            X = X.toarray()
        target = self._encode_target(y)
        X, target, w = check_data(X, target, sample_weight, cfg["dtype"])
        rng = np.random.default_rng(self.random_state)
        init_rng, split_rng, shuffle_rng = rng.spawn(3)

        n, n_features = X.shape
        X_val = y_val = w_val = None
        if cfg["early_stopping"]:
            n_val = max(1, round(cfg["validation_fraction"] * n))
            if n - n_val < 1:
                raise DataError(
                    f"{n} rows are too few to hold out a validation set",
                    hint="set early_stopping=False or pass more rows",
                )
            order = split_rng.permutation(n)
            val, train = order[:n_val], order[n_val:]
            X_val, y_val = X[val], target[val]
            w_val = w[val] if w is not None else None
            X, target = X[train], target[train]
            w = w[train] if w is not None else None

        self.model_ = self._build(n_features, target.shape[1], cfg, init_rng)
        params = self.model_.parameters()
        if cfg["optimizer"] == "adam":
            optimizer = Adam(params, lr=cfg["lr"])
        else:
            optimizer = SGD(params, lr=cfg["lr"], momentum=cfg["momentum"])
        self.history_: History = fit(
            self.model_, self._loss(), optimizer, X, target, w,
            epochs=cfg["epochs"], batch_size=cfg["batch_size"], schedule=cfg["schedule"],
            rng=shuffle_rng, X_val=X_val, y_val=y_val, w_val=w_val,
            early_stopping_patience=cfg["patience"] if cfg["early_stopping"] else None,
            clip_norm=cfg["clip_norm"], l2=cfg["l2"],
        )
        self.n_features_in_ = n_features
        self.n_outputs_ = target.shape[1]
        self.n_parameters_ = self.model_.n_parameters()
        self.n_epochs_ = self.history_.n_epochs
        return self

    def _build(self, n_in: int, n_out: int, cfg: dict, rng: np.random.Generator) -> Sequential:
        layers: list[Module] = []
        width = n_in
        for size in cfg["hidden"]:
            layers += [Dense(width, size, init=cfg["init"], rng=rng, dtype=cfg["dtype"]),
                       ACTIVATIONS[cfg["activation"]]()]
            width = size
        layers += [Dense(width, n_out, init=cfg["init"], rng=rng, dtype=cfg["dtype"]), Identity()]
        return Sequential(*layers)

    def _forward(self, X) -> np.ndarray:
        """The network's raw output (regression values or logits), shape (n, n_outputs_)."""
        if not hasattr(self, "model_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit first")
        if hasattr(X, "toarray"):
            X = X.toarray()
        X, _, _ = check_data(X, np.zeros(len(X)), None, self.model_.dtype)
        if X.shape[1] != self.n_features_in_:
            raise DataError(
                f"X has {X.shape[1]} features but the model was fitted on {self.n_features_in_}",
                hint="pass the same columns as in fit",
            )
        out = np.concatenate(
            [self.model_.forward(X[lo : lo + PREDICT_CHUNK]) for lo in range(0, X.shape[0], PREDICT_CHUNK)]
        )
        self.model_.clear_cache()
        return out


class _RegressorBase(RegressorMixin, _GDEstimator):
    def predict(self, X) -> np.ndarray:
        """Predicted values, shape (n,) (or (n, k) for k targets)."""
        out = self._forward(X).astype(np.float64)
        return out[:, 0] if self.n_outputs_ == 1 and not self._multi_ else out

    def _encode_target(self, y):
        target = super()._encode_target(y)
        self._multi_ = target.ndim == 2
        return target


class _ClassifierBase(ClassifierMixin, _GDEstimator):
    def _loss(self):
        return BinaryLogLoss()

    def _encode_target(self, y):
        y = np.asarray(y)
        if y.ndim != 1:
            y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
        if y.ndim != 1:
            raise DataError(f"y must be one label per row, got shape {y.shape}")
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise DataError("y contains NaN labels", hint="drop rows with a missing outcome")
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) != 2:
            raise DataError(
                f"y has {len(classes)} distinct class(es) ({', '.join(map(str, classes[:5]))}); "
                "this classifier needs exactly 2",
                hint="binarise the outcome (e.g. the low-income flag)",
            )
        self.classes_ = classes
        return codes.astype(np.float64)

    def decision_function(self, X) -> np.ndarray:
        """The logit of class ``classes_[1]``, shape (n,)."""
        return self._forward(X)[:, 0].astype(np.float64)

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of ``classes_[0]`` and ``classes_[1]``, shape (n, 2)."""
        z = self.decision_function(X)
        e = np.exp(-np.abs(z))
        p1 = np.where(z >= 0, 1.0, e) / (1.0 + e)
        return np.column_stack([1.0 - p1, p1])

    def predict(self, X) -> np.ndarray:
        """The class with probability >= 0.5 (logit >= 0)."""
        return self.classes_[(self.decision_function(X) >= 0).astype(int)]


_MLP_PARAMS = """
    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (32,)
        Neurons per hidden layer.
    activation : {"relu", "tanh", "sigmoid", "identity"}, default "relu"
    optimizer : {"adam", "sgd"}, default "adam"
    learning_rate : float, default 1e-3
        Starting learning rate (the schedule's ``lr`` unless the schedule sets its own).
    momentum : float, default 0.9
        Heavy-ball momentum, used by ``optimizer="sgd"`` only.
    batch_size : int or None, default 64
        Rows per gradient step; None for full-batch gradient descent.
    epochs : int, default 100
        Maximum number of passes over the training rows.
    schedule : None, "constant", "step", "cosine" or a Schedule, default None (constant)
        "step" halves the rate every ``epochs // 4`` epochs; "cosine" is cosine annealing with warm
        restarts (``T_0 = epochs // 7``, ``T_mult = 2``).
    l2 : float, default 0.0
        L2 penalty ``0.5 * l2 * sum ||W||^2`` on weights (not biases).
    clip_norm : float or None, default None
        Clip the global gradient norm of each step to this value.
    early_stopping : bool, default True
        Hold out ``validation_fraction`` of the rows (at random), stop after ``patience`` epochs
        without a lower weighted validation loss, and keep the best epoch's parameters.
    validation_fraction : float, default 0.1
    patience : int, default 10
    init : {"pytorch", "he", "xavier"}, default "pytorch"
        Weight initialisation (see :class:`~policyml.nn.layers.Dense`).
    dtype : {"float32", "float64"}, default "float32"
    random_state : int, Generator or None, default 0
        Seeds the initial weights, the validation split and the shuffling.

    Attributes
    ----------
    model_ : Sequential
        The fitted network.
    history_ : History
        Per-epoch losses, learning rates and times.
    n_parameters_, n_epochs_, n_features_in_ : int
"""


class _MLPParams:
    """The MLP hyperparameters (shared by the regressor and the classifier)."""

    def __init__(
        self,
        hidden_layer_sizes=(32,),
        activation="relu",
        optimizer="adam",
        learning_rate=1e-3,
        momentum=0.9,
        batch_size=64,
        epochs=100,
        schedule=None,
        l2=0.0,
        clip_norm=None,
        early_stopping=True,
        validation_fraction=0.1,
        patience=10,
        init="pytorch",
        dtype="float32",
        random_state=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.epochs = epochs
        self.schedule = schedule
        self.l2 = l2
        self.clip_norm = clip_norm
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.init = init
        self.dtype = dtype
        self.random_state = random_state

    def _hidden_sizes(self):
        return _hidden_sizes(self.hidden_layer_sizes)


class MLPRegressor(_MLPParams, _RegressorBase):
    __doc__ = (
        """Multi-layer perceptron regressor trained on (weighted) mean squared error.

    ``X`` must be numeric and scaled (a Pipeline with StandardScaler in front).
    """
        + _MLP_PARAMS
    )


class MLPClassifier(_MLPParams, _ClassifierBase):
    __doc__ = (
        """Multi-layer perceptron for a binary outcome, trained on the (weighted) log-loss of the
    output logit; ``predict_proba`` applies the sigmoid.

    ``X`` must be numeric and scaled (a Pipeline with StandardScaler in front).
    """
        + _MLP_PARAMS
    )


def _hidden_sizes(value) -> tuple[int, ...]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    try:
        sizes = tuple(value)
    except TypeError as error:
        raise ConfigError(
            f"hidden_layer_sizes={value!r} must be a tuple of positive integers", hint="e.g. (32,) or (64, 32)"
        ) from error
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ConfigError(
                f"hidden_layer_sizes={value!r} must be a tuple of positive integers, got {size!r}",
                hint="e.g. (32,) or (64, 32)",
            )
    return tuple(int(s) for s in sizes)


_LINEAR_PARAMS = """
    Parameters
    ----------
    optimizer : {"sgd", "adam"}, default "sgd"
    learning_rate : float, default 0.1
    momentum : float, default 0.9
        Heavy-ball momentum for ``optimizer="sgd"``.
    batch_size : int or None, default None
        None is full-batch gradient descent, which converges to the exact optimum.
    epochs : int, default 500
    schedule, l2, clip_norm, early_stopping (default False), validation_fraction, patience, init,
    dtype, random_state
        As for :class:`MLPRegressor`.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
    intercept_ : float
    model_, history_, n_parameters_, n_epochs_, n_features_in_
"""


class _LinearMixin:
    """No hidden layer: one Dense layer whose weights and bias are ``coef_`` and ``intercept_``."""

    def __init__(
        self,
        optimizer="sgd",
        learning_rate=0.1,
        momentum=0.9,
        batch_size=None,
        epochs=500,
        schedule=None,
        l2=0.0,
        clip_norm=None,
        early_stopping=False,
        validation_fraction=0.1,
        patience=10,
        init="pytorch",
        dtype="float32",
        random_state=0,
    ):
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.batch_size = batch_size
        self.epochs = epochs
        self.schedule = schedule
        self.l2 = l2
        self.clip_norm = clip_norm
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.init = init
        self.dtype = dtype
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        """Fit on numeric, already-scaled ``X``; ``sample_weight`` are survey weights. Returns self."""
        super().fit(X, y, sample_weight)
        dense = self.model_[0]
        self.coef_ = dense.W.value[:, 0].astype(np.float64)
        self.intercept_ = float(dense.b.value[0])
        return self


class LinearRegressionGD(_LinearMixin, _RegressorBase):
    __doc__ = (
        """Linear regression fitted by gradient descent on (weighted) mean squared error: the MLP
    core with no hidden layer and an identity output. ``X`` must be numeric and scaled.
    """
        + _LINEAR_PARAMS
    )


class LogisticRegressionGD(_LinearMixin, _ClassifierBase):
    __doc__ = (
        """Logistic regression fitted by gradient descent on the (weighted) log-loss of the logit:
    the MLP core with no hidden layer. ``X`` must be numeric and scaled.
    """
        + _LINEAR_PARAMS
    )


# --------------------------------------------------------------------------------------------------
# "How many calculations?"
# --------------------------------------------------------------------------------------------------


def cost_per_example(model) -> dict[str, int]:
    """Arithmetic per example of one forward and one backward pass, counted from layer shapes.

    ``model`` is a :class:`Sequential` or a fitted estimator. Counting as the lecture does, each
    weight is one multiply-add and each bias one add, so a forward pass costs one operation per
    parameter (the lecture's 5-5-1 network: 30 + 6 = 36). The backward pass costs one per parameter
    for the parameter gradients plus ``n_in * n_out`` multiply-adds per Dense layer for the gradient
    passed back to its input (not needed for the first layer). Activations are counted separately
    (one evaluation per hidden neuron forward, one derivative backward).

    Returns ``{"parameters", "forward", "backward", "activations", "total"}`` where
    ``total = forward + backward`` (multiply-adds, activations excluded).
    """
    net = model.model_ if hasattr(model, "model_") else model
    if not isinstance(net, Sequential):
        raise ConfigError(f"cost_per_example needs a Sequential or a fitted estimator, got {type(model).__name__}")
    dense = [layer for layer in net if isinstance(layer, Dense)]
    params = sum(d.n_in * d.n_out + d.n_out for d in dense)
    backward = params + sum(d.n_in * d.n_out for d in dense[1:])
    activations = 0
    width = 0
    for layer in net:
        if isinstance(layer, Dense):
            width = layer.n_out
        elif not isinstance(layer, Identity) and layer.n_parameters() == 0:
            activations += width
    return {
        "parameters": params,
        "forward": params,
        "backward": backward,
        "activations": activations,
        "total": params + backward,
    }
