"""Which model a run recommends for each task: one rule, read by the report and the index page.

The best model on the task's primary test metric is recommended only when its edge over the
interpretable baseline (OLS, logistic regression) is distinguishable from zero at 90%, judged on
the replicate-weight SE of the paired difference; otherwise the baseline is (parsimony).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..core.errors import DataError
from ..core.survey import Z90

#: The metric each task's models are ranked by.
PRIMARY_METRIC = {"regression": "rmse", "classification": "roc_auc"}
#: Metrics where a smaller value is better (the rest: larger is better, or neither, e.g. bias).
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mae_dollars", "brier", "false_positive_rate",
                             "false_negative_rate"})


def _missing(value: Any) -> bool:
    try:
        return value is None or value is pd.NA or not math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


def distinguishable(estimate: Any, se: Any, z: float = Z90) -> bool:
    """True when the 90% interval ``estimate ± z·se`` excludes zero (False if either is missing)."""
    if _missing(estimate) or _missing(se):
        return False
    return abs(float(estimate)) > z * float(se)


@dataclass(frozen=True)
class ModelChoice:
    """The model recommended for a task, and the evidence."""

    task: str
    metric: str
    chosen: str
    best: str
    baseline: str
    difference: float
    se: float

    @property
    def distinguishable(self) -> bool:
        return distinguishable(self.difference, self.se)


def select_model(metrics: pd.DataFrame, task: str) -> ModelChoice:
    """Pick a task's model from its metrics table (``evaluate_models``): the best on the primary
    metric, unless its edge over the interpretable baseline is not distinguishable from zero."""
    metric = PRIMARY_METRIC[task]
    rows = metrics.loc[metrics["baseline"].isna()]
    rows = rows.loc[(rows["metric"] == metric) & (rows["model"] != "dummy") & rows["estimate"].notna()]
    if rows.empty:
        raise DataError(f"the {task} metrics have no {metric} rows for a non-dummy model",
                        "rerun evaluate_models")
    baselines = metrics["baseline"].dropna()
    baseline = baselines.iloc[0] if len(baselines) else rows["model"].iloc[0]
    best = rows.sort_values("estimate", ascending=metric in LOWER_IS_BETTER)["model"].iloc[0]
    if best == baseline:
        return ModelChoice(task, metric, baseline, best, baseline, 0.0, 0.0)
    diff = metrics.loc[(metrics["model"] == best) & (metrics["baseline"] == baseline)
                       & (metrics["metric"] == metric)]
    difference, se = ((float(diff["estimate"].iloc[0]), float(diff["se"].iloc[0])) if len(diff)
                      else (math.nan, math.nan))
    chosen = best if distinguishable(difference, se) else baseline
    return ModelChoice(task, metric, chosen, best, baseline, difference, se)
