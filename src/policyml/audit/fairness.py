"""Per-group model metrics with survey weights and SDR replicate standard errors.

A fitted model's test-set predictions stay fixed; for every sensitive variable (``"race"``) and
every intersection (``("race", "sex")``) each metric is computed per group

* with the full-sample weight through one fairlearn :class:`~fairlearn.metrics.MetricFrame`
  (weights reach the metric functions only through ``sample_params``), and
* under all 81 weight columns (full sample and 80 SDR replicates) directly with the vectorised
  metric functions of :mod:`policyml.model.metrics` on the group's rows, which gives the replicate values
  behind the standard errors in one matrix product per group and metric.

The two full-sample figures are checked to agree. (Running 81 MetricFrames, one per weight
column, gives the same numbers but costs about 81 times as much.)

Small cells
    ``n`` is the number of sample households in the group (rows with a positive full-sample
    weight). ``n < min_n``: estimate kept, ``reliable`` False, reason ``"only n sample
    households"``. ``n < SUPPRESS_BELOW`` (10): ``suppressed`` True, estimate and SE NaN, with the
    reason. Every level of a sensitive column (all categories of a categorical column, also unused
    ones) gets a row; an empty group has ``n = 0`` and reason ``"no sample households in this
    group"``.

Disparities
    :func:`disparities` summarises each (group variable, metric) over the non-suppressed groups
    with a defined estimate: ``difference = max - min`` and ``ratio = min / max``. Replication
    applies the same estimator under each replicate weight: ``difference_r = max_g m_gr -
    min_g m_gr`` over the same groups, so the SE covers the choice of the extreme groups too.
    Classification adds ``demographic_parity`` (the selection-rate difference) and
    ``equalized_odds`` (fairlearn's definition: the larger of the true-positive-rate difference,
    which equals the false-negative-rate difference, and the false-positive-rate difference).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

from ..core.errors import ConfigError, DataError
from ..core.survey import (
    CV_THRESHOLD,
    MIN_N,
    REPLICATES,
    Z90,
    Estimate,
    SurveyDesign,
    reliability_options,
    sdr_standard_error,
)
from ..model import metrics as M
from ..model.modelling import TaskData, test_scores

#: Groups with fewer sample households are suppressed (estimate NaN).
SUPPRESS_BELOW = 10

#: Label of the overall rows in the ``group`` column.
OVERALL = "All"

#: Separator of intersection labels: ``"race × sex"``, ``"White × Female"``.
CROSS = " × "

REGRESSION_GROUP_METRICS: dict[str, Callable[..., Any]] = {
    "mae": M.mae,
    "bias": M.bias,
    "r2": M.r2,
}
CLASSIFICATION_GROUP_METRICS: dict[str, Callable[..., Any]] = {
    "selection_rate": M.selection_rate,
    "false_negative_rate": M.false_negative_rate,
    "false_positive_rate": M.false_positive_rate,
    "precision": M.precision,
}

#: Columns of :func:`group_metrics`, in order.
GROUP_COLUMNS = (
    "group_variable",
    "group",
    "metric",
    "estimate",
    "se",
    "moe90",
    "n",
    "reliable",
    "reason",
    "suppressed",
)

#: Columns of :func:`disparities`, in order.
DISPARITY_COLUMNS = (
    "group_variable",
    "metric",
    "difference",
    "difference_se",
    "difference_moe90",
    "ratio",
    "ratio_se",
    "max_group",
    "max_estimate",
    "min_group",
    "min_estimate",
    "n_groups",
    "reliable",
    "reason",
)

_UNDEFINED_BECAUSE = {
    "r2": "y_true has no weighted variance in this group",
    "precision": "no household in this group is predicted positive",
    "false_negative_rate": "no positive household in this group",
    "false_positive_rate": "no negative household in this group",
}

#: Replicate values: (group_variable, group, metric) -> 81 values (full sample first).
Replicates = dict[tuple[str, str, str], np.ndarray]


@dataclass(frozen=True)
class GroupMetrics:
    """The tidy per-group table and the 81 metric values behind each of its rows."""

    table: pd.DataFrame
    replicates: Replicates


# --------------------------------------------------------------------------------------------------
# Per-group metrics
# --------------------------------------------------------------------------------------------------


def group_metrics(
    frame: pd.DataFrame,
    y_true: Any,
    prediction: Any,
    weight_prefix: str,
    groups: Sequence[str | tuple[str, ...]],
    task: str,
    **options: Any,
) -> pd.DataFrame:
    """Weighted model metrics per group of each sensitive variable, with SDR standard errors.

    Parameters
    ----------
    frame : pandas.DataFrame
        Test rows with the sensitive columns and the weights ``weight_prefix`` and
        ``f"{weight_prefix}1"`` .. ``f"{weight_prefix}80"``.
    y_true, prediction : array-like or column name
        Outcome and prediction per row (regression: values; classification: 0/1 outcome and
        positive-class probability, predicted positive when ``>= threshold``).
    weight_prefix : str
        ``"WGTP"`` (households) or ``"PWGTP"`` (persons).
    groups : sequence of str or tuple of str
        Sensitive columns (``"race"``) and intersections (``("race", "sex")``, labelled
        ``"race × sex"``).
    task : {"regression", "classification"}
        Regression metrics: mae, bias, r2. Classification: selection_rate, false_negative_rate,
        false_positive_rate, precision.
    **options
        ``threshold`` (classification, 0.5), ``min_n`` (30) and ``cv_threshold`` (0.30) of a
        reliable estimate (bias, a signed metric, is not judged by CV), ``suppress_below``
        (groups with fewer sample households are suppressed, estimate NaN; 10): the keyword
        arguments of :func:`group_metric_values`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`GROUP_COLUMNS`; per group variable the overall rows (``group == "All"``)
        then one row per group and metric. The 81 values behind each row are in
        ``table.attrs["replicates"]`` (used by :func:`disparities`); :func:`group_metric_values`
        returns them explicitly.
    """
    result = group_metric_values(frame, y_true, prediction, weight_prefix, groups, task, **options)
    table = result.table
    table.attrs["replicates"] = result.replicates
    return table


def group_metric_values(
    frame: pd.DataFrame,
    y_true: Any,
    prediction: Any,
    weight_prefix: str,
    groups: Sequence[str | tuple[str, ...]],
    task: str,
    threshold: float = 0.5,
    min_n: int = MIN_N,
    cv_threshold: float = CV_THRESHOLD,
    suppress_below: int = SUPPRESS_BELOW,
) -> GroupMetrics:
    """Like :func:`group_metrics`, returning the table and the replicate values separately."""
    registry = _registry(task)
    if isinstance(suppress_below, bool) or not (
        isinstance(suppress_below, (int, np.integer)) and suppress_below >= 0
    ):
        raise ConfigError(
            f"suppress_below must be a non-negative integer, got {suppress_below!r}", "use e.g. 10"
        )
    if isinstance(threshold, bool) or not (
        isinstance(threshold, (int, float, np.floating)) and 0 <= threshold <= 1
    ):
        raise ConfigError(
            f"threshold must be a number between 0 and 1, got {threshold!r}", "use e.g. 0.5"
        )
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            f"frame must be a pandas DataFrame, got {type(frame).__name__}",
            "pass the test rows with their sensitive columns and weights",
        )
    design = SurveyDesign.from_frame(frame, weight_prefix, cv_threshold=cv_threshold, min_n=min_n)
    matrix = design.matrix
    y = M.checked_vector(design, _column(frame, y_true, "y_true"), "y_true")
    predicted = M.checked_vector(design, _column(frame, prediction, "predictions"), "predictions")
    specs = group_specs(frame, groups)

    def metric(name: str) -> Callable[..., Any]:
        function = registry[name]
        return functools.partial(function, threshold=threshold) if task == "classification" else function

    cases = matrix[:, 0] > 0
    rows: list[dict[str, Any]] = []
    replicates: Replicates = {}
    overall = {name: metric(name)(y, predicted, matrix) for name in registry}
    for label, columns in specs:
        keys, levels = group_keys(frame, columns)
        by_group, mf_overall = _metric_frame(registry, metric, y, predicted, matrix[:, 0], frame, columns)
        for name in registry:
            values = overall[name]
            _check_agreement(mf_overall[name], values[0], label, OVERALL, name)
            rows.append(_row(label, OVERALL, name, values, design.n, min_n, cv_threshold))
            replicates[label, OVERALL, name] = values
        for level in levels:
            rows_in = keys == level
            n = int(np.count_nonzero(rows_in & cases))
            for name in registry:
                if n < suppress_below:
                    rows.append(suppressed_row(label, level, name, n, suppress_below))
                    continue
                values = metric(name)(y[rows_in], predicted[rows_in], matrix[rows_in])
                _check_agreement(by_group.get((level, name), math.nan), values[0], label, level, name)
                rows.append(_row(label, level, name, values, n, min_n, cv_threshold))
                replicates[label, level, name] = values
    table = pd.DataFrame(rows, columns=list(GROUP_COLUMNS))
    return GroupMetrics(table, replicates)


def _registry(task: str) -> dict[str, Callable[..., Any]]:
    if task == "regression":
        return REGRESSION_GROUP_METRICS
    if task == "classification":
        return CLASSIFICATION_GROUP_METRICS
    raise ConfigError(f"unknown task {task!r}", "use task='regression' or task='classification'")


def _column(frame: pd.DataFrame, values: Any, what: str) -> Any:
    """A column of ``frame`` when ``values`` names one, else the values themselves."""
    if isinstance(values, str):
        if values not in frame.columns:
            raise DataError(f"{what} column {values!r} is not in the frame", "pass a column name or values")
        return frame[values]
    return values


def group_specs(
    frame: pd.DataFrame, groups: Sequence[str | tuple[str, ...]]
) -> list[tuple[str, tuple[str, ...]]]:
    """(label, columns) per sensitive variable or intersection, columns checked."""
    if isinstance(groups, (str, tuple)) or not groups:
        raise ConfigError(
            f"groups must be a non-empty list of column names or tuples, got {groups!r}",
            'use e.g. ["race", "sex", ("race", "sex")]',
        )
    specs = []
    for spec in groups:
        columns = (spec,) if isinstance(spec, str) else tuple(spec)
        if not columns or not all(isinstance(c, str) for c in columns):
            raise ConfigError(f"invalid group {spec!r}", 'use a column name or a tuple of names')
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(
                f"sensitive columns missing from the frame: {', '.join(missing)}",
                "add the columns to the test frame or drop them from groups",
            )
        for column in columns:
            absent = frame[column].isna()
            if absent.any():
                raise DataError(
                    f"sensitive column {column!r} has {int(absent.sum())} missing values",
                    "recode missing values as an explicit level (e.g. 'Unknown') before evaluating",
                )
        specs.append((CROSS.join(columns), columns))
    return specs


def group_levels(column: pd.Series) -> list[Hashable]:
    """All categories of a categorical column (also unused ones), else the sorted values."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return list(column.cat.categories)
    values = column.unique()
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def group_keys(frame: pd.DataFrame, columns: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Group label per row and all group labels (product of each column's levels)."""
    keys = frame[columns[0]].astype(str).to_numpy(dtype=object)
    for column in columns[1:]:
        keys = keys + CROSS + frame[column].astype(str).to_numpy(dtype=object)
    per_column = [[str(level) for level in group_levels(frame[c])] for c in columns]
    levels = [CROSS.join(combination) for combination in itertools.product(*per_column)]
    return keys, levels


def _metric_frame(
    registry: Mapping[str, Any],
    metric: Callable[[str], Callable[..., Any]],
    y: np.ndarray,
    predicted: np.ndarray,
    weights: np.ndarray,
    frame: pd.DataFrame,
    columns: tuple[str, ...],
) -> tuple[dict[tuple[str, str], float], pd.Series]:
    """Full-sample figures from one fairlearn MetricFrame; weights go in via ``sample_params``.

    Sensitive columns are passed as strings, so only observed groups appear (no warnings about
    unobserved categories); unobserved groups are empty and handled by the caller.
    """
    sensitive = pd.DataFrame(
        {c: frame[c].astype(str).to_numpy(dtype=object) for c in columns}
    )
    frame_ = MetricFrame(
        metrics={name: metric(name) for name in registry},
        y_true=y,
        y_pred=predicted,
        sensitive_features=sensitive,
        sample_params={name: {"W": weights} for name in registry},
    )
    by_group: dict[tuple[str, str], float] = {}
    for index, row in frame_.by_group.iterrows():
        label = CROSS.join(map(str, index)) if isinstance(index, tuple) else str(index)
        for name in registry:
            by_group[label, name] = float(row[name])
    return by_group, frame_.overall


def _check_agreement(expected: float, actual: float, label: str, group: str, name: str) -> None:
    """The MetricFrame figure and the direct replicate computation must agree."""
    expected, actual = float(expected), float(actual)
    if math.isnan(expected) and math.isnan(actual):
        return
    if not math.isclose(expected, actual, rel_tol=1e-9, abs_tol=1e-12):
        raise RuntimeError(
            f"internal inconsistency: {name} for {label} = {group} is {expected} from fairlearn "
            f"but {actual} from the replicate computation"
        )


def _row(
    label: str,
    group: str,
    name: str,
    values: np.ndarray,
    n: int,
    min_n: int,
    cv_threshold: float,
) -> dict[str, Any]:
    labels = {"group_variable": label, "group": group, "metric": name}
    if not math.isfinite(values[0]):
        return {
            **labels,
            "estimate": math.nan,
            "se": math.nan,
            "moe90": math.nan,
            "n": n,
            "reliable": False,
            "reason": f"undefined: {_UNDEFINED_BECAUSE.get(name, 'zero total weight')}",
            "suppressed": False,
        }
    judged_cv = math.inf if name in M.SIGNED_METRICS else cv_threshold
    estimate = Estimate.from_replicates(values, n, judged_cv, min_n)
    reason = estimate.reason
    if reason is not None:
        reason = reason.replace("sample cases", "sample households")
    return {
        **labels,
        "estimate": estimate.estimate,
        "se": estimate.se,
        "moe90": estimate.moe90,
        "n": n,
        "reliable": estimate.reliable,
        "reason": reason,
        "suppressed": False,
    }


def suppressed_row(
    label: str, group: str, name: str, n: int, suppress_below: int
) -> dict[str, Any]:
    reason = (
        "no sample households in this group"
        if n == 0
        else f"suppressed: only {n} sample households (< {suppress_below})"
    )
    return {
        "group_variable": label,
        "group": group,
        "metric": name,
        "estimate": math.nan,
        "se": math.nan,
        "moe90": math.nan,
        "n": n,
        "reliable": False,
        "reason": reason,
        "suppressed": True,
    }


# --------------------------------------------------------------------------------------------------
# Disparities
# --------------------------------------------------------------------------------------------------


def disparities(group_table: pd.DataFrame, replicates: Replicates | None = None) -> pd.DataFrame:
    """Max - min difference and min / max ratio of each metric across groups, with SDR SEs.

    Parameters
    ----------
    group_table : pandas.DataFrame
        A table from :func:`group_metrics` (its replicate values in ``attrs["replicates"]``).
    replicates : dict, optional
        The replicate values from :func:`group_metric_values`, when the table lost its attrs.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`DISPARITY_COLUMNS`, one row per (group variable, metric) over the
        non-suppressed groups with a defined estimate (overall rows excluded); for
        classification also ``demographic_parity`` and ``equalized_odds`` rows. ``ratio`` is NaN
        for bias (signed) and when the maximum is 0. A disparity is reliable when its SE is
        defined and both extreme groups have at least ``min_n`` households (judged from the
        groups' ``reason``); fewer than two usable groups give NaN with the reason.
    """
    if replicates is None:
        replicates = group_table.attrs.get("replicates")
    if replicates is None:
        raise DataError(
            "the group table carries no replicate values",
            "pass the table returned by group_metrics, or replicates= from group_metric_values",
        )
    rows = []
    usable = group_table[
        (group_table["group"] != OVERALL) & ~group_table["suppressed"] & group_table["estimate"].notna()
    ]
    for label in pd.unique(group_table["group_variable"]):
        metrics_here = list(pd.unique(group_table.loc[group_table["group_variable"] == label, "metric"]))
        ranges: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] = {}
        for name in metrics_here:
            part = usable[(usable["group_variable"] == label) & (usable["metric"] == name)]
            groups = list(part["group"])
            if len(groups) < 2:
                rows.append(_too_few(label, name, len(groups)))
                continue
            values = np.stack([replicates[label, g, name] for g in groups])  # (groups, 81)
            difference = values.max(axis=0) - values.min(axis=0)
            ratio = (
                np.full(REPLICATES + 1, math.nan)
                if name in M.SIGNED_METRICS
                else M.safe_divide(values.min(axis=0), values.max(axis=0))
            )
            ranges[name] = (difference, ratio, groups)
            rows.append(_disparity_row(label, name, difference, ratio, part, values))
        if "selection_rate" in ranges:
            difference, ratio, groups = ranges["selection_rate"]
            part = usable[(usable["group_variable"] == label) & (usable["metric"] == "selection_rate")]
            values = np.stack([replicates[label, g, "selection_rate"] for g in groups])
            rows.append(_disparity_row(label, "demographic_parity", difference, ratio, part, values))
        elif "selection_rate" in metrics_here:
            rows.append(_too_few(label, "demographic_parity", 0))
        if {"false_negative_rate", "false_positive_rate"} <= set(metrics_here):
            rows.append(_equalized_odds(label, ranges, usable))
    return pd.DataFrame(rows, columns=list(DISPARITY_COLUMNS))


def _disparity_row(
    label: str,
    name: str,
    difference: np.ndarray,
    ratio: np.ndarray,
    part: pd.DataFrame,
    values: np.ndarray,
) -> dict[str, Any]:
    """One disparity row from the 81 differences and ratios; part holds the groups' rows."""
    top, bottom = int(np.argmax(values[:, 0])), int(np.argmin(values[:, 0]))
    extremes = part.iloc[[top, bottom]]
    return _finish_row(
        label,
        name,
        difference,
        ratio,
        max_group=str(extremes["group"].iloc[0]),
        max_estimate=float(values[top, 0]),
        min_group=str(extremes["group"].iloc[1]),
        min_estimate=float(values[bottom, 0]),
        n_groups=len(part),
        small=[g for g, why in zip(extremes["group"], extremes["reason"]) if _few_households(why)],
    )


def _finish_row(label, name, difference, ratio, *, small, **fields) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    se = sdr_standard_error(float(difference[0]), difference[1:])
    ratio_se = (
        sdr_standard_error(float(ratio[0]), ratio[1:]) if math.isfinite(ratio[0]) else math.nan
    )
    reasons = []
    if small:
        reasons.append(f"fewer than min_n sample households in {', '.join(small)}")
    if math.isnan(se):
        reasons.append("SE undefined: some replicate estimates are not finite")
    return {
        "group_variable": label,
        "metric": name,
        "difference": float(difference[0]),
        "difference_se": se,
        "difference_moe90": Z90 * se,
        "ratio": float(ratio[0]),
        "ratio_se": ratio_se,
        **fields,
        "reliable": not reasons,
        "reason": "; ".join(reasons) or None,
    }


def _few_households(reason: Any) -> bool:
    return isinstance(reason, str) and "sample households" in reason


def _equalized_odds(
    label: str,
    ranges: Mapping[str, tuple[np.ndarray, np.ndarray, list[str]]],
    usable: pd.DataFrame,
) -> dict[str, Any]:
    """fairlearn's equalized-odds difference: max of the TPR (= FNR) and FPR differences."""
    if "false_negative_rate" not in ranges or "false_positive_rate" not in ranges:
        return _too_few(label, "equalized_odds", 0)
    fnr, fpr = ranges["false_negative_rate"][0], ranges["false_positive_rate"][0]
    difference = np.maximum(fnr, fpr)
    driver = "false_negative_rate" if fnr[0] >= fpr[0] else "false_positive_rate"
    part = usable[(usable["group_variable"] == label) & (usable["metric"] == driver)]
    top, bottom = int(np.argmax(part["estimate"])), int(np.argmin(part["estimate"]))
    small = [
        g
        for metric in ("false_negative_rate", "false_positive_rate")
        for g, why in usable.loc[
            (usable["group_variable"] == label) & (usable["metric"] == metric), ["group", "reason"]
        ].itertuples(index=False)
        if _few_households(why)
    ]
    return _finish_row(
        label,
        "equalized_odds",
        difference,
        np.full(REPLICATES + 1, math.nan),
        max_group=str(part["group"].iloc[top]),
        max_estimate=float(part["estimate"].iloc[top]),
        min_group=str(part["group"].iloc[bottom]),
        min_estimate=float(part["estimate"].iloc[bottom]),
        n_groups=len(part),
        small=sorted(set(small)),
    )


def _too_few(label: str, name: str, count: int) -> dict[str, Any]:
    return {
        "group_variable": label,
        "metric": name,
        **dict.fromkeys(
            ("difference", "difference_se", "difference_moe90", "ratio", "ratio_se"), math.nan
        ),
        "max_group": None,
        "max_estimate": math.nan,
        "min_group": None,
        "min_estimate": math.nan,
        "n_groups": count,
        "reliable": False,
        "reason": f"only {count} non-suppressed group(s) with a defined estimate; need 2",
    }


__all__ = [
    "CLASSIFICATION_GROUP_METRICS",
    "DISPARITY_COLUMNS",
    "GROUP_COLUMNS",
    "GroupMetrics",
    "REGRESSION_GROUP_METRICS",
    "disparities",
    "group_metric_values",
    "group_metrics",
]


# ------------------------------------------------------------------------- the audit of a task

#: Who the audit compares (columns of the feature table), and one intersection where cells allow.
AUDIT_GROUPS = ("race", "hispanic_origin", "sex", "age_band", "disability", "nativity", "puma_code", ("race", "sex"))


def audit_task(
    data: TaskData, predictions: dict[str, pd.DataFrame], threshold: float, estimates: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-group test metrics of every model (fairlearn MetricFrame, survey weights, replicate SEs)
    and the disparities between groups; small cells flagged or suppressed with the reason."""
    groups = [g for g in AUDIT_GROUPS if all(c in data.test for c in (g if isinstance(g, tuple) else (g,)))]
    tables, gaps = [], []
    for name, score in test_scores(data, predictions).items():
        result = group_metric_values(
            data.test, data.target, score, data.weight, groups, data.task,
            threshold=threshold, **reliability_options(estimates),
        )
        gaps.append(disparities(result.table, result.replicates).assign(model=name))
        tables.append(result.table.assign(model=name))
    return pd.concat(tables, ignore_index=True), pd.concat(gaps, ignore_index=True)
