"""Weighted test-set metrics of fitted models, with refit-free replicate-weight standard errors.

A model's predictions on the held-out test households stay fixed; each metric is recomputed under
every column of the ``(n, 81)`` weight matrix of a :class:`~policyml.core.survey.SurveyDesign` (column 0
the full-sample weight, 1..80 the SDR replicate weights). The survey module turns those 81 values
into an estimate with ``SE = sqrt(4/80 * sum_r (m_r - m)^2)``; this module only supplies the
metric values. A difference between two models gets its SE from the 81 paired differences, which
accounts for the correlation between the models' errors.

Metric functions
    Every metric is a function of ``(y_true, prediction, W)`` (classification metrics also take a
    ``threshold``) that returns one value per weight column: shape ``(k,)`` for an ``(n, k)``
    weight matrix, or a float for a weight vector of shape ``(n,)``. Each is vectorised (matrix
    products, or one sort plus cumulative sums for ROC AUC), so the 81 columns cost about as much
    as one. Rows with zero weight do not affect any metric, so the functions work unchanged on a
    domain design (``design.domain(mask).matrix``). Values must be finite. A metric that is
    undefined for a column (e.g. precision with no predicted positive) is NaN, without warnings.
Classification
    ``y_true`` is the low-income flag (1 = low income, the positive class of the targeting
    framing), ``score`` the predicted probability of the positive class. A case is predicted
    positive when ``score >= threshold``.
Evaluation table
    :func:`evaluate` returns one row per (model, metric), then, with a ``baseline``, one row per
    (model, metric) for each other model's difference from the baseline. See its docstring.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..core.errors import ConfigError, DataError
from ..core.survey import Estimate, SurveyDesign, as_vector, safe_divide

#: Columns of the table returned by :func:`evaluate`, in order.
EVALUATION_COLUMNS = (
    "model",
    "baseline",
    "metric",
    "estimate",
    "se",
    "moe90",
    "cv",
    "n",
    "reliable",
    "reason",
)

#: Columns of the table returned by :func:`calibration_table`, in order.
CALIBRATION_COLUMNS = (
    "bin",
    "lower",
    "upper",
    "n",
    "weight_share",
    "mean_predicted",
    "observed_rate",
)

#: ``mae_dollars`` exponentiates log income; larger values cannot be log income (e^50 ~ 5e21).
MAX_LOG_INCOME = 50.0

Task = Literal["regression", "classification"]


# --------------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------------


def _vector(values: Any, what: str) -> np.ndarray:
    """A float64 vector (pandas NA as NaN), one-dimensional."""
    vector = as_vector(values, what)
    if vector.ndim != 1:
        raise DataError(
            f"{what} must be one-dimensional, got shape {vector.shape}",
            "pass one value per record (for classifiers the positive-class probability, "
            "e.g. predict_proba(X)[:, 1])",
        )
    return vector


def _sqrt(values: np.ndarray) -> np.ndarray:
    """Square root, NaN for negative or NaN input (no RuntimeWarning)."""
    result = np.full(values.shape, np.nan)
    np.sqrt(values, out=result, where=values >= 0)
    return result


def _weighted_mean(values: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weighted mean of ``values`` under each weight column; NaN for a zero total weight."""
    return safe_divide(values @ W, W.sum(axis=0))


def _per_weight_column(metric: Callable[..., np.ndarray]) -> Callable[..., Any]:
    """Check the inputs of a metric and let it take a weight matrix or a single weight vector.

    The wrapped metric receives float64 vectors and an ``(n, k)`` matrix; a weight vector of
    shape ``(n,)`` is evaluated as one column and the result returned as a float.
    """

    @functools.wraps(metric)
    def wrapper(y_true: Any, prediction: Any, W: Any, *args: Any, **kwargs: Any) -> Any:
        y = _vector(y_true, "y_true")
        predicted = _vector(prediction, "predictions")
        W = np.asarray(W, dtype=np.float64)
        single = W.ndim == 1
        matrix = W[:, None] if single else W
        if matrix.ndim != 2 or not (y.shape[0] == predicted.shape[0] == matrix.shape[0]):
            raise DataError(
                f"y_true ({y.shape[0]} values), predictions ({predicted.shape[0]} values) and "
                f"weights (shape {W.shape}) must have the same number of records",
                "pass one value and one row of weights per record, in the same order",
            )
        result = metric(y, predicted, matrix, *args, **kwargs)
        return float(result[0]) if single else result

    return wrapper


# --------------------------------------------------------------------------------------------------
# Regression metrics: (y_true, y_pred, W) -> one value per weight column
# --------------------------------------------------------------------------------------------------


@_per_weight_column
def rmse(y_true: Any, y_pred: Any, W: Any) -> np.ndarray:
    """Weighted root mean squared error ``sqrt(sum w (y - yhat)^2 / sum w)``."""
    return _sqrt(_weighted_mean((y_true - y_pred) ** 2, W))


@_per_weight_column
def mae(y_true: Any, y_pred: Any, W: Any) -> np.ndarray:
    """Weighted mean absolute error ``sum w |y - yhat| / sum w``."""
    return _weighted_mean(np.abs(y_true - y_pred), W)


@_per_weight_column
def r2(y_true: Any, y_pred: Any, W: Any) -> np.ndarray:
    """Weighted coefficient of determination ``1 - sum w (y - yhat)^2 / sum w (y - ybar_w)^2``.

    ``ybar_w`` is the weighted mean of ``y_true`` under the same weight column. NaN when
    ``y_true`` has no weighted variance (scikit-learn would return 0 or 1 instead).
    """
    residual = (y_true - y_pred) ** 2 @ W
    totals = W.sum(axis=0)
    # Centre on the full-sample mean first: the one-pass variance formula then has no cancellation.
    full = W[:, 0]
    centre = float(y_true @ full / full.sum()) if full.sum() != 0 else float(y_true.mean())
    centred = y_true - centre
    variation = centred**2 @ W - safe_divide((centred @ W) ** 2, totals)
    return 1.0 - safe_divide(residual, np.where(totals != 0, variation, 0.0))


@_per_weight_column
def bias(y_true: Any, y_pred: Any, W: Any) -> np.ndarray:
    """Weighted mean error ``sum w (yhat - y) / sum w`` (positive: the model over-predicts)."""
    return _weighted_mean(y_pred - y_true, W)


@_per_weight_column
def mae_dollars(y_true: Any, y_pred: Any, W: Any) -> np.ndarray:
    """Weighted mean absolute error in dollars, ``sum w |exp(y) - exp(yhat)| / sum w``.

    For a model of log income; values too large to exponentiate give inf (no warning).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        errors = np.abs(np.exp(y_true) - np.exp(y_pred))
    return _weighted_mean(errors, W)


# --------------------------------------------------------------------------------------------------
# Classification metrics: (y_true, score, W, threshold) -> one value per weight column
# --------------------------------------------------------------------------------------------------


def _confusion(
    y_true: np.ndarray, score: np.ndarray, W: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted true positives, false positives, false negatives, true negatives per column."""
    actual = y_true == 1
    predicted = score >= threshold
    indicators = np.stack(
        [actual & predicted, ~actual & predicted, actual & ~predicted, ~actual & ~predicted]
    ).astype(np.float64)
    tp, fp, fn, tn = indicators @ W
    return tp, fp, fn, tn


@_per_weight_column
def roc_auc(y_true: Any, score: Any, W: Any, threshold: float = 0.5) -> np.ndarray:
    """Weighted area under the ROC curve (``threshold`` is ignored).

    Equals the weighted probability that a random positive scores above a random negative, ties
    counting one half. Sorts the scores once, cumulates weighted positives and negatives for all
    columns, and integrates by the trapezoid rule over distinct scores. NaN when a column has no
    positive or no negative weight.
    """
    rows = np.flatnonzero(np.any(W != 0, axis=1))  # zero-weight rows cannot change the curve
    if rows.size == 0:
        return np.full(W.shape[1], np.nan)
    order = rows[np.argsort(-score[rows], kind="stable")]  # highest score first
    sorted_score = score[order]
    cumulative_all = W[order]  # gathered copy, cumulated in place
    cumulative_positive = np.where((y_true[order] == 1)[:, None], cumulative_all, 0.0)
    np.cumsum(cumulative_positive, axis=0, out=cumulative_positive)
    np.cumsum(cumulative_all, axis=0, out=cumulative_all)
    cumulative_negative = np.subtract(cumulative_all, cumulative_positive, out=cumulative_all)
    # One ROC point per distinct score: the end of each run of tied scores, after the origin.
    last_of_run = np.append(sorted_score[1:] != sorted_score[:-1], True)
    start = np.zeros((1, W.shape[1]))
    true_positive = np.concatenate([start, cumulative_positive[last_of_run]])
    false_positive = np.concatenate([start, cumulative_negative[last_of_run]])
    area = (np.diff(false_positive, axis=0) * (true_positive[1:] + true_positive[:-1])).sum(0) / 2
    return safe_divide(area, true_positive[-1] * false_positive[-1])


@_per_weight_column
def precision(y_true: Any, score: Any, W: Any, threshold: float = 0.5) -> np.ndarray:
    """Weighted precision: share of predicted positives that are positive (NaN if none)."""
    tp, fp, _, _ = _confusion(y_true, score, W, threshold)
    return safe_divide(tp, tp + fp)


@_per_weight_column
def recall(y_true: Any, score: Any, W: Any, threshold: float = 0.5) -> np.ndarray:
    """Weighted recall (true positive rate): share of positives predicted positive."""
    tp, _, fn, _ = _confusion(y_true, score, W, threshold)
    return safe_divide(tp, tp + fn)


@_per_weight_column
def f1(y_true: Any, score: Any, W: Any, threshold: float = 0.5) -> np.ndarray:
    """Weighted F1 score ``2 TP / (2 TP + FP + FN)``, the harmonic mean of precision and recall."""
    tp, fp, fn, _ = _confusion(y_true, score, W, threshold)
    return safe_divide(2 * tp, 2 * tp + fp + fn)


@_per_weight_column
def accuracy(y_true: Any, score: Any, W: Any, threshold: float = 0.5) -> np.ndarray:
    """Weighted share of cases classified correctly."""
    tp, fp, fn, tn = _confusion(y_true, score, W, threshold)
    return safe_divide(tp + tn, tp + fp + fn + tn)


@_per_weight_column
def false_positive_rate(y_true: Any, score: Any, W: Any, threshold: float = 0.5) -> np.ndarray:
    """Weighted share of negatives predicted positive (assistance to non-low-income households)."""
    _, fp, _, tn = _confusion(y_true, score, W, threshold)
    return safe_divide(fp, fp + tn)


@_per_weight_column
def false_negative_rate(y_true: Any, score: Any, W: Any, threshold: float = 0.5) -> np.ndarray:
    """Weighted share of positives predicted negative (low-income households missed)."""
    tp, _, fn, _ = _confusion(y_true, score, W, threshold)
    return safe_divide(fn, tp + fn)


@_per_weight_column
def selection_rate(y_true: Any, score: Any, W: Any, threshold: float = 0.5) -> np.ndarray:
    """Weighted share of cases predicted positive (``y_true`` only fixes the length)."""
    return _weighted_mean((score >= threshold).astype(np.float64), W)


@_per_weight_column
def brier_score(y_true: Any, score: Any, W: Any, threshold: float = 0.5) -> np.ndarray:
    """Weighted Brier score ``sum w (score - y)^2 / sum w`` (``threshold`` is ignored)."""
    return _weighted_mean((score - y_true) ** 2, W)


# --------------------------------------------------------------------------------------------------
# Registries
# --------------------------------------------------------------------------------------------------

#: Regression metrics by name, in table order; each ``f(y_true, y_pred, W)``.
REGRESSION_METRICS: dict[str, Callable[..., Any]] = {
    "rmse": rmse,
    "mae": mae,
    "r2": r2,
    "bias": bias,
    "mae_dollars": mae_dollars,
}

#: Classification metrics by name, in table order; each ``f(y_true, score, W, threshold=0.5)``.
CLASSIFICATION_METRICS: dict[str, Callable[..., Any]] = {
    "roc_auc": roc_auc,
    "precision": precision,
    "recall": recall,
    "f1": f1,
    "accuracy": accuracy,
    "false_positive_rate": false_positive_rate,
    "false_negative_rate": false_negative_rate,
    "selection_rate": selection_rate,
    "brier": brier_score,
}

#: Signed metrics can be near zero, where a CV says nothing about precision: not judged by CV.
SIGNED_METRICS = frozenset({"bias"})

#: Cases behind a classification metric, from (actual positive, predicted positive) masks.
_METRIC_CASES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "precision": lambda actual, predicted: predicted,
    "recall": lambda actual, predicted: actual,
    "f1": lambda actual, predicted: actual | predicted,
    "false_positive_rate": lambda actual, predicted: ~actual,
    "false_negative_rate": lambda actual, predicted: actual,
}

#: Why a metric can be undefined on the full sample, for the ``reason`` column.
_UNDEFINED_BECAUSE = {
    "r2": "y_true has no weighted variance",
    "precision": "no case is predicted positive at the threshold",
    "roc_auc": "y_true has a single class",
}


# --------------------------------------------------------------------------------------------------
# Evaluation table
# --------------------------------------------------------------------------------------------------


def evaluate(
    design: SurveyDesign,
    y_true: Any,
    predictions: Mapping[str, Any],
    task: Task,
    threshold: float = 0.5,
    baseline: str | None = None,
    metrics: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Return a tidy table of test metrics with replicate-weight SEs for several models.

    Parameters
    ----------
    design : SurveyDesign
        Weights of the test records (a domain design evaluates a subpopulation).
    y_true : array-like, shape (n,)
        Outcome: log income (regression) or the 0/1 low-income flag (classification).
    predictions : mapping of str to array-like, shape (n,)
        Model name -> predictions (regression) or positive-class probabilities (classification),
        in the design's row order.
    task : {"regression", "classification"}
        Selects :data:`REGRESSION_METRICS` or :data:`CLASSIFICATION_METRICS`.
    threshold : float
        Decision threshold of the classification metrics (predicted positive: ``score >= t``).
    baseline : str, optional
        A model name; adds rows for each other model's difference from it.
    metrics : sequence of str, optional
        Names of the metrics to report (in registry order); default all of the task.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`EVALUATION_COLUMNS`: ``model, baseline, metric, estimate, se, moe90, cv, n,
        reliable, reason``. First one row per model (in the given order) and metric (in registry
        order) with ``baseline`` missing (select them with ``table["baseline"].isna()``); then,
        with a baseline, one row per other model and metric with ``baseline`` set and
        ``estimate = metric(model) - metric(baseline)``, its SE from the 81 paired differences.
        ``n`` counts the cases behind the metric (e.g. predicted positives for precision; the
        smaller of the two for a difference). Differences and signed metrics (bias) are judged
        reliable by ``n`` and a defined SE only, not by CV. A metric undefined on the full sample
        (e.g. precision with no predicted positive) gives a row with NaN estimate, ``reliable``
        False and the reason.

    Raises
    ------
    ConfigError
        Unknown task, metric or baseline, or a threshold outside [0, 1].
    DataError
        Length mismatch, missing or infinite values, a non-binary or single-class ``y_true`` or
        scores outside [0, 1] (classification), log incomes too large to exponentiate.
    """
    registry = _registry(task)
    names = _metric_names(registry, metrics)
    y, scores = _validated_inputs(design, y_true, predictions, task, threshold, baseline, names)
    cases = design.matrix[:, 0] > 0
    actual = y == 1

    def metric_values(name: str, prediction: np.ndarray) -> np.ndarray:
        if task == "classification":
            return registry[name](y, prediction, design.matrix, threshold)
        return registry[name](y, prediction, design.matrix)

    def metric_cases(name: str, prediction: np.ndarray) -> int:
        if name in _METRIC_CASES:
            behind = _METRIC_CASES[name](actual, prediction >= threshold)
            return int(np.count_nonzero(cases & behind))
        return design.n

    results: dict[tuple[str, str], tuple[np.ndarray, int]] = {}
    rows = []
    for model, prediction in scores.items():
        for name in names:
            values, n = metric_values(name, prediction), metric_cases(name, prediction)
            results[model, name] = (values, n)
            judge_cv = name not in SIGNED_METRICS
            rows.append(_row(design, model, None, name, values, n, judge_cv))
    if baseline is not None:
        for model in scores:
            if model == baseline:
                continue
            for name in names:
                values, n = results[model, name]
                base_values, base_n = results[baseline, name]
                rows.append(
                    _row(design, model, baseline, name, values - base_values, min(n, base_n), False)
                )
    return pd.DataFrame(rows, columns=list(EVALUATION_COLUMNS))


def _row(
    design: SurveyDesign,
    model: str,
    baseline: str | None,
    metric: str,
    values: np.ndarray,
    n: int,
    judge_cv: bool,
) -> dict[str, Any]:
    """One table row: the SDR estimate of the 81 metric values, or an undefined-metric row."""
    labels = {"model": model, "baseline": baseline, "metric": metric}
    if not math.isfinite(values[0]):
        why = _UNDEFINED_BECAUSE.get(metric, "zero total weight")
        return {
            **labels,
            **dict.fromkeys(("estimate", "se", "moe90", "cv"), math.nan),
            "n": n,
            "reliable": False,
            "reason": f"undefined on the full sample: {why}",
        }
    cv_threshold = design.cv_threshold if judge_cv else math.inf
    estimate = Estimate.from_replicates(values, n, cv_threshold, design.min_n)
    return {**labels, **estimate.to_dict()}


def _registry(task: str) -> dict[str, Callable[..., Any]]:
    if task == "regression":
        return REGRESSION_METRICS
    if task == "classification":
        return CLASSIFICATION_METRICS
    raise ConfigError(
        f"unknown task {task!r}", "use task='regression' or task='classification'"
    )


def _metric_names(registry: Mapping[str, Any], metrics: Sequence[str] | None) -> list[str]:
    if metrics is None:
        return list(registry)
    if isinstance(metrics, str):
        metrics = [metrics]
    unknown = [name for name in metrics if name not in registry]
    if unknown or not metrics:
        raise ConfigError(
            f"unknown metrics for this task: {', '.join(map(repr, unknown)) or '(none given)'}",
            f"choose from {', '.join(registry)}",
        )
    return [name for name in registry if name in metrics]


def _validated_inputs(
    design: SurveyDesign,
    y_true: Any,
    predictions: Mapping[str, Any],
    task: str,
    threshold: float,
    baseline: str | None,
    names: Sequence[str],
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Check every input of :func:`evaluate` once; return y and the predictions as vectors."""
    if not isinstance(design, SurveyDesign):
        raise ConfigError(
            f"design must be a SurveyDesign, got {type(design).__name__}",
            "build it with SurveyDesign.from_frame(test_frame)",
        )
    if isinstance(threshold, bool) or not (
        isinstance(threshold, (int, float, np.floating)) and 0 <= threshold <= 1
    ):
        raise ConfigError(
            f"threshold must be a number between 0 and 1, got {threshold!r}", "use e.g. 0.5"
        )
    if not predictions:
        raise DataError(
            "no predictions to evaluate", "pass a dict of model name -> predictions on the test set"
        )
    if baseline is not None and baseline not in predictions:
        raise ConfigError(
            f"baseline {baseline!r} is not one of the models: {', '.join(map(str, predictions))}",
            "pass baseline=None or the name of one of the models in predictions",
        )
    y = checked_vector(design, y_true, "y_true")
    scores = {
        model: checked_vector(design, values, f"predictions of model {model!r}")
        for model, values in predictions.items()
    }
    if task == "classification":
        _check_classification(design, y, scores)
    elif "mae_dollars" in names:
        named = {"y_true": y, **{f"predictions of model {m!r}": v for m, v in scores.items()}}
        for what, values in named.items():
            largest = float(np.max(np.abs(values)))
            if largest > MAX_LOG_INCOME:
                raise DataError(
                    f"{what} reach {largest:g}, too large for log income (mae_dollars "
                    "exponentiates them)",
                    "model log income (e.g. np.log(HINCP)), or leave out mae_dollars with "
                    "metrics=[...]",
                )
    return y, scores


def checked_vector(design: SurveyDesign, values: Any, what: str) -> np.ndarray:
    """Return values as a float vector with one finite value per design record."""
    vector = _vector(values, what)
    if vector.shape[0] != design.n_records:
        raise DataError(
            f"{what} have {vector.shape[0]} values but the design has {design.n_records} records",
            "pass one value per test record, in the same row order as the design's weights",
        )
    bad = ~np.isfinite(vector)
    if bad.any():
        raise DataError(
            f"{what} have {int(bad.sum())} missing or infinite values "
            f"(first at row {int(np.argmax(bad))})",
            "predict for every test record, and drop records without an outcome from the test "
            "set and its design before evaluating",
        )
    return vector


def _check_classification(
    design: SurveyDesign, y: np.ndarray, scores: Mapping[str, np.ndarray]
) -> None:
    """Require a 0/1 outcome with both classes among the cases, and scores in [0, 1]."""
    unexpected = np.setdiff1d(np.unique(y), [0.0, 1.0])
    if unexpected.size:
        shown = ", ".join(f"{value:g}" for value in unexpected[:5])
        raise DataError(
            f"y_true must be binary (0/1) for classification, found other values: {shown}",
            "encode the low-income flag as 1 = low income, 0 = not low income",
        )
    cases = design.matrix[:, 0] > 0
    positives = int(np.count_nonzero(cases & (y == 1)))
    if positives in (0, design.n):
        only = "1 (low income)" if positives else "0 (not low income)"
        raise DataError(
            f"y_true is {only} for all {design.n} cases of domain {design.name!r}: ROC AUC, "
            "recall and error rates are undefined with a single class",
            "evaluate on a test set (or domain) that contains both classes",
        )
    for model, score in scores.items():
        outside = (score < 0) | (score > 1)
        if outside.any():
            raise DataError(
                f"scores of model {model!r} must be probabilities in [0, 1]: "
                f"{int(outside.sum())} are outside (first at row {int(np.argmax(outside))}: "
                f"{score[np.argmax(outside)]:g})",
                "pass the positive-class probability, e.g. model.predict_proba(X)[:, 1]",
            )


# --------------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------------


def calibration_table(
    y_true: Any, score: Any, weights: Any, n_bins: int = 10
) -> pd.DataFrame:
    """Weighted mean predicted probability against the weighted observed rate, per score bin.

    Parameters
    ----------
    y_true : array-like of 0/1, shape (n,)
        Observed outcome.
    score : array-like in [0, 1], shape (n,)
        Predicted probability of the positive class.
    weights : array-like, shape (n,)
        Non-negative weights (e.g. ``design.weights``); zero-weight records are left out.
    n_bins : int
        Number of equal-width bins; bin ``k`` holds scores in ``[k / n_bins, (k + 1) / n_bins)``,
        the last bin also the score 1.

    Returns
    -------
    pandas.DataFrame
        One row per bin, columns :data:`CALIBRATION_COLUMNS`: ``bin, lower, upper, n`` (records
        with positive weight), ``weight_share`` (of the total weight), ``mean_predicted`` and
        ``observed_rate`` (weighted means; NaN for an empty bin).
    """
    if isinstance(n_bins, bool) or not (isinstance(n_bins, (int, np.integer)) and n_bins >= 1):
        raise ConfigError(f"n_bins must be a positive integer, got {n_bins!r}", "use e.g. 10")
    y = _vector(y_true, "y_true")
    probability = _vector(score, "scores")
    weight = _vector(weights, "weights")
    if not (y.shape == probability.shape == weight.shape):
        raise DataError(
            f"y_true ({y.shape[0]}), scores ({probability.shape[0]}) and weights "
            f"({weight.shape[0]}) must have the same length",
            "pass one value of each per record, in the same order",
        )
    if not np.all(np.isin(y, [0.0, 1.0])):
        raise DataError(
            "y_true must be binary (0/1) for a calibration table",
            "encode the low-income flag as 1 = low income, 0 = not low income",
        )
    if not np.all((probability >= 0) & (probability <= 1)):  # also rejects NaN
        raise DataError(
            "scores must be probabilities in [0, 1] (no missing values)",
            "pass the positive-class probability, e.g. model.predict_proba(X)[:, 1]",
        )
    if not (np.all(np.isfinite(weight)) and np.all(weight >= 0) and weight.sum() > 0):
        raise DataError(
            "weights must be finite, non-negative and not all zero",
            "pass the full-sample weights of the records (e.g. design.weights)",
        )
    bins = np.minimum(np.floor(probability * n_bins).astype(np.int64), n_bins - 1)
    weight_in_bin = np.bincount(bins, weights=weight, minlength=n_bins)
    edges = np.arange(n_bins + 1) / n_bins
    return pd.DataFrame(
        {
            "bin": np.arange(n_bins),
            "lower": edges[:-1],
            "upper": edges[1:],
            "n": np.bincount(bins[weight > 0], minlength=n_bins),
            "weight_share": weight_in_bin / weight.sum(),
            "mean_predicted": safe_divide(
                np.bincount(bins, weights=weight * probability, minlength=n_bins), weight_in_bin
            ),
            "observed_rate": safe_divide(
                np.bincount(bins, weights=weight * y, minlength=n_bins), weight_in_bin
            ),
        },
        columns=list(CALIBRATION_COLUMNS),
    )
