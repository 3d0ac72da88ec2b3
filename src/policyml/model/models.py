"""Survey-weighted models of household income: pipelines, tuning, coefficients, persistence.

Two tasks share one set of tools:

``regression``
    log household income; models ``dummy`` (weighted mean), ``ols``, ``random_forest``, ``xgboost``.
``classification``
    the low-income flag (positive class 1); models ``dummy`` (weighted prior), ``logistic``
    (unpenalised), ``random_forest``, ``xgboost``. Predictions are the probability of class 1.

Every model is a :class:`~sklearn.pipeline.Pipeline` with two steps, ``"preprocess"`` (a
:class:`~sklearn.compose.ColumnTransformer`, see :func:`make_preprocessor`) and ``"model"``.

Survey weights
--------------
The full-sample weight goes into fitting *and* into cross-validation scoring, through
scikit-learn metadata routing: the ``"model"`` step requests ``sample_weight`` for ``fit`` and the
tuning scorer requests it for scoring. Routing is switched on only inside this module's functions
with ``sklearn.config_context(enable_metadata_routing=True)``; the rest of the program keeps the
global default. Preprocessing is unweighted (the imputer medians, scaler means and one-hot
frequencies are plain sample statistics): its only job is to code the design matrix.

Weights are divided by their mean before fitting (:func:`normalise_weights`). Weighted least
squares, the weighted logistic likelihood, forest impurities and the weighted scores are all
invariant to that scaling, but XGBoost's ``min_child_weight`` and ``reg_lambda`` act on sums of
weighted Hessians: with raw ``WGTP`` (tens to hundreds) they would be meaningless, with mean-one
weights they keep their usual sample-count meaning.

Tuning
------
:func:`tune` runs :class:`~sklearn.model_selection.HalvingRandomSearchCV` over
:data:`SEARCH_SPACES` on the caller's folds with ``min_resources="exhaust"``, so the last round
uses all the data. The score is weighted: negative RMSE for regression and negative log loss for
classification (a proper scoring rule: the probabilities themselves are used downstream, not only
their ranking; unlike ROC AUC it stays defined when a halving subsample holds one class).

Forests stay SHAP-tractable: leaves of at least 10 (default 20) households. Exact TreeSHAP on a
full-depth forest took 188 s for 500 rows; with ``min_samples_leaf=20`` it took 3 s.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import math
import os
import time
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import skops
import skops.io
import xgboost
from scipy import stats
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (enables the import below)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import log_loss, make_scorer, root_mean_squared_error
from sklearn.model_selection import HalvingRandomSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from skops.io.exceptions import UntrustedTypesFoundException
from threadpoolctl import threadpool_limits

from .. import nn
from ..core import catalogue
from ..core.config import schema_default
from ..core.errors import ConfigError, DataError
from ..core.outputs import write_bytes
from ..core.survey import REPLICATES, Z90, as_vector, sdr_standard_error

TASKS = tuple(catalogue.TASKS)

#: Model names per task (policyml.core.catalogue).
MODELS: dict[str, tuple[str, ...]] = {task: catalogue.task_models(task) for task in TASKS}
#: Models with a hyperparameter search (:func:`tune`); the others are fitted as they are.
TUNED = frozenset(catalogue.tuned_models())
#: Linear models: standardised numeric columns, a reference level dropped, coefficient tables.
LINEAR = frozenset({"ols", "logistic"})
#: Models that need standardised inputs: the linear models and the MLP (policyml.nn), which the
#: lecture insists on ("data MUST be scaled").
SCALED = LINEAR | {"mlp"}
#: Reference models fitted the way their benchmark was: ``folktables_gbm`` is scikit-learn's
#: GradientBoostingClassifier with default settings on the raw PUMS codes, unweighted, as in the
#: folktables ACSIncome baselines (Ding et al., 2021).
UNWEIGHTED = frozenset({"folktables_gbm"})

#: Label given to missing categorical values (a level of its own).
MISSING_LEVEL = "Missing"
#: Categorical levels seen fewer times than this in the training data share one column.
MIN_FREQUENCY = 10

#: Default hyperparameters of the estimators (keyword arguments of the estimator class).
DEFAULT_PARAMS: dict[str, dict[str, Any]] = {
    "dummy": {},
    "ols": {},
    "folktables_gbm": {},
    # policyml.nn's MLP (our NumPy gradient-descent core): the config schema's models.mlp defaults
    "mlp": {**{key: tuple(value) if isinstance(value, list) else value
               for key, value in schema_default("models", "mlp").items()}, "early_stopping": True},
    # C=inf is the scikit-learn >= 1.8 spelling of penalty=None (``penalty`` is deprecated).
    # Newton-Cholesky reaches the exact maximum likelihood in a few steps (lbfgs at its default
    # tolerance stopped 7e-3 away from it on 6,000 x 100 data), which the replicate SEs need.
    "logistic": {"C": math.inf, "solver": "newton-cholesky", "tol": 1e-8, "max_iter": 1000},
    "random_forest": {
        "n_estimators": 200,
        "min_samples_leaf": 20,
        "max_features": 0.5,
        "max_depth": None,
    },
    "xgboost": {
        "tree_method": "hist",
        "n_estimators": 400,
        "learning_rate": 0.05,
        "max_depth": 5,
        "min_child_weight": 5.0,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "reg_lambda": 1.0,
    },
}

#: Search spaces of :func:`tune` over pipeline parameter names (scipy.stats distributions or lists).
SEARCH_SPACES: dict[str, dict[str, Any]] = {
    "random_forest": {
        "model__min_samples_leaf": stats.randint(10, 61),  # 10..60: keeps TreeSHAP fast
        "model__max_features": ["sqrt", 0.3, 0.5, 0.7],
        "model__max_depth": [None, 8, 12, 16, 24],
    },
    "xgboost": {
        "model__n_estimators": stats.randint(100, 801),
        "model__learning_rate": stats.loguniform(0.01, 0.3),
        "model__max_depth": stats.randint(2, 9),  # 2..8
        "model__min_child_weight": stats.loguniform(1.0, 50.0),
        "model__subsample": stats.uniform(0.5, 0.5),  # 0.5..1
        "model__colsample_bytree": stats.uniform(0.5, 0.5),  # 0.5..1
        "model__reg_lambda": stats.loguniform(0.1, 10.0),
    },
}

#: Largest number of trees when :func:`tune` uses ``model__n_estimators`` as the halving resource.
MAX_ESTIMATORS = {"random_forest": 300, "xgboost": 800}

#: Name of the cross-validation score, per task (greater is better).
SCORING = {"regression": "neg_rmse", "classification": "neg_log_loss"}

#: Logistic coefficients beyond this (odds ratio > 22,000) are flagged as likely separation.
SEPARATION_LOG_ODDS = 10.0

_FORMAT = "policyml-model"
_FORMAT_VERSION = 2  # 1: joblib pickle; 2: skops zip with XGBoost JSON

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def _routing():
    """Context in which scikit-learn routes metadata (sample_weight) between objects."""
    return sklearn.config_context(enable_metadata_routing=True)


def _check_task(task: str) -> None:
    if task not in MODELS:
        raise ConfigError(
            f"unknown task {task!r}; allowed tasks: {', '.join(TASKS)}",
            "set the task to 'regression' (log income) or 'classification' (low-income flag)",
        )


def _check_name(name: str, task: str) -> None:
    _check_task(task)
    if name not in MODELS[task]:
        raise ConfigError(
            f"unknown model {name!r} for {task}; allowed models: {', '.join(MODELS[task])}",
            f"choose one of: {', '.join(MODELS[task])}",
        )


def infer_columns(X: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Split the columns of ``X`` into numeric (numbers, booleans) and categorical (the rest).

    Raises
    ------
    DataError
        If a column is neither numeric nor text/categorical (e.g. dates).
    """
    _check_frame(X)
    numeric, categorical, other = [], [], []
    for column, dtype in X.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            numeric.append(column)
        elif isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(dtype):
            categorical.append(column)
        elif dtype == object:
            categorical.append(column)
        else:
            other.append(f"{column} ({dtype})")
    if other:
        raise DataError(
            f"feature columns of unsupported type: {', '.join(other)}",
            "convert them to numbers or categories, or leave them out of the feature lists",
        )
    return numeric, categorical


def _check_frame(X: Any) -> None:
    if not isinstance(X, pd.DataFrame):
        raise DataError(
            f"the features must be a pandas DataFrame, got {type(X).__name__}",
            "pass the feature table (column names are needed to select the features)",
        )


def _resolve_columns(
    X: pd.DataFrame, numeric: Sequence[str] | None, categorical: Sequence[str] | None
) -> tuple[list[str], list[str]]:
    """Return the column lists (inferred from ``X`` when not given), checking ``X`` has them."""
    _check_frame(X)
    if numeric is None and categorical is None:
        return infer_columns(X)
    numeric, categorical = list(numeric or []), list(categorical or [])
    _check_columns(X, numeric + categorical)
    return numeric, categorical


def _check_columns(X: pd.DataFrame, columns: Iterable[str]) -> None:
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise DataError(
            f"the feature table lacks {len(missing)} model column(s): "
            f"{', '.join(map(str, missing))}",
            "build the features with the same feature spec as the model (policyml.model.features)",
        )


def normalise_weights(sample_weight: Any, n: int | None = None) -> np.ndarray:
    """Return the survey weights as float64 divided by their mean (so they average 1).

    Raises
    ------
    DataError
        If the weights are not finite and non-negative, have the wrong length, or sum to zero.
    """
    w = as_vector(sample_weight, "sample weights")
    if w.ndim != 1 or (n is not None and w.shape[0] != n):
        raise DataError(
            f"sample weights have shape {w.shape}, expected ({n},)",
            "pass one full-sample weight per row of the feature table",
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise DataError(
            "sample weights must be finite and non-negative",
            "use the full-sample weight WGTP and drop records without one",
        )
    total = w.sum()
    if not total > 0:
        raise DataError("sample weights sum to zero", "check the weight column and the row filter")
    return w / (total / w.shape[0])


def _check_target(y: Any, task: str, n: int) -> np.ndarray:
    values = as_vector(y, "the target")
    if values.shape != (n,):
        raise DataError(
            f"the target has shape {values.shape} but the feature table has {n} rows",
            "pass one target value per row, in the same order as the features",
        )
    if not np.all(np.isfinite(values)):
        raise DataError(
            f"the target has {int((~np.isfinite(values)).sum())} missing or infinite values",
            "drop the rows without a target before fitting",
        )
    if task == "classification":
        labels = set(np.unique(values).tolist())
        if not labels <= {0.0, 1.0}:
            raise DataError(
                f"the classification target must be 0/1, got values {sorted(labels)[:5]}",
                "pass the low-income flag (1 = low income)",
            )
        if len(labels) < 2:
            raise DataError(
                "the classification target has a single class", "use a sample with both classes"
            )
        return values.astype(np.int64)
    return values


def _prepare(
    X: pd.DataFrame,
    y: Any,
    sample_weight: Any,
    task: str,
    numeric: Sequence[str] | None,
    categorical: Sequence[str] | None,
) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    numeric, categorical = _resolve_columns(X, numeric, categorical)
    if not numeric and not categorical:
        raise DataError(
            "no feature columns to model", "list at least one numeric or categorical column"
        )
    target = _check_target(y, task, len(X))
    weights = normalise_weights(sample_weight, len(X))
    return numeric, categorical, target, weights


# --------------------------------------------------------------------------------------------------
# Pipelines
# --------------------------------------------------------------------------------------------------


def _as_float(frame: pd.DataFrame) -> np.ndarray:
    """Numeric columns as float64 with NaN for missing (also nullable Int64/boolean columns)."""
    return np.asarray(pd.DataFrame(frame).to_numpy(dtype=np.float64, na_value=np.nan))


def _as_text(frame: pd.DataFrame) -> np.ndarray:
    """Categorical columns as an object array of str, NaN for missing.

    Categories of any type (int codes, pandas ``str`` or ``category`` dtype) become strings, so the
    imputer's ``"Missing"`` and the one-hot encoder never meet mixed types. Stateless.
    """
    frame = pd.DataFrame(frame)
    out = np.empty(frame.shape, dtype=object)
    for j, column in enumerate(frame.columns):
        series = frame[column]
        missing = series.isna().to_numpy()
        values = series.astype(object).to_numpy()
        out[:, j] = [np.nan if m else str(v) for v, m in zip(values, missing)]
    return out


class DropRedundantColumns(TransformerMixin, BaseEstimator):
    """Drop columns that are constant or a linear combination of earlier columns in the training data.

    Missing-indicator columns often repeat (an interaction ``a_x_b`` is missing exactly where ``a``
    is), and different features can code the same households: "no job in 5 years" is one occupation
    group and the sum of two class-of-worker levels. Such columns make a linear design singular (OLS
    coefficients unidentifiable, the unpenalised logistic Hessian impossible to factorise); for
    trees they add nothing. With ``intercept=True`` the constant column counts as an earlier column
    (a level whose dummies add up to one, with the intercept, is dependent too).

    Columns are tested in order against an orthonormal basis of the kept ones (Gram-Schmidt, twice):
    a column whose residual is below ``tol`` times its norm is dropped.
    """

    def __init__(self, intercept: bool = False, tol: float = 1e-8):
        self.intercept = intercept
        self.tol = tol

    def fit(self, X, y=None):
        X = np.asarray(X, dtype=np.float64)
        self.n_features_in_ = X.shape[1]
        keep = np.zeros(X.shape[1], dtype=bool)
        basis = []
        if self.intercept and X.shape[0]:
            basis.append(np.full(X.shape[0], 1 / np.sqrt(X.shape[0])))
        for j in range(X.shape[1]):
            column = X[:, j]
            if X.shape[0] == 0 or np.all(column == column[0]):
                continue  # constant: no information (and the intercept's double)
            residual = column.copy()
            for _ in range(2):  # re-orthogonalise once: classical Gram-Schmidt loses orthogonality
                for q in basis:
                    residual -= (q @ residual) * q
            size = np.linalg.norm(residual)
            if size > self.tol * max(np.linalg.norm(column), 1.0):
                keep[j] = True
                basis.append(residual / size)
        self.keep_ = keep
        return self

    def transform(self, X):
        X = np.asarray(X, dtype=np.float64)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} columns, got {X.shape[1]}")
        return X[:, self.keep_]

    def get_feature_names_out(self, input_features=None):
        if input_features is None:
            input_features = [f"x{j}" for j in range(self.n_features_in_)]
        return np.asarray(input_features, dtype=object)[self.keep_]


def make_preprocessor(
    numeric: Sequence[str],
    categorical: Sequence[str],
    scale: bool,
    *,
    drop_reference: bool | None = None,
) -> ColumnTransformer:
    """Return the column transformer that codes the design matrix (fitted on training data only).

    Parameters
    ----------
    numeric, categorical : list of str
        Column names. Numeric columns: median imputation plus a missing-indicator column for each
        column with missing training values; columns constant in training or repeating an earlier
        column (typically the indicator of an interaction) are dropped
        (:class:`DropRedundantColumns`); then standardisation when ``scale``. Categorical
        columns: missing values become the level ``"Missing"``, then one-hot columns; levels seen
        fewer than :data:`MIN_FREQUENCY` times in training share one ``<col>_infrequent_sklearn``
        column, and levels unseen in training get zeros (``handle_unknown="ignore"``).
    scale : bool
        Standardise the numeric columns (linear models).
    drop_reference : bool, optional
        Drop the first (frequent) level of each categorical column, so a linear model with an
        intercept has an identifiable design. Defaults to ``scale``. With a dropped level an unseen
        level is coded as the reference level and scikit-learn warns about it at transform time.

    Output column names (``get_feature_names_out``) are the numeric column names,
    ``missingindicator_<col>`` and ``<col>_<level>``.
    """
    if drop_reference is None:
        drop_reference = scale
    numeric_steps: list[tuple[str, Any]] = [
        ("as_float", FunctionTransformer(_as_float, feature_names_out="one-to-one")),
        ("impute", SimpleImputer(strategy="median", add_indicator=True)),
        ("drop_redundant", DropRedundantColumns()),
    ]
    if scale:
        # Unweighted standardisation; explicitly not requesting the weights keeps routing quiet.
        with _routing():
            numeric_steps.append(("scale", StandardScaler().set_fit_request(sample_weight=False)))
    categorical_steps = [
        ("as_text", FunctionTransformer(_as_text, feature_names_out="one-to-one")),
        ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_LEVEL)),
        (
            "onehot",
            OneHotEncoder(
                handle_unknown="ignore",
                min_frequency=MIN_FREQUENCY,
                drop="first" if drop_reference else None,
                sparse_output=False,
            ),
        ),
    ]
    transformers = []
    if numeric:
        transformers.append(("numeric", Pipeline(numeric_steps), list(numeric)))
    if categorical:
        transformers.append(("categorical", Pipeline(categorical_steps), list(categorical)))
    return ColumnTransformer(
        transformers, remainder="drop", sparse_threshold=0.0, verbose_feature_names_out=False
    )


def _strip(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Estimator parameters from ``{"max_depth": 3}`` or pipeline style ``{"model__max_depth": 3}``.
    """
    out = {}
    for key, value in (params or {}).items():
        out[key.removeprefix("model__")] = value
    return out


def _estimator(
    name: str, task: str, params: Mapping[str, Any] | None, random_state: int, n_jobs: int
):
    regression = task == "regression"
    settings = {**DEFAULT_PARAMS[name], **_strip(params)}
    if name == "dummy":
        cls, fixed = (DummyRegressor, {"strategy": "mean"}) if regression else (
            DummyClassifier, {"strategy": "prior"})
    elif name == "ols":
        cls, fixed = LinearRegression, {}
    elif name == "logistic":
        cls, fixed = LogisticRegression, {}
    elif name == "mlp":
        cls = nn.MLPRegressor if regression else nn.MLPClassifier
        fixed = {"random_state": random_state}
    elif name == "folktables_gbm":
        cls, fixed = GradientBoostingClassifier, {"random_state": random_state}
    elif name == "random_forest":
        cls = RandomForestRegressor if regression else RandomForestClassifier
        fixed = {"random_state": random_state, "n_jobs": n_jobs}
    else:  # xgboost
        cls = xgboost.XGBRegressor if regression else xgboost.XGBClassifier
        fixed = {"random_state": random_state, "n_jobs": n_jobs}
    estimator = cls(**fixed)
    valid = estimator.get_params()
    unknown = sorted(set(settings) - set(valid))
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) for model {name!r}: {', '.join(unknown)}",
            f"use parameters of {cls.__name__}, e.g. {', '.join(sorted(valid)[:8])}",
        )
    return estimator.set_params(**settings)


def make_model(
    name: str,
    task: str,
    numeric: Sequence[str],
    categorical: Sequence[str],
    params: Mapping[str, Any] | None = None,
    random_state: int = 0,
    n_jobs: int = 1,
) -> Pipeline:
    """Return the unfitted pipeline ``[("preprocess", ColumnTransformer), ("model", estimator)]``.

    ``params`` override :data:`DEFAULT_PARAMS` (keys with or without the ``model__`` prefix). The
    estimator requests ``sample_weight`` for ``fit`` (``set_fit_request``), so under metadata
    routing ``pipeline.fit(X, y, sample_weight=w)`` reaches it. Without routing use
    ``pipeline.fit(X, y, model__sample_weight=w)``, or :func:`fit_model`.
    """
    _check_name(name, task)
    estimator = _estimator(name, task, params, random_state, n_jobs)
    if name in UNWEIGHTED:  # every column as its raw numeric code, no weights
        return Pipeline([("preprocess", make_preprocessor([*numeric, *categorical], [], scale=False)),
                         ("model", estimator)])
    with _routing():
        estimator.set_fit_request(sample_weight=True)
        preprocess = make_preprocessor(numeric, categorical, scale=name in SCALED, drop_reference=name in LINEAR)
    if name in LINEAR:
        # Different features can code the same households: "no job in 5 years" is a level of class
        # of worker, occupation and industry alike. Identical design columns make OLS coefficients
        # unidentifiable and the logistic Hessian singular, so a linear design keeps one of each.
        return Pipeline([("preprocess", preprocess), ("drop_redundant", DropRedundantColumns(intercept=True)),
                         ("model", estimator)])
    return Pipeline([("preprocess", preprocess), ("model", estimator)])


def fit_model(
    name: str,
    task: str,
    X: pd.DataFrame,
    y: Any,
    sample_weight: Any,
    random_state: int = 0,
    n_jobs: int = 1,
    params: Mapping[str, Any] | None = None,
    *,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
) -> Pipeline:
    """Fit a model with survey weights (untuned models, or a tuned configuration via ``params``).

    ``numeric``/``categorical`` default to a split of all columns of ``X`` by dtype
    (:func:`infer_columns`). Weights are normalised to mean 1 (:func:`normalise_weights`).
    """
    _check_name(name, task)
    numeric, categorical, target, weights = _prepare(
        X, y, sample_weight, task, numeric, categorical
    )
    pipeline = make_model(name, task, numeric, categorical, params, random_state, n_jobs)
    with _routing():
        if name in UNWEIGHTED:
            pipeline.fit(X, target)
        else:
            pipeline.fit(X, target, sample_weight=weights)
    return pipeline


# --------------------------------------------------------------------------------------------------
# Tuning
# --------------------------------------------------------------------------------------------------


def weighted_scorer(task: str):
    """Return the weighted CV scorer of ``task`` (greater is better), requesting ``sample_weight``.

    regression: negative RMSE; classification: negative log loss of the class-1 probability.
    """
    _check_task(task)
    if task == "regression":
        scorer = make_scorer(root_mean_squared_error, greater_is_better=False)
    else:
        scorer = make_scorer(
            log_loss, greater_is_better=False, response_method="predict_proba", labels=[0, 1]
        )
    with _routing():
        return scorer.set_score_request(sample_weight=True)


@dataclass
class TuningResult:
    """Outcome of :func:`tune`.

    Attributes
    ----------
    best_estimator : Pipeline
        Pipeline with the best parameters, refitted on all of X with the weights.
    best_params : dict
        Best parameters, as pipeline parameter names (``model__...``).
    cv_results : DataFrame
        One row per candidate and halving round: candidate (one id per parameter setting), iteration, n_resources, one column per
        searched parameter (without the ``model__`` prefix; numbers, or text when a parameter mixes
        types such as ``max_features`` "sqrt"/0.5), params (the candidate's pipeline parameters as
        JSON, for reuse), mean_test_score, std_test_score, rank_test_score, split<k>_test_score.
        No timings, so equal seeds give equal tables.
    seconds : float
        Wall-clock time of the search including the refit.
    best_score : float
        Mean CV score of the best candidate in the last round (see ``scoring``).
    scoring : str
        ``"neg_rmse"`` or ``"neg_log_loss"`` (weighted; greater is better).
    """

    best_estimator: Pipeline
    best_params: dict[str, Any]
    cv_results: pd.DataFrame
    seconds: float
    best_score: float
    scoring: str


def _json_scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot record parameter value {value!r} of type {type(value).__name__}")


def _tidy_cv_results(results: Mapping[str, Any], n_splits: int) -> pd.DataFrame:
    params = results["params"]
    names = sorted({key for candidate in params for key in candidate})
    # one id per parameter setting, the same in every round it survives to
    keys = [json.dumps(candidate, sort_keys=True, default=_json_scalar) for candidate in params]
    first_seen = {key: number for number, key in reversed(list(enumerate(keys)))}
    table = pd.DataFrame(
        {
            "candidate": [sorted(first_seen.values()).index(first_seen[key]) for key in keys],
            "iteration": np.asarray(results["iter"], dtype=np.int64),
            "n_resources": np.asarray(results["n_resources"], dtype=np.int64),
        }
    )
    for name in names:
        values = [candidate.get(name) for candidate in params]
        numbers = all(
            v is None or (isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
            for v in values
        )
        if numbers:
            column = pd.Series([np.nan if v is None else v for v in values])
        else:  # mixed, e.g. max_features "sqrt" or 0.5: text keeps the column one type
            column = pd.Series(["None" if v is None else str(v) for v in values], dtype=object)
        table[name.removeprefix("model__")] = column
    # Lossless copy of each candidate for reuse: json.loads(row.params) -> fit_model(params=...).
    table["params"] = keys
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        table[key] = np.asarray(results[key])
    for k in range(n_splits):
        table[f"split{k}_test_score"] = np.asarray(results[f"split{k}_test_score"])
    return table


def _folds(cv: Any, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    try:
        folds = [
            (np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64))
            for train, test in cv
        ]
    except (TypeError, ValueError):
        raise DataError(
            "cv must be a list of (train_index, validation_index) integer-array pairs",
            "pass the folds built by policyml.model.split",
        ) from None
    if len(folds) < 2:
        raise DataError(
            f"cv has {len(folds)} fold(s); tuning needs at least 2", "use 3 or more folds"
        )
    for train, test in folds:
        for part in (train, test):
            if part.size == 0 or part.min() < 0 or part.max() >= n:
                raise DataError(
                    f"a CV fold has indices outside 0..{n - 1} (or is empty)",
                    "build the folds with positions (0..n-1) of the rows of X, not labels",
                )
    return folds


def tune(
    name: str,
    task: str,
    X: pd.DataFrame,
    y: Any,
    sample_weight: Any,
    cv: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    n_candidates: int = 16,
    factor: int = 3,
    resource: str = "n_samples",
    random_state: int = 0,
    n_jobs: int = 1,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    search_space: Mapping[str, Any] | None = None,
    max_resources: int | str = "auto",
) -> TuningResult:
    """Tune a tree model with successive halving; weights reach both fitting and scoring.

    Parameters
    ----------
    name : {"random_forest", "xgboost"}
    cv : list of (train_index, validation_index)
        Fold positions into the rows of ``X``.
    n_candidates, factor : int
        Candidates sampled from :data:`SEARCH_SPACES` and the halving factor: each round keeps
        ``1/factor`` of the candidates and gives them ``factor`` times the resource.
    resource : str
        ``"n_samples"`` (training rows, subsampled in each fold; the validation rows are subsampled
        by the same fraction) or ``"model__n_estimators"`` (trees; removed from the search space,
        up to :data:`MAX_ESTIMATORS` unless ``max_resources`` is given).
    random_state : int
        Seeds the candidate sampling, the subsampling and the models: same seed, same result.
    n_jobs : int
        Parallel fits in the search (each model itself uses one thread).

    ``min_resources="exhaust"`` makes the last round use all the resource (all rows of each
    training fold). ``error_score="raise"``: a failed fit stops the search instead of scoring NaN.
    """
    _check_name(name, task)
    if name not in TUNED:
        raise ConfigError(
            f"model {name!r} is not tuned; tuned models: {', '.join(sorted(TUNED))}",
            "fit it with fit_model instead",
        )
    numeric, categorical, target, weights = _prepare(
        X, y, sample_weight, task, numeric, categorical
    )
    folds = _folds(cv, len(X))
    space = dict(SEARCH_SPACES[name] if search_space is None else search_space)
    if resource != "n_samples":
        if resource not in ("model__n_estimators",):
            raise ConfigError(
                f"unknown halving resource {resource!r}; allowed: n_samples, model__n_estimators",
                "use resource='n_samples' (rows) or 'model__n_estimators' (trees)",
            )
        space.pop(resource, None)
        if max_resources == "auto":
            max_resources = MAX_ESTIMATORS[name]
    pipeline = make_model(name, task, numeric, categorical, random_state=random_state, n_jobs=1)
    valid = pipeline.get_params()
    unknown = sorted(set(space) - set(valid))
    if unknown:
        raise ConfigError(
            f"search space names unknown parameters: {', '.join(unknown)}",
            "use pipeline parameter names such as model__max_depth",
        )
    search = HalvingRandomSearchCV(
        pipeline,
        space,
        n_candidates=n_candidates,
        factor=factor,
        resource=resource,
        max_resources=max_resources,
        min_resources="exhaust",
        cv=folds,
        scoring=weighted_scorer(task),
        refit=True,
        error_score="raise",
        return_train_score=False,
        random_state=random_state,
        n_jobs=n_jobs,
    )
    start = time.perf_counter()
    with _routing():
        search.fit(X, target, sample_weight=weights)
    seconds = time.perf_counter() - start
    return TuningResult(
        best_estimator=search.best_estimator_,
        best_params=dict(search.best_params_),
        cv_results=_tidy_cv_results(search.cv_results_, len(folds)),
        seconds=seconds,
        best_score=float(search.best_score_),
        scoring=SCORING[task],
    )


# --------------------------------------------------------------------------------------------------
# Prediction and coefficients
# --------------------------------------------------------------------------------------------------


def _required_columns(pipeline: Pipeline) -> list[str]:
    """The input columns the pipeline's preprocessing uses."""
    preprocess = pipeline.named_steps["preprocess"]
    return [column for name, _, columns in preprocess.transformers_ if name != "remainder"
            for column in columns]


def _check_fitted_pipeline(pipeline: Any) -> None:
    if not (isinstance(pipeline, Pipeline) and "preprocess" in pipeline.named_steps
            and "model" in pipeline.named_steps):
        raise ConfigError(
            f"expected a policyml model pipeline, got {type(pipeline).__name__}",
            "build it with make_model, fit_model or tune",
        )
    if not hasattr(pipeline.named_steps["preprocess"], "transformers_"):
        raise ConfigError("the model pipeline is not fitted", "fit it first (fit_model or tune)")


def predict(pipeline: Pipeline, task: str, X: pd.DataFrame) -> np.ndarray:
    """Predictions: log income for regression, the probability of class 1 for classification."""
    _check_task(task)
    _check_fitted_pipeline(pipeline)
    _check_frame(X)
    _check_columns(X, _required_columns(pipeline))
    if task == "regression":
        if hasattr(pipeline, "classes_"):
            raise ConfigError("the pipeline is a classifier but task is 'regression'",
                              "pass task='classification'")
        return np.asarray(pipeline.predict(X), dtype=np.float64)
    if not hasattr(pipeline, "classes_"):
        raise ConfigError("the pipeline is a regressor but task is 'classification'",
                          "pass task='regression'")
    classes = list(pipeline.classes_)
    if 1 not in classes:
        raise DataError(f"the classifier has no class 1 (classes {classes})",
                        "fit it on the 0/1 low-income flag")
    return np.asarray(pipeline.predict_proba(X)[:, classes.index(1)], dtype=np.float64)


def _term_kinds(preprocess: ColumnTransformer) -> list[str]:
    """Kind of each output column: numeric, missing_indicator, level, infrequent_levels."""
    kinds: list[str] = []
    for name, transformer, _ in preprocess.transformers_:
        if name == "numeric":
            for feature in transformer.get_feature_names_out():
                indicator = feature.startswith("missingindicator_")
                kinds.append("missing_indicator" if indicator else "numeric")
        elif name == "categorical":
            for feature in transformer.get_feature_names_out():
                infrequent = feature.endswith("_infrequent_sklearn")
                kinds.append("infrequent_levels" if infrequent else "level")
    return kinds


def _reference_levels(preprocess: ColumnTransformer) -> list[tuple[str, str]]:
    """(column, level) pairs dropped as reference levels by the one-hot encoder."""
    for name, transformer, columns in preprocess.transformers_:
        if name != "categorical":
            continue
        encoder = transformer.named_steps["onehot"]
        if encoder.drop_idx_ is None:
            return []
        return [
            (str(column), str(categories[int(index)]))
            for column, categories, index in zip(columns, encoder.categories_, encoder.drop_idx_)
            if index is not None
        ]
    return []


def coefficient_table(
    pipeline: Pipeline,
    X: pd.DataFrame,
    y: Any,
    weights: Any,
    replicate_weights: Any,
) -> pd.DataFrame:
    """Coefficients of a fitted ``ols`` or ``logistic`` pipeline with SDR replicate-weight SEs.

    The fitted preprocessing codes ``X`` once; the linear model is then refitted on that same
    matrix with each of the 80 replicate weights, and
    ``SE = sqrt(4/80 * sum_r (b_r - b)^2)``, ``MOE90 = 1.645 SE``. Preprocessing is unweighted, so
    it would be the same under every replicate weight. The coefficients are on the scale of the
    standardised numeric columns (per training SD), logistic ones on the log-odds scale.

    Parameters
    ----------
    pipeline : Pipeline
        Fitted on ``X, y`` with ``weights`` (e.g. by :func:`fit_model`).
    X, y : the training data the pipeline was fitted on.
    weights : array-like (n,)
        Full-sample weights (only checked; the coefficients are the pipeline's own).
    replicate_weights : array-like (n, 80)
        Replicate weights; zeros are allowed. Negative replicate weights cannot be refitted by
        scikit-learn: such replicates give NaN SEs, with the reason in ``note``.

    Returns
    -------
    DataFrame
        Columns term, kind (intercept, numeric, missing_indicator, level, infrequent_levels,
        reference), coefficient, se, moe90, ci90_low, ci90_high, note. One row for the intercept,
        one per design-matrix column (``get_feature_names_out`` order), then one row per dropped
        reference level (coefficient 0 by construction, no SE).
    """
    _check_fitted_pipeline(pipeline)
    model = pipeline.named_steps["model"]
    if not isinstance(model, (LinearRegression, LogisticRegression)):
        raise ConfigError(
            "coefficient_table needs a fitted ols or logistic pipeline, got "
            f"{type(model).__name__}",
            "use SHAP values (or permutation importance) for tree models",
        )
    task = "classification" if isinstance(model, LogisticRegression) else "regression"
    _check_frame(X)
    _check_columns(X, _required_columns(pipeline))
    n = len(X)
    target = _check_target(y, task, n)
    normalise_weights(weights, n)
    replicates = np.asarray(replicate_weights, dtype=np.float64)
    if replicates.shape != (n, REPLICATES) or not np.all(np.isfinite(replicates)):
        raise DataError(
            f"replicate weights must be a finite ({n}, {REPLICATES}) matrix, got shape "
            f"{replicates.shape}",
            "pass WGTP1..WGTP80 for the rows of X",
        )
    preprocess = pipeline.named_steps["preprocess"]
    design = pipeline[:-1].transform(X)
    names = [str(s) for s in preprocess.get_feature_names_out()]
    kinds = _term_kinds(preprocess)
    redundant = pipeline.named_steps.get("drop_redundant")
    keep = redundant.keep_ if redundant is not None else np.ones(len(names), dtype=bool)
    dropped = [name for name, kept in zip(names, keep) if not kept]
    names = [name for name, kept in zip(names, keep) if kept]
    kinds = [kind for kind, kept in zip(kinds, keep) if kept]
    full = np.concatenate([np.ravel(model.intercept_), np.ravel(model.coef_)])

    replicate_coefficients = np.full((REPLICATES, full.size), np.nan)
    skipped = []
    # One BLAS thread: 80 small solves run ~8x faster than with oversubscribed BLAS threads.
    with threadpool_limits(limits=1, user_api="blas"):
        for r in range(REPLICATES):
            w = replicates[:, r]
            if np.any(w < 0) or not w.sum() > 0:
                skipped.append(r + 1)
                continue
            refit = clone(model).fit(design, target, sample_weight=w / w.mean())
            replicate_coefficients[r] = np.concatenate(
                [np.ravel(refit.intercept_), np.ravel(refit.coef_)]
            )
    if skipped:
        note = (f"SE not computed: replicate(s) {', '.join(map(str, skipped[:5]))}"
                f"{'...' if len(skipped) > 5 else ''} have negative or all-zero weights")
    else:
        note = f"SDR SE from {REPLICATES} replicate-weight refits"
    ses = np.array(
        [sdr_standard_error(float(b), replicate_coefficients[:, j]) for j, b in enumerate(full)]
    )

    table = pd.DataFrame(
        {
            "term": ["(intercept)", *names],
            "kind": ["intercept", *kinds],
            "coefficient": full,
            "se": ses,
        }
    )
    table["moe90"] = Z90 * table["se"]
    table["ci90_low"] = table["coefficient"] - table["moe90"]
    table["ci90_high"] = table["coefficient"] + table["moe90"]
    table["note"] = note
    if task == "classification":
        # Quasi-complete separation (e.g. a small level with one outcome) has no finite MLE: the
        # solver stops at a huge log-odds coefficient whose SE is meaningless.
        huge = table["coefficient"].abs() > SEPARATION_LOG_ODDS
        table.loc[huge, "note"] = (
            f"|coefficient| > {SEPARATION_LOG_ODDS:g}: likely separation (no finite estimate); "
            f"{note}"
        )
    if dropped:
        table = pd.concat([table, pd.DataFrame({
            "term": dropped, "kind": "redundant", "coefficient": 0.0, "se": np.nan, "moe90": np.nan,
            "ci90_low": np.nan, "ci90_high": np.nan,
            "note": "dropped: constant in training or a linear combination of earlier columns "
                    "(e.g. the same households coded by another feature)",
        })], ignore_index=True)
    references = _reference_levels(preprocess)
    if references:
        reference_rows = pd.DataFrame(
            {
                "term": [f"{column}_{level}" for column, level in references],
                "kind": "reference",
                "coefficient": 0.0,
                "se": np.nan,
                "moe90": np.nan,
                "ci90_low": np.nan,
                "ci90_high": np.nan,
                "note": [f"reference level of {column} (dropped)" for column, _ in references],
            }
        )
        table = pd.concat([table, reference_rows], ignore_index=True)
    return table


# --------------------------------------------------------------------------------------------------
# Persistence
# --------------------------------------------------------------------------------------------------


#: Types a model file may hold beyond the ones skops trusts by default (scikit-learn estimators,
#: NumPy arrays, builtins): our own classes and functions, and the scikit-learn, XGBoost and NumPy
#: internals of fitted models. Anything else in a file refuses to load (skops audits the file's
#: types before constructing any object). ``sklearn.tree._tree.Tree`` holds raw node indices that
#: scikit-learn does not bounds-check, so a crafted forest could crash ``predict``: one more reason
#: :func:`load_model` reads files only from the run's own results (``within``).
TRUSTED_TYPES: tuple[str, ...] = (
    "policyml.model.models.DropRedundantColumns",
    "policyml.model.models._as_float",
    "policyml.model.models._as_text",
    "policyml.nn.estimators.MLPRegressor",
    "policyml.nn.estimators.MLPClassifier",
    "policyml.nn.layers.Sequential",
    "policyml.nn.layers.Dense",
    "policyml.nn.layers.Parameter",
    "policyml.nn.layers.ReLU",
    "policyml.nn.layers.Tanh",
    "policyml.nn.layers.Sigmoid",
    "policyml.nn.layers.Identity",
    "policyml.nn.train.History",
    "numpy.dtype",
    "sklearn.tree._tree.Tree",
    "xgboost.sklearn.XGBRegressor",
    "xgboost.sklearn.XGBClassifier",
)

#: Members of a model file next to skops' own (schema.json and its arrays).
_HEADER = "policyml.json"
_BOOSTERS = "xgboost"
#: Fixed member timestamps: the same model gives the same bytes (a zip stores write times).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def _children(node: Any) -> Iterable[tuple[str | int, Any]]:
    """(key, child) pairs of an estimator's attributes, a list or tuple, or a dict with str keys."""
    if isinstance(node, BaseEstimator):
        return vars(node).items()
    if isinstance(node, (list, tuple)):
        return enumerate(node)
    if isinstance(node, dict):
        return [(key, value) for key, value in node.items() if isinstance(key, str)]
    return ()


def _estimators(node: Any, path: tuple = ()) -> Iterable[tuple[tuple, BaseEstimator]]:
    """(path, estimator) for every estimator inside ``node`` (steps, fitted transformers, trees)."""
    if isinstance(node, BaseEstimator):
        yield path, node
    for key, child in _children(node):
        if isinstance(child, (BaseEstimator, list, tuple, dict)):
            yield from _estimators(child, (*path, key))


def _at(node: Any, path: Sequence[str | int]) -> Any:
    """The object at ``path`` (from :func:`_estimators`) inside ``node``."""
    for key in path:
        node = vars(node)[key] if isinstance(node, BaseEstimator) else node[key]
    return node


def _metadata_requests(estimator: BaseEstimator) -> dict[str, dict[str, Any]]:
    """The metadata an estimator was told to request (``set_fit_request`` and the like)."""
    requests = {}
    for method, request in vars(estimator.get_metadata_routing()).items():
        chosen = {param: alias for param, alias in getattr(request, "requests", {}).items()
                  if isinstance(alias, bool) or (isinstance(alias, str) and not alias.startswith("$"))}
        if chosen:
            requests[method] = chosen
    return requests


def _portable(pipeline: Pipeline) -> tuple[Pipeline, dict[str, Any], dict[str, bytes]]:
    """A copy of ``pipeline`` that skops can store, and what it leaves out.

    * Metadata requests (``set_fit_request(sample_weight=True)``) point back at their estimator, a
      cycle skops cannot store: they are dropped from the copy and listed in the header, to be
      requested again on loading.
    * XGBoost boosters are stored as XGBoost's own JSON model (``save_raw("json")``), one member
      each, instead of the in-memory snapshot skops would otherwise keep.
    """
    copy_ = copy.deepcopy(pipeline)
    requests, boosters, members = [], [], {}
    for path, estimator in _estimators(copy_):
        if "_metadata_request" in vars(estimator):
            wanted = _metadata_requests(estimator)
            if wanted:
                requests.append({"path": list(path), "requests": wanted})
            del estimator._metadata_request
        if isinstance(estimator, xgboost.XGBModel) and "_Booster" in vars(estimator):
            member = f"{_BOOSTERS}/{len(boosters)}.json"
            members[member] = bytes(estimator.get_booster().save_raw(raw_format="json"))
            boosters.append({"path": list(path), "member": member})
            del estimator._Booster  # the estimator keeps its settings; the trees go to the member
    return copy_, {"metadata_requests": requests, "xgboost_boosters": boosters}, members


def _canonical_schema(schema: Any, ids: dict[int, int], files: dict[str, str]) -> None:
    """Number skops' object ids and data files in order of appearance (they are memory addresses
    and random names), in place, so the same model always gives the same bytes."""
    if isinstance(schema, dict):
        if "__loader__" in schema:
            if isinstance(schema.get("__id__"), int):
                schema["__id__"] = ids.setdefault(schema["__id__"], len(ids) + 1)
            if isinstance(schema.get("file"), str):
                old = schema["file"]
                schema["file"] = files.setdefault(old, f"data/{len(files)}{Path(old).suffix}")
        for value in schema.values():
            _canonical_schema(value, ids, files)
    elif isinstance(schema, list):
        for value in schema:
            _canonical_schema(value, ids, files)


def _zero_padding(npy: bytes) -> bytes:
    """An .npy file with the padding bytes of a structured array zeroed.

    scikit-learn's tree nodes are records with padding between fields, left as whatever memory
    held: zeroing it makes equal models give equal bytes (and writes no stray memory to disk).
    """
    array = np.load(io.BytesIO(npy), allow_pickle=False)
    fields = array.dtype.fields
    if not fields or sum(dtype.itemsize for dtype, *_ in fields.values()) == array.dtype.itemsize:
        return npy
    clean = np.zeros(array.shape, dtype=array.dtype)
    for name in array.dtype.names:
        clean[name] = array[name]
    buffer = io.BytesIO()
    np.save(buffer, clean, allow_pickle=False)
    return buffer.getvalue()


def _model_bytes(pipeline: Pipeline) -> bytes:
    """The model file: skops' zip (schema.json, data/*), a header and XGBoost JSON members."""
    portable, header, members = _portable(pipeline)
    with zipfile.ZipFile(io.BytesIO(skops.io.dumps(portable))) as dumped:
        schema = json.loads(dumped.read("schema.json"))
        files: dict[str, str] = {}
        _canonical_schema(schema, {}, files)
        unnamed = set(dumped.namelist()) - set(files) - {"schema.json"}
        if unnamed:  # pragma: no cover - would mean skops writes files its schema does not name
            raise RuntimeError(f"skops wrote members its schema does not reference: {sorted(unnamed)}")
        data = {new: _zero_padding(dumped.read(old)) if new.endswith(".npy") else dumped.read(old)
                for old, new in files.items()}
    header = {
        "format": _FORMAT,
        "version": _FORMAT_VERSION,
        "sklearn": sklearn.__version__,
        "xgboost": xgboost.__version__,
        "skops": skops.__version__,
        **header,
    }
    contents = {_HEADER: json.dumps(header, indent=2).encode(),
                "schema.json": json.dumps(schema).encode(), **data, **members}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in contents.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def save_model(pipeline: Pipeline, path: str | os.PathLike) -> Path:
    """Save a fitted pipeline as a safe model file, atomically (:func:`policyml.core.outputs.write_bytes`).

    The file is a zip archive in the skops format (https://skops.readthedocs.io): no pickle, so
    loading it runs no code from the file, and :func:`load_model` constructs only the types of
    :data:`TRUSTED_TYPES` (and those skops trusts by default). XGBoost boosters are stored as
    XGBoost's JSON model. A header member, ``policyml.json``, records the file format version and
    the scikit-learn, XGBoost and skops versions. The same fitted model gives the same bytes. The
    file name's extension is not looked at (``.skops`` is the convention).
    """
    _check_fitted_pipeline(pipeline)
    path = Path(path)
    write_bytes(_model_bytes(pipeline), path)
    return path


def _unreadable(path: Path, detail: str) -> DataError:
    return DataError(
        f"model file {path} is corrupted or truncated ({detail})",
        "rerun the model step to rewrite it (delete the file, then run snakemake again)",
    )


def _check_within(path: Path, within: str | os.PathLike) -> Path:
    """``path`` resolved (symlinks followed), refused unless it lies inside ``within``."""
    resolved, root = path.resolve(), Path(within).resolve()
    if not resolved.is_relative_to(root):
        raise DataError(
            f"model file {path} is outside the run's results folder {root}"
            + (f" (it resolves to {resolved})" if resolved != path.absolute() else ""),
            f"load models only from {root}; refit the model there instead of copying or linking one in",
        )
    return resolved


def load_model(path: str | os.PathLike, within: str | os.PathLike | None = None) -> Pipeline:
    """Load a pipeline written by :func:`save_model`.

    Only the types of :data:`TRUSTED_TYPES` (and skops' default trusted types) are constructed;
    the file's types are checked before any object is built.

    Parameters
    ----------
    path : path of the model file.
    within : path, optional
        The run's results folder: a ``path`` that resolves (symlinks followed) outside it is refused.

    Raises
    ------
    DataError
        If the file is missing, outside ``within``, corrupted or truncated, not a policyml model
        file (or of another format version), or holds a type that is not trusted.
    """
    path = Path(path)
    if within is not None:
        _check_within(path, within)
    if not path.is_file():
        raise DataError(f"model file not found: {path}", "run the model step first (fit and save the model)")
    content = path.read_bytes()
    if not content.startswith(b"PK\x03\x04"):  # not a zip at all: empty, a pickle, another format
        raise DataError(f"{path} is not a policyml model file" + ("" if content else " (it is empty)"),
                        "rerun the model step to rewrite it with policyml.model.models.save_model")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            names = set(archive.namelist())
            header = json.loads(archive.read(_HEADER)) if _HEADER in names else None
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError) as error:
        raise _unreadable(path, f"{type(error).__name__}: {error}") from error
    if not (isinstance(header, dict) and header.get("format") == _FORMAT):
        raise DataError(f"{path} is not a policyml model file",
                        "rerun the model step to rewrite it with policyml.model.models.save_model")
    if header.get("version") != _FORMAT_VERSION:
        raise DataError(
            f"model file {path} has format version {header.get('version')!r}; this policyml reads "
            f"version {_FORMAT_VERSION}",
            "rerun the model step to rewrite it with this version of policyml",
        )
    try:
        pipeline = skops.io.loads(content, trusted=list(TRUSTED_TYPES))
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            for booster in header["xgboost_boosters"]:
                estimator = _at(pipeline, booster["path"])
                model = xgboost.Booster({"n_jobs": estimator.n_jobs})  # as XGBModel.load_model does
                model.load_model(bytearray(archive.read(booster["member"])))
                estimator._Booster = model
        with _routing():
            for record in header["metadata_requests"]:
                estimator = _at(pipeline, record["path"])
                for method, requests in record["requests"].items():
                    getattr(estimator, f"set_{method}_request")(**requests)
    except UntrustedTypesFoundException as error:
        untrusted = sorted(set(skops.io.get_untrusted_types(data=content)) - set(TRUSTED_TYPES))
        raise DataError(
            f"model file {path} holds types policyml does not trust: {', '.join(untrusted)}",
            "load only model files written by policyml.model.models.save_model; rerun the model step to rewrite it",
        ) from error
    except Exception as error:  # a damaged member raises many exception types
        raise _unreadable(path, f"{type(error).__name__}: {error}") from error
    if (header.get("sklearn"), header.get("xgboost")) != (sklearn.__version__, xgboost.__version__):
        log.warning("model file %s was written with scikit-learn %s and XGBoost %s (now %s and %s); "
                    "rerun the model step if its predictions look wrong", path, header.get("sklearn"),
                    header.get("xgboost"), sklearn.__version__, xgboost.__version__)
    _check_fitted_pipeline(pipeline)
    return pipeline
