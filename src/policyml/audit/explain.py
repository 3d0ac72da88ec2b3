"""Model explanations: SHAP values of the tree models, permutation importance of every model.

Two views of what drives a model, both weighted by the survey weights and carrying SDR replicate
standard errors (shap has no sample weights; the weighting is ours):

SHAP (tree models: ``xgboost``, ``random_forest``)
    Exact TreeSHAP (:class:`shap.TreeExplainer`, path-dependent) of the pipeline's final estimator
    on the design matrix its preprocessing produces, for a seeded sample of test households (the
    same rows for every model). The design matrix has one column per numeric input, per missing
    indicator and per one-hot level; a feature's SHAP value is the sum over the columns coded from
    it (:func:`source_features`), so "occupation group" gets one value, not 25. SHAP values are in
    the model's margin: log income for regression; for classification the log-odds of the positive
    class with XGBoost, the probability of the positive class with a random forest (scikit-learn
    forests average leaf probabilities, which is what TreeExplainer decomposes). Additivity holds
    row by row: ``base value + sum of a row's SHAP values = the model's margin`` (checked).
Global SHAP importance
    ``sum_i w_i |phi_ij| / sum_i w_i`` over the sampled households: a weighted mean computed by
    :meth:`policyml.core.survey.SurveyDesign.mean`, so its SE comes from the 80 replicate weights of the
    sampled rows. The same estimator on a group's rows (a survey domain) gives the mean |SHAP| by
    demographic group (:data:`policyml.audit.fairness.AUDIT_GROUPS`), with the fairness audit's small-cell
    rules: fewer than ``fairness.SUPPRESS_BELOW`` sample households suppressed, fewer than
    ``min_sample`` or a CV above ``cv_threshold`` flagged unreliable, the reason always given.
Permutation importance (every model but the dummy)
    One *source* feature column of the test frame is shuffled (all test rows; ``repeats`` seeded
    permutations, the same permutations for every model so the models are comparable), the
    pipeline predicts again (:func:`policyml.model.models.predict`) and the weighted metric drops:
    ``importance = metric(original) - mean over repeats of metric(permuted)`` with R² for
    regression and ROC AUC for classification (:mod:`policyml.model.metrics`). Evaluated under all 81
    weight columns of the test design, this gives the estimate and its replicate SE (the
    permutations held fixed). Interaction columns (``education_rank_x_hours_worked``,
    ``hours_worked_x_occupation_group[Sales]``) are columns of the feature table of their own: they
    are permuted (and explained) as separate features while their parent features keep their values.

Forests and exact TreeSHAP: the cost grows with rows x trees x leaves; the forests here keep leaves
of at least 10 households (see :mod:`policyml.model.models`). With ``n_jobs > 1`` the rows of a forest
are split over worker processes (shap's C extension runs in one thread); XGBoost computes TreeSHAP
itself with ``n_jobs`` threads.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
import pandas as pd
import xgboost
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from threadpoolctl import threadpool_limits

from ..core.errors import ConfigError, DataError
from ..core.survey import Estimate, SurveyDesign, reliability_options
from ..model import metrics, models
from ..model.modelling import TaskData
from . import fairness
from .fairness import AUDIT_GROUPS

with warnings.catch_warnings():
    # shap's plotting colours call Colormap.set_bad/set_over/set_under, which matplotlib marks as
    # pending deprecation; we use no shap plots.
    warnings.filterwarnings("ignore", message=r"The set_(bad|over|under) function",
                            category=PendingDeprecationWarning)
    import shap

log = logging.getLogger(__name__)

#: Models explained with TreeSHAP (the others get permutation importance only).
SHAP_MODELS = ("xgboost", "random_forest")

#: Defaults of the config's ``explain`` section.
DEFAULT_OPTIONS: dict[str, int] = {"shap_sample": 1000, "permutation_repeats": 5, "top_features": 10}

#: Columns of the ``importance`` table.
IMPORTANCE_COLUMNS = ("model", "method", "feature", "description", "importance", "se", "rank", "metric")
#: Columns of the ``shap`` table (long format: one row per sampled household and top feature).
SHAP_COLUMNS = ("model", "row", "SERIALNO", "feature", "shap", "value", "value_label", "weight")
#: Columns of the ``shap_groups`` table.
SHAP_GROUP_COLUMNS = (
    "model", "group_variable", "group", "feature", "mean_abs_shap", "se", "n", "reliable", "suppressed", "reason",
)

#: Weighted metric of permutation importance per task, and how the ``metric`` column names the drop.
PERMUTATION_METRICS = {
    "regression": (metrics.r2, "drop in R²"),
    "classification": (metrics.roc_auc, "drop in ROC AUC"),
}

#: The design-matrix columns of a feature are found by passing these tokens through the fitted
#: preprocessing steps: column ``j`` of a transformer's input becomes ``"\x1f<j>\x1f"``.
_TOKEN = re.compile("\x1f([0-9]+)\x1f")

#: Maximum |base value + sum of SHAP - margin| accepted, relative to max(1, |margin|).
ADDITIVITY_TOLERANCE = 1e-4


# --------------------------------------------------------------------------------------------------
# Design-matrix columns and their source features
# --------------------------------------------------------------------------------------------------


def _token(j: int) -> str:
    return f"\x1f{j}\x1f"


def _names_through(transformer: Any, tokens: list[str]) -> list[str]:
    """Output names of a fitted transformer (or sub-pipeline) fed the input names ``tokens``.

    The coding steps that turn a frame into an array (policyml's ``as_float`` / ``as_text``
    FunctionTransformers, one-to-one) keep the names; every later step was fitted on an array, so
    it names its outputs from whatever input names it is given.
    """
    if transformer == "passthrough":
        return tokens
    steps = transformer.steps if isinstance(transformer, Pipeline) else [("step", transformer)]
    names = tokens
    for _, step in steps:
        if step is None or step == "passthrough" or isinstance(step, FunctionTransformer):
            continue
        names = [str(name) for name in step.get_feature_names_out(names)]
    return names


def source_features(pipeline: Pipeline) -> list[str]:
    """The source feature (column of the feature table) of each column the final estimator sees.

    A numeric feature owns its own column and its missing indicator; a categorical feature owns
    its one-hot level columns (including ``<feature>_infrequent_sklearn``). Columns dropped by
    :class:`~policyml.model.models.DropRedundantColumns` (inside the preprocessing or as a pipeline step)
    are left out, exactly as the estimator does not see them.
    """
    models._check_fitted_pipeline(pipeline)
    preprocess = pipeline.named_steps["preprocess"]
    sources: list[str] = []
    for name, transformer, columns in preprocess.transformers_:
        if name == "remainder" or transformer == "drop":
            continue
        columns = list(columns)
        names = _names_through(transformer, [_token(j) for j in range(len(columns))])
        for output in names:
            match = _TOKEN.search(output)
            if match is None:
                raise RuntimeError(f"cannot tell which feature the design column {output!r} comes from")
            sources.append(str(columns[int(match.group(1))]))
    # steps between the preprocessing and the estimator (a linear model's DropRedundantColumns)
    for _, step in pipeline.steps[1:-1]:
        if step is None or step == "passthrough":
            continue
        kept = step.get_feature_names_out([_token(j) for j in range(len(sources))])
        sources = [sources[int(_TOKEN.search(str(k)).group(1))] for k in kept]
    return sources


def aggregate_columns(values: np.ndarray, sources: Sequence[str], features: Sequence[str]) -> np.ndarray:
    """Sum per-column values (n, columns) into per-feature values (n, features).

    A feature without any column (all its columns dropped as constant) gets zeros.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.shape[1] != len(sources):
        raise RuntimeError(f"{values.shape[1]} design columns but {len(sources)} source names")
    position = {feature: k for k, feature in enumerate(features)}
    unknown = sorted(set(sources) - set(position))
    if unknown:
        raise DataError(f"design columns come from features not in the feature list: {', '.join(unknown)}",
                        "pass the model's numeric and categorical feature lists")
    membership = np.zeros((len(sources), len(features)))
    membership[np.arange(len(sources)), [position[s] for s in sources]] = 1.0
    return values @ membership


# --------------------------------------------------------------------------------------------------
# TreeSHAP
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShapResult:
    """TreeSHAP values of one model, summed to the source features.

    Attributes
    ----------
    values : pandas.DataFrame
        One row per explained row (in the order given), one column per feature.
    base_value : float
        The explainer's expected value: ``base_value + values.sum(axis=1)`` is the model's margin.
    output : str
        What the values add up to: ``"prediction"`` (regression: log income), ``"log_odds"`` or
        ``"probability"`` of the positive class (classification).
    seconds : float
        Wall time of the TreeSHAP computation.
    """

    values: pd.DataFrame
    base_value: float
    output: str
    seconds: float


def is_tree_model(pipeline: Pipeline) -> bool:
    """Whether the pipeline's estimator is one TreeSHAP explains here (XGBoost or a random forest)."""
    estimator = pipeline[-1]
    return isinstance(estimator, (xgboost.XGBModel, RandomForestRegressor, RandomForestClassifier))


def _positive_index(estimator: Any) -> int:
    classes = list(estimator.classes_)
    if 1 not in classes:
        raise DataError(f"the classifier has no class 1 (classes {classes})", "fit it on the 0/1 flag")
    return classes.index(1)


def _output_kind(estimator: Any, task: str) -> str:
    if task == "regression":
        return "prediction"
    return "log_odds" if isinstance(estimator, xgboost.XGBModel) else "probability"


def margin(pipeline: Pipeline, task: str, X: pd.DataFrame) -> np.ndarray:
    """The model output TreeSHAP decomposes: the prediction (regression), XGBoost's log-odds or a
    forest's probability of class 1 (classification)."""
    matrix = pipeline[:-1].transform(X)
    estimator = pipeline[-1]
    if isinstance(estimator, xgboost.XGBModel):
        raw = estimator.predict(matrix, output_margin=True)
    elif task == "regression":
        raw = estimator.predict(matrix)
    else:
        raw = estimator.predict_proba(matrix)[:, _positive_index(estimator)]
    return np.asarray(raw, dtype=np.float64)


def _shap_rows(estimator: Any, matrix: np.ndarray, positive: int | None) -> tuple[np.ndarray, float]:
    """TreeSHAP values (rows, columns) and the base value for one block of rows."""
    explainer = shap.TreeExplainer(estimator)
    values = np.asarray(explainer.shap_values(matrix, check_additivity=False), dtype=np.float64)
    base = np.ravel(np.asarray(explainer.expected_value, dtype=np.float64))
    if values.ndim == 3:  # a scikit-learn classifier: one slice per class
        return values[:, :, positive], float(base[positive])
    return values, float(base[0])


def tree_shap(
    pipeline: Pipeline, task: str, X: pd.DataFrame, features: Sequence[str], n_jobs: int = 1
) -> ShapResult:
    """Exact TreeSHAP of a fitted tree pipeline on the rows of ``X``, summed to ``features``.

    ``features`` are the pipeline's input columns (numeric then categorical). The result is checked
    to be additive (base value + row sum = :func:`margin`, to :data:`ADDITIVITY_TOLERANCE`).
    """
    if not is_tree_model(pipeline):
        raise ConfigError(
            f"TreeSHAP explains XGBoost and random-forest pipelines, got {type(pipeline[-1]).__name__}",
            "use permutation importance for the other models",
        )
    estimator = pipeline[-1]
    positive = _positive_index(estimator) if task == "classification" else None
    matrix = np.asarray(pipeline[:-1].transform(X), dtype=np.float64)
    started = time.perf_counter()
    with _threads(pipeline, n_jobs):
        if n_jobs > 1 and not isinstance(estimator, xgboost.XGBModel) and len(matrix) >= 2 * n_jobs:
            # shap's C extension holds the GIL: split the rows over processes
            blocks = joblib.Parallel(n_jobs=n_jobs)(
                joblib.delayed(_shap_rows)(estimator, block, positive)
                for block in np.array_split(matrix, n_jobs)
            )
            values, base = np.concatenate([b[0] for b in blocks]), blocks[0][1]
        else:
            values, base = _shap_rows(estimator, matrix, positive)
    seconds = time.perf_counter() - started
    per_feature = aggregate_columns(values, source_features(pipeline), features)
    output = margin(pipeline, task, X)
    gap = np.abs(base + per_feature.sum(axis=1) - output)
    if np.any(gap > ADDITIVITY_TOLERANCE * np.maximum(1.0, np.abs(output))):
        raise RuntimeError(
            f"internal inconsistency: SHAP values do not add up to the model output "
            f"(largest gap {gap.max():.3g}); check the shap and xgboost versions"
        )
    frame = pd.DataFrame(per_feature, columns=list(features), index=X.index)
    return ShapResult(frame, base, _output_kind(estimator, task), seconds)


# --------------------------------------------------------------------------------------------------
# Permutation importance
# --------------------------------------------------------------------------------------------------


def permutation_drops(
    pipeline: Pipeline,
    task: str,
    X: pd.DataFrame,
    y: np.ndarray,
    design: SurveyDesign,
    features: Sequence[str],
    repeats: int,
    seed: int,
) -> dict[str, Estimate]:
    """Drop of the weighted metric (R² or ROC AUC) when each feature is permuted, with replicate SEs.

    Feature ``k`` (its position in ``features``) and repeat ``r`` use the permutation
    ``numpy.random.default_rng([seed, k, r]).permutation(n)``: the same for every model.
    """
    metric, _ = PERMUTATION_METRICS[task]
    y = np.asarray(y, dtype=np.float64)
    original = models.predict(pipeline, task, X)
    shuffled_predictions: dict[str, list[np.ndarray]] = {}
    for k, feature in enumerate(features):
        predictions = []
        for r in range(repeats):
            order = np.random.default_rng([seed, k, r]).permutation(len(X))
            permuted = X.assign(**{feature: X[feature].iloc[order].set_axis(X.index)})
            predictions.append(models.predict(pipeline, task, permuted))
        shuffled_predictions[feature] = predictions

    def drop(predictions: list[np.ndarray]):
        return lambda W: np.mean([metric(y, original, W) - metric(y, p, W) for p in predictions], axis=0)

    return {feature: design.replicate(drop(predictions))
            for feature, predictions in shuffled_predictions.items()}


# --------------------------------------------------------------------------------------------------
# The explain stage
# --------------------------------------------------------------------------------------------------


@contextmanager
def _threads(pipeline: Pipeline, n_jobs: int) -> Iterator[None]:
    """Let the estimator (``n_jobs`` of forests and XGBoost) and BLAS/OpenMP use ``n_jobs`` threads."""
    estimator = pipeline[-1]
    previous = estimator.get_params().get("n_jobs", None) if hasattr(estimator, "n_jobs") else None
    if hasattr(estimator, "n_jobs"):
        estimator.set_params(n_jobs=n_jobs)
    try:
        with threadpool_limits(limits=n_jobs):
            yield
    finally:
        if hasattr(estimator, "n_jobs"):
            estimator.set_params(n_jobs=previous)


def _check_options(options: Mapping[str, Any] | None) -> dict[str, int]:
    merged = {**DEFAULT_OPTIONS, **dict(options or {})}
    for key, value in merged.items():
        whole = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if key in DEFAULT_OPTIONS and not (whole and value >= 1):
            raise ConfigError(f"explain.{key} must be a positive integer, got {value!r}",
                              f"set explain.{key} to e.g. {DEFAULT_OPTIONS[key]}")
    return merged


def _is_interaction(feature: str) -> bool:
    return "_x_" in feature


def _description(feature: str, descriptions: Mapping[str, str]) -> str:
    text = descriptions.get(feature, feature)
    if _is_interaction(feature):
        text += (" (interaction column: explained and permuted as a feature of its own; "
                 "its parents keep their values)")
    return text


def _shap_label(output: str, target: str) -> str:
    scale = {"prediction": "log income", "log_odds": f"log-odds of {target.replace('_', ' ')}",
             "probability": f"probability of {target.replace('_', ' ')}"}[output]
    return f"mean |SHAP| ({scale})"


def _importance_rows(model: str, method: str, estimates: Mapping[str, Estimate], metric: str,
                     descriptions: Mapping[str, str]) -> pd.DataFrame:
    table = pd.DataFrame({
        "model": model,
        "method": method,
        "feature": list(estimates),
        "description": [_description(f, descriptions) for f in estimates],
        "importance": [e.estimate for e in estimates.values()],
        "se": [e.se for e in estimates.values()],
        "metric": metric,
    })
    table["rank"] = table["importance"].rank(ascending=False, method="first").astype("int64")
    return table.sort_values("rank", kind="stable")[list(IMPORTANCE_COLUMNS)]


def _shap_long(model: str, result: ShapResult, sample: pd.DataFrame, top: list[str], numeric: set[str],
               weight: str) -> pd.DataFrame:
    parts = []
    for feature in top:
        column = sample[feature]
        missing = column.isna().to_numpy()
        if feature in numeric:
            value = column.to_numpy(dtype=np.float64, na_value=np.nan)
            label = np.where(missing, models.MISSING_LEVEL, [f"{v:g}" for v in value])
        else:
            value = np.full(len(sample), np.nan)
            label = np.where(missing, models.MISSING_LEVEL, column.astype(object).astype(str).to_numpy())
        parts.append(pd.DataFrame({
            "model": model,
            "row": np.arange(len(sample), dtype=np.int64),
            "SERIALNO": sample["SERIALNO"].astype(str).to_numpy(),
            "feature": feature,
            "shap": result.values[feature].to_numpy(),
            "value": value,
            "value_label": label.astype(str),
            "weight": sample[weight].to_numpy(dtype=np.float64),
        }))
    return pd.concat(parts, ignore_index=True) if parts else _empty(SHAP_COLUMNS)


def _group_rows(model: str, design: SurveyDesign, magnitudes: pd.DataFrame, sample: pd.DataFrame,
                groupings: list) -> list[dict[str, Any]]:
    """Weighted mean |SHAP| of each feature in each group, with the fairness audit's cell rules."""
    rows: list[dict[str, Any]] = []
    if not groupings:
        return rows
    cases = design.weights > 0

    def estimate_rows(label: str, group: str, domain: SurveyDesign) -> None:
        for feature in magnitudes:
            estimate = domain.mean(magnitudes[feature].to_numpy())
            reason = estimate.reason.replace("sample cases", "sample households") if estimate.reason else None
            rows.append({"model": model, "group_variable": label, "group": group, "feature": feature,
                         "mean_abs_shap": estimate.estimate, "se": estimate.se, "n": estimate.n,
                         "reliable": estimate.reliable, "suppressed": False, "reason": reason})

    for label, columns in fairness.group_specs(sample, groupings):
        estimate_rows(label, fairness.OVERALL, design)
        keys, levels = fairness.group_keys(sample, columns)
        for level in levels:
            inside = keys == level
            n = int(np.count_nonzero(inside & cases))
            if n < fairness.SUPPRESS_BELOW:
                reason = fairness.suppressed_row(label, level, "", n, fairness.SUPPRESS_BELOW)["reason"]
                rows.extend({"model": model, "group_variable": label, "group": level, "feature": feature,
                             "mean_abs_shap": np.nan, "se": np.nan, "n": n, "reliable": False,
                             "suppressed": True, "reason": reason} for feature in magnitudes)
                continue
            estimate_rows(label, level, design.domain(inside, name=f"{label} = {level}"))
    return rows


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    dtypes = {"importance": "float64", "se": "float64", "rank": "int64", "row": "int64", "shap": "float64",
              "value": "float64", "weight": "float64", "mean_abs_shap": "float64", "n": "int64",
              "reliable": "bool", "suppressed": "bool"}
    return pd.DataFrame({c: pd.Series(dtype=dtypes.get(c, "object")) for c in columns})


def shap_sample_positions(n_rows: int, size: int, seed: int) -> np.ndarray:
    """Sorted positions of the ``size`` test rows explained with SHAP (all rows if fewer)."""
    if size >= n_rows:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(seed).choice(n_rows, size=size, replace=False))


def explain_task(
    data: TaskData,
    pipelines: Mapping[str, Pipeline],
    options: Mapping[str, Any] | None,
    *,
    seed: int,
    estimates: Mapping[str, Any] | None,
    n_jobs: int = 1,
    descriptions: Mapping[str, str] | None = None,
) -> dict[str, pd.DataFrame]:
    """SHAP and permutation importances of a task's models, weighted, with replicate SEs.

    Parameters
    ----------
    data : TaskData
        The task's rows; the test rows (with the protected columns and WGTP1..80) are explained.
    pipelines : mapping of model name to fitted Pipeline
        Every model of the task; ``dummy`` is skipped, TreeSHAP covers ``xgboost`` and
        ``random_forest``.
    options : dict
        The config's ``explain`` section: ``shap_sample``, ``permutation_repeats``,
        ``top_features`` (defaults :data:`DEFAULT_OPTIONS`).
    seed : int
        Seeds the SHAP sample and the permutations: the same seed gives equal frames.
    estimates : dict
        The config's ``estimates`` section (``cv_threshold``, ``min_sample``).
    n_jobs : int
        Threads (processes for a forest's TreeSHAP).
    descriptions : dict, optional
        Feature descriptions (the feature spec's ``descriptions``).

    Returns
    -------
    dict of DataFrame
        ``importance`` (:data:`IMPORTANCE_COLUMNS`; per model SHAP rows then permutation rows, by
        rank), ``shap`` (:data:`SHAP_COLUMNS`; the ``top_features`` features of each tree model by
        weighted mean |SHAP|) and ``shap_groups`` (:data:`SHAP_GROUP_COLUMNS`; every feature,
        per grouping the overall rows ``group == "All"`` then each group). Empty frames with
        these columns when no tree model is given.
    """
    settings = _check_options(options)
    if isinstance(n_jobs, bool) or not (isinstance(n_jobs, (int, np.integer)) and n_jobs >= 1):
        raise ConfigError(f"n_jobs must be a positive integer, got {n_jobs!r}", "give the rule's threads, e.g. 4")
    descriptions = dict(descriptions or {})
    features = list(data.columns)
    numeric = set(data.numeric)
    test = data.test
    X, y, _ = data.xyw("test")
    design = SurveyDesign.from_frame(test, data.weight, **reliability_options(estimates))
    positions = shap_sample_positions(len(test), settings["shap_sample"], seed)
    sample = test.iloc[positions].reset_index(drop=True)
    sample_design = SurveyDesign.from_frame(sample, data.weight, **reliability_options(estimates))
    groupings = [g for g in AUDIT_GROUPS if all(c in sample for c in (g if isinstance(g, tuple) else (g,)))]
    _, permutation_label = PERMUTATION_METRICS[data.task]

    importance, long, groups = [], [], []
    for name, pipeline in pipelines.items():
        if name == "dummy" or isinstance(pipeline[-1], (DummyRegressor, DummyClassifier)):
            continue
        if name in SHAP_MODELS and is_tree_model(pipeline):
            result = tree_shap(pipeline, data.task, sample[features], features, n_jobs=n_jobs)
            log.info("%s %s: TreeSHAP on %d rows in %.1f s", data.task, name, len(sample), result.seconds)
            magnitudes = result.values.abs().reset_index(drop=True)
            means = {f: sample_design.mean(magnitudes[f].to_numpy()) for f in features}
            label = _shap_label(result.output, data.target)
            table = _importance_rows(name, "shap", means, label, descriptions)
            importance.append(table)
            top = list(table["feature"].iloc[: settings["top_features"]])
            long.append(_shap_long(name, result, sample, top, numeric, data.weight))
            groups.extend(_group_rows(name, sample_design, magnitudes, sample, groupings))
        started = time.perf_counter()
        with _threads(pipeline, n_jobs):
            drops = permutation_drops(pipeline, data.task, X, y, design, features,
                                      settings["permutation_repeats"], seed)
        log.info("%s %s: permutation importance in %.1f s", data.task, name, time.perf_counter() - started)
        importance.append(_importance_rows(name, "permutation", drops, permutation_label, descriptions))

    return {
        "importance": pd.concat(importance, ignore_index=True) if importance else _empty(IMPORTANCE_COLUMNS),
        "shap": pd.concat(long, ignore_index=True) if long else _empty(SHAP_COLUMNS),
        "shap_groups": (pd.DataFrame(groups, columns=list(SHAP_GROUP_COLUMNS)) if groups
                        else _empty(SHAP_GROUP_COLUMNS)),
    }


__all__ = [
    "DEFAULT_OPTIONS",
    "IMPORTANCE_COLUMNS",
    "SHAP_COLUMNS",
    "SHAP_GROUP_COLUMNS",
    "SHAP_MODELS",
    "ShapResult",
    "aggregate_columns",
    "explain_task",
    "is_tree_model",
    "margin",
    "permutation_drops",
    "shap_sample_positions",
    "source_features",
    "tree_shap",
]
