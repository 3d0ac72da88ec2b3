"""Fairness mitigation of the low-income classifier, compared on the survey population.

The classification task flags low-income households, framed as targeting assistance: a false
negative is an eligible household the programme misses. For one sensitive attribute (default
``hispanic_origin``) and each base model (default logistic and xgboost) :func:`compare_mitigation`
sets side by side

``unmitigated``
    the fitted model as it is (protected attributes not among its inputs), flagged when the
    predicted probability reaches the configured threshold;
``threshold_optimizer``
    fairlearn's :class:`~fairlearn.postprocessing.ThresholdOptimizer` on the fitted pipeline
    (``prefit=True``, ``predict_method="predict_proba"``): group-specific, randomised thresholds
    chosen on the training rows. The default constraint, true-positive-rate parity, equalises the
    share of low-income households flagged in each group, which is one minus the missed-eligible
    (false-negative) rate: it targets the FNR gap directly (Hardt et al.'s equal opportunity).
    Equalized odds would also equalise false-positive rates, at a larger cost in accuracy;
``exponentiated_gradient``
    fairlearn's :class:`~fairlearn.reductions.ExponentiatedGradient` reduction around the
    logistic model's own LogisticRegression, fitted on the logistic pipeline's (already fitted)
    design matrix, under the matching moment (:class:`~fairlearn.reductions.TruePositiveRateParity`
    by default); a randomised mixture of logistic models that does not need the sensitive
    attribute at decision time;
``with_protected``
    the base model refit with the protected attributes added as inputs: ``sklearn.clone`` of the
    fitted pipeline (the tuned hyperparameters kept, not re-tuned) with the protected columns
    appended to its categorical columns, fitted with the survey weights.

Survey weights in fairlearn
    fairlearn 0.15 takes no sample weights in either mitigator: ThresholdOptimizer's threshold
    search counts rows (its ``fit`` passes extra arguments only to a non-prefit estimator), and
    ExponentiatedGradient's moments count rows too (``sample_weight_name`` only names the argument
    through which it hands its own reduction weights to the base estimator). Both are therefore
    fitted on a weight-proportional expansion of the training rows (:func:`survey_expansion`:
    systematic PPS sampling, ``weight_expansion`` draws per household on average), so the
    constraint and the objective are those of the weighted population, not of the sample.

Evaluation
    Every variant is evaluated on the test rows through :mod:`policyml.audit.fairness` (per-group
    metrics through one fairlearn MetricFrame with the survey weights, replicate values under the
    80 SDR weights) and :mod:`policyml.model.metrics`; SEs come from :mod:`policyml.core.survey`. The
    predictions are held fixed across replicates (no refit, no fresh random draws), as for every
    model in the pipeline. Randomised predictions are drawn with the run's seed, so the table is
    reproducible.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from fairlearn.postprocessing import ThresholdOptimizer
from fairlearn.reductions import (
    DemographicParity,
    EqualizedOdds,
    ExponentiatedGradient,
    TruePositiveRateParity,
)
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.pipeline import Pipeline

from ..core.errors import ConfigError, DataError
from ..core.survey import Estimate, SurveyDesign, reliability_options
from ..model import features, models
from ..model import metrics as M
from ..model.modelling import TaskData
from . import fairness

log = logging.getLogger(__name__)

#: Variants in table order.
VARIANTS = ("unmitigated", "threshold_optimizer", "exponentiated_gradient", "with_protected")

#: Protected attributes (categorical columns of the feature table) that ``with_protected`` adds as
#: model inputs when present, and the columns allowed as the sensitive feature. ``age`` (numeric)
#: is represented by ``age_band``.
PROTECTED = tuple(name for name in features.PROTECTED if features.CATALOG[name].kind == "categorical")

#: Columns of :func:`compare_mitigation`, in order.
COLUMNS = ("variant", "base_model", "sensitive_feature", "group", "metric", "estimate", "se", "note")

#: Constraint name -> fairlearn reduction moment (the ThresholdOptimizer takes the name itself).
CONSTRAINTS = {
    "true_positive_rate_parity": TruePositiveRateParity,
    "equalized_odds": EqualizedOdds,
    "demographic_parity": DemographicParity,
}
#: Classes every group must have in the (expanded) training rows for a constraint to be fitted.
_CLASSES_NEEDED = {"true_positive_rate_parity": (1,), "equalized_odds": (0, 1), "demographic_parity": ()}
#: ThresholdOptimizer objectives allowed with every constraint above.
OBJECTIVES = ("accuracy_score", "balanced_accuracy_score")

#: Options of :func:`compare_mitigation` (the config's ``fairness`` section) and their defaults.
DEFAULT_OPTIONS: dict[str, Any] = {
    "sensitive": "hispanic_origin",
    "base_models": ["logistic", "xgboost"],
    "exponentiated_gradient": True,
    "constraint": "true_positive_rate_parity",
    "objective": "accuracy_score",
    "weight_expansion": 5,
}

#: The model the exponentiated-gradient variant reduces (its design matrix and estimator).
EG_BASE = "logistic"

#: Overall metrics, group metrics and disparities (fairness metric -> table name) in table order.
OVERALL_METRICS = ("accuracy", "balanced_accuracy", "selection_rate", "false_negative_rate", "false_positive_rate")
GROUP_METRICS = ("selection_rate", "false_negative_rate", "false_positive_rate")
DISPARITIES = {
    "demographic_parity": "demographic_parity_difference",
    "equalized_odds": "equalized_odds_difference",
    "false_negative_rate": "false_negative_rate_difference",
    "false_positive_rate": "false_positive_rate_difference",
}

_WHY_CONSTRAINT = {
    "true_positive_rate_parity": "equal missed-eligible rates",
    "equalized_odds": "equal missed-eligible and false-positive rates",
    "demographic_parity": "equal selection rates",
}


# --------------------------------------------------------------------------------------------------
# Options and checks
# --------------------------------------------------------------------------------------------------


def mitigation_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``fairness`` options with defaults filled in, checked (other keys are ignored)."""
    filled = {**DEFAULT_OPTIONS, **{k: v for k, v in (options or {}).items() if k in DEFAULT_OPTIONS}}
    if not isinstance(filled["sensitive"], str):
        raise ConfigError(f"fairness.sensitive must be a column name, got {filled['sensitive']!r}",
                          f"use one of {', '.join(PROTECTED)}")
    base = filled["base_models"]
    if isinstance(base, str) or not base or not all(isinstance(b, str) for b in base):
        raise ConfigError(f"fairness.base_models must be a non-empty list of model names, got {base!r}",
                          "use e.g. [logistic, xgboost]")
    filled["base_models"] = list(dict.fromkeys(base))
    if not isinstance(filled["exponentiated_gradient"], bool):
        raise ConfigError(f"fairness.exponentiated_gradient must be true or false, got "
                          f"{filled['exponentiated_gradient']!r}", "use true or false")
    if filled["constraint"] not in CONSTRAINTS:
        raise ConfigError(f"unknown fairness constraint {filled['constraint']!r}",
                          f"use one of {', '.join(CONSTRAINTS)}")
    if filled["objective"] not in OBJECTIVES:
        raise ConfigError(f"unknown ThresholdOptimizer objective {filled['objective']!r}",
                          f"use one of {', '.join(OBJECTIVES)}")
    expansion = filled["weight_expansion"]
    if isinstance(expansion, bool) or not isinstance(expansion, (int, np.integer)) or expansion < 1:
        raise ConfigError(f"fairness.weight_expansion must be a positive integer, got {expansion!r}",
                          "use e.g. 5 (draws per training household on average)")
    return filled


def models_needed(options: Mapping[str, Any] | None) -> list[str]:
    """The fitted classification models the comparison reads: the base models, and the logistic
    model when the exponentiated-gradient variant is on."""
    opts = mitigation_options(options)
    return list(dict.fromkeys([*opts["base_models"], *([EG_BASE] if opts["exponentiated_gradient"] else [])]))


def sensitive_columns(data: TaskData) -> list[str]:
    """The protected columns present in both the training and the test rows."""
    return [c for c in PROTECTED if c in data.train.columns and c in data.test.columns]


def check_sensitive(data: TaskData, sensitive: str) -> None:
    """Raise a ConfigError naming ``sensitive`` and the allowed columns unless it can be used."""
    allowed = sensitive_columns(data)
    if sensitive not in allowed:
        raise ConfigError(
            f"sensitive feature {sensitive!r} is not a protected column of the {data.task} data",
            f"set fairness.sensitive to one of {', '.join(allowed) or '(none present)'}",
        )
    for part, frame in (("training", data.train), ("test", data.test)):
        missing = int(frame[sensitive].isna().sum())
        if missing:
            raise DataError(f"sensitive column {sensitive!r} has {missing} missing values in the {part} rows",
                            "recode missing values as an explicit level before the mitigation comparison")


def _group_labels(frame: pd.DataFrame, sensitive: str) -> np.ndarray:
    """The sensitive attribute as text labels (as policyml.audit.fairness labels groups)."""
    return frame[sensitive].astype(str).to_numpy(dtype=object)


def survey_expansion(weights: Any, factor: int, random_state: int | np.random.Generator) -> np.ndarray:
    """Row indices drawn in proportion to the survey weights: systematic PPS sampling.

    ``factor * n`` points (``n`` rows with a positive weight) are laid at ``u, u + 1, ...`` along
    the cumulated weights scaled to ``factor * n`` (``u`` uniform in [0, 1) from
    ``random_state``); row ``i`` is drawn once per point in its interval. Each row is drawn
    ``floor`` or ``ceil`` of ``factor * n * w_i / sum(w)`` times, so an unweighted statistic of the
    expanded rows estimates the weighted statistic of the original rows. Indices come in row
    order.
    """
    w = models.normalise_weights(weights)
    rng = np.random.default_rng(random_state)
    size = factor * int(np.count_nonzero(w > 0))
    scaled = np.cumsum(w) * (size / w.sum())
    start = rng.uniform()
    points_below = np.ceil(np.concatenate([[0.0], scaled]) - start)  # points u + j below each edge
    counts = np.diff(np.clip(points_below, 0, size)).astype(np.int64)
    return np.repeat(np.arange(w.shape[0]), counts)


def _unfit_reason(train_groups: np.ndarray, labels: np.ndarray, test_groups: np.ndarray,
                  constraint: str, sensitive: str) -> str | None:
    """Why a group constraint cannot be fitted on these (expanded) training rows, or None."""
    problems = []
    for group in sorted(set(train_groups) | set(test_groups)):
        rows = train_groups == group
        if not rows.any():
            problems.append(f"{group!r} has no training households")
            continue
        for cls in _CLASSES_NEEDED[constraint]:
            if not (labels[rows] == cls).any():
                kind = "positive (low-income)" if cls == 1 else "negative (not low-income)"
                problems.append(f"{group!r} has no {kind} training households")
    if not problems:
        return None
    return (f"not fitted: {constraint} on {sensitive} needs every group in the weighted training sample, "
            f"but {'; '.join(problems)} (choose another fairness.sensitive or a larger state)")


# --------------------------------------------------------------------------------------------------
# The mitigations
# --------------------------------------------------------------------------------------------------


def _check_classifier(pipeline: Any, name: str) -> None:
    if not (isinstance(pipeline, Pipeline) and "model" in pipeline.named_steps
            and hasattr(pipeline, "classes_") and hasattr(pipeline, "predict_proba")):
        raise ConfigError(f"model {name!r} is not a fitted policyml classification pipeline",
                          "pass the pipelines saved under models/classification/ (policyml.model.models.load_model)")
    classes = [int(c) for c in pipeline.classes_]
    if classes != [0, 1]:
        raise DataError(f"model {name!r} has classes {classes}, expected [0, 1]",
                        "fit it on the 0/1 low-income flag")


class UnfittableGroupsError(DataError):
    """A group constraint cannot be fitted: a group lacks training households of a needed class."""


@contextlib.contextmanager
def _quiet_fairlearn():
    """Silence pandas-4 deprecations raised inside fairlearn 0.15 (it enlarges Series with ``.at``
    and upcasts float Series to bool); nothing of ours is silenced."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning, module=r"fairlearn\.")
        yield


def _expanded_training(data: TaskData, sensitive: str, constraint: str, weight_expansion: int,
                       seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Weight-expanded training rows, their 0/1 labels and group labels, checked for the constraint."""
    rows = survey_expansion(data.train[data.weight], weight_expansion, seed)
    frame = data.train.iloc[rows]
    labels = frame[data.target].to_numpy().astype(np.int64)
    groups = _group_labels(frame, sensitive)
    reason = _unfit_reason(groups, labels, _group_labels(data.test, sensitive), constraint, sensitive)
    if reason:
        raise UnfittableGroupsError(reason, "choose another fairness.sensitive or a larger state")
    return frame, labels, groups


class ProbabilityScores(ClassifierMixin, BaseEstimator):
    """A fitted classification pipeline seen through its class-1 probability, as float64.

    ThresholdOptimizer stores its randomised decisions in a Series of the scores' dtype; under
    pandas 3 the float32 probabilities of XGBoost cannot take them (TypeError), so the scores are
    handed over as float64 (:func:`policyml.model.models.predict`). Prefit only: ``fit`` refuses.
    """

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline

    def fit(self, X, y=None, **fit_params):
        raise NotImplementedError("ProbabilityScores wraps a fitted pipeline; use prefit=True")

    def __sklearn_is_fitted__(self) -> bool:
        return True

    @property
    def classes_(self) -> np.ndarray:
        return self.pipeline.classes_

    def predict_proba(self, X) -> np.ndarray:
        positive = models.predict(self.pipeline, "classification", X)
        return np.column_stack([1.0 - positive, positive])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(np.int64)


def fit_threshold_optimizer(
    pipeline: Pipeline,
    data: TaskData,
    sensitive: str,
    *,
    constraint: str = "true_positive_rate_parity",
    objective: str = "accuracy_score",
    weight_expansion: int = 5,
    seed: int = 0,
) -> ThresholdOptimizer:
    """ThresholdOptimizer on a fitted pipeline, fitted on the weight-expanded training rows.

    Raises :class:`UnfittableGroupsError` when a group of ``sensitive`` lacks training households
    of a class the constraint needs (positives for true-positive-rate parity).
    """
    _check_classifier(pipeline, "base")
    frame, labels, groups = _expanded_training(data, sensitive, constraint, weight_expansion, seed)
    optimizer = ThresholdOptimizer(estimator=ProbabilityScores(pipeline), constraints=constraint, objective=objective,
                                   prefit=True, predict_method="predict_proba")
    with _quiet_fairlearn():
        optimizer.fit(frame[_inputs(pipeline)], labels, sensitive_features=groups)
    return optimizer


def fit_exponentiated_gradient(
    pipeline: Pipeline,
    data: TaskData,
    sensitive: str,
    *,
    constraint: str = "true_positive_rate_parity",
    weight_expansion: int = 5,
    seed: int = 0,
) -> Pipeline:
    """ExponentiatedGradient around a fitted logistic pipeline's estimator, on its design matrix.

    Returns a pipeline of the base pipeline's fitted preprocessing steps followed by the fitted
    reduction (``predict(X, random_state=seed)`` gives its randomised 0/1 predictions).
    """
    _check_classifier(pipeline, EG_BASE)
    frame, labels, groups = _expanded_training(data, sensitive, constraint, weight_expansion, seed)
    design = pipeline[:-1]
    reduction = ExponentiatedGradient(clone(pipeline.named_steps["model"]), CONSTRAINTS[constraint]())
    with _quiet_fairlearn():
        reduction.fit(design.transform(frame[_inputs(pipeline)]), labels, sensitive_features=groups)
    log.info("ExponentiatedGradient: %d oracle calls, %d of %d logistic models in the mix",
             reduction.n_oracle_calls_, int(np.count_nonzero(reduction.weights_ > 0)), len(reduction.weights_))
    return Pipeline([*design.steps, ("model", reduction)])


def refit_with_protected(
    pipeline: Pipeline,
    data: TaskData,
    protected: Sequence[str] | None = None,
    *,
    n_jobs: int = 1,
) -> tuple[Pipeline, list[str]]:
    """Refit a fitted pipeline (same hyperparameters, not re-tuned) with protected inputs added.

    The protected columns (default :data:`PROTECTED` present in the data and not yet inputs) are
    appended to the pipeline's categorical columns (one-hot coded like the others); the refit uses
    the normalised survey weights. Returns the fitted pipeline and the columns added.
    """
    _check_classifier(pipeline, "base")
    present = [c for c in (PROTECTED if protected is None else protected) if c in data.train.columns]
    inputs = _inputs(pipeline)
    added = [c for c in present if c not in inputs]
    refit = clone(pipeline)
    transformers = refit.named_steps["preprocess"].transformers
    if added and "categorical" not in [name for name, _, _ in transformers]:
        raise ConfigError("the model has no categorical columns to which protected attributes can be added",
                          "use a policyml model with categorical inputs (logistic, random_forest, xgboost)")
    transformers = [(name, transformer, [*columns, *added] if name == "categorical" else columns)
                    for name, transformer, columns in transformers]
    refit.set_params(preprocess__transformers=transformers)
    estimator = refit.named_steps["model"]
    if estimator.get_params().get("n_jobs") is not None:  # tree models (LogisticRegression's is deprecated)
        estimator.set_params(n_jobs=n_jobs)
    frame = data.train[[*inputs, *added]]
    y = data.train[data.target].to_numpy()
    weights = models.normalise_weights(data.train[data.weight])
    with sklearn.config_context(enable_metadata_routing=True):
        estimator.set_fit_request(sample_weight=True)  # as make_model asks; the weights reach the model only
        refit.fit(frame, y, sample_weight=weights)
    return refit, added


def _unseen_levels(data: TaskData, columns: Sequence[str]) -> str:
    """Test levels of ``columns`` that no training row has, as ``column=level`` text."""
    unseen = []
    for column in columns:
        seen = set(data.train[column].dropna().astype(str))
        unseen += [f"{column}={level}" for level in sorted(set(data.test[column].dropna().astype(str)) - seen)]
    return ", ".join(unseen)


def _inputs(pipeline: Pipeline) -> list[str]:
    """The input columns of a pipeline's column transformer (fitted or not)."""
    preprocess = pipeline.named_steps["preprocess"]
    listed = preprocess.transformers_ if hasattr(preprocess, "transformers_") else preprocess.transformers
    return [c for name, _, columns in listed if name != "remainder" for c in columns]


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------


def variant_metrics(
    data: TaskData, prediction: Any, sensitive: str, threshold: float, estimates: Mapping[str, Any] | None
) -> pd.DataFrame:
    """Test-set metrics of one set of predictions, with replicate SEs.

    ``prediction`` is a probability (flagged at ``threshold``) or a 0/1 decision (use
    ``threshold=0.5``). Rows: overall accuracy, balanced accuracy, selection rate, false-negative
    and false-positive rates (group ``"All"``); the last three per group of ``sensitive`` (small
    groups suppressed or flagged as in :mod:`policyml.audit.fairness`); the between-group differences
    (max - min over the non-suppressed groups). Columns ``sensitive_feature, group, metric,
    estimate, se, note``.
    """
    options = reliability_options(estimates)
    test = data.test
    result = fairness.group_metric_values(test, data.target, prediction, data.weight, [sensitive],
                                          "classification", threshold=threshold, **options)
    table, replicates = result.table, result.replicates
    design = SurveyDesign.from_frame(test, data.weight, **options)
    y = test[data.target].to_numpy(dtype=float)
    predicted = np.asarray(prediction, dtype=float)
    error_rates = [replicates[sensitive, fairness.OVERALL, m] for m in ("false_negative_rate", "false_positive_rate")]
    overall = {
        "accuracy": M.accuracy(y, predicted, design.matrix, threshold),
        "balanced_accuracy": 1 - (error_rates[0] + error_rates[1]) / 2,
        **{m: replicates[sensitive, fairness.OVERALL, m] for m in GROUP_METRICS},
    }
    rows = []
    for name in OVERALL_METRICS:
        rows.append(_estimate_row(sensitive, fairness.OVERALL, name, overall[name], design.n, options))
    for row in table.itertuples(index=False):
        if row.group == fairness.OVERALL or row.metric not in GROUP_METRICS:
            continue
        rows.append({"sensitive_feature": sensitive, "group": row.group, "metric": row.metric,
                     "estimate": row.estimate, "se": row.se, "note": None if pd.isna(row.reason) else row.reason})
    gaps = fairness.disparities(table, replicates).set_index("metric", drop=False)
    for row in gaps.loc[[m for m in DISPARITIES if m in gaps.index]].itertuples(index=False):
        note = None if pd.isna(row.reason) else row.reason
        if not pd.isna(row.max_group):
            extremes = (f"largest {row.max_group} ({row.max_estimate:.3f}), "
                        f"smallest {row.min_group} ({row.min_estimate:.3f})")
            note = extremes if note is None else f"{extremes}; {note}"
        rows.append({"sensitive_feature": sensitive, "group": None, "metric": DISPARITIES[row.metric],
                     "estimate": row.difference, "se": row.difference_se, "note": note})
    return pd.DataFrame(rows, columns=list(COLUMNS[2:]))


def _estimate_row(sensitive: str, group: str, name: str, values: np.ndarray, n: int,
                  options: Mapping[str, Any]) -> dict[str, Any]:
    labels = {"sensitive_feature": sensitive, "group": group, "metric": name}
    if not math.isfinite(values[0]):
        return {**labels, "estimate": math.nan, "se": math.nan, "note": "undefined on the full sample"}
    estimate = Estimate.from_replicates(values, n, options["cv_threshold"], options["min_n"])
    return {**labels, "estimate": estimate.estimate, "se": estimate.se, "note": estimate.reason}


def _unfitted_rows(data: TaskData, sensitive: str, reason: str) -> pd.DataFrame:
    """The metric rows of a variant that could not be fitted: NaN estimates, the reason as note."""
    groups = [str(level) for level in fairness.group_levels(data.test[sensitive])]
    rows = [(fairness.OVERALL, m) for m in OVERALL_METRICS]
    rows += [(g, m) for g in groups for m in GROUP_METRICS]
    rows += [(None, m) for m in DISPARITIES.values()]
    return pd.DataFrame([{"sensitive_feature": sensitive, "group": g, "metric": m, "estimate": math.nan,
                          "se": math.nan, "note": reason} for g, m in rows], columns=list(COLUMNS[2:]))


def _variant_note(variant: str, base: str, options: Mapping[str, Any], threshold: float, seed: int,
                  columns: Sequence[str] = ()) -> str:
    """What a variant is, in one short line (the module docstring has the long story).

    ``columns`` are the model's inputs (unmitigated) or the protected columns added (with_protected).
    """
    sensitive, constraint = options["sensitive"], options["constraint"]
    fairlearn_fit = (f"fitted on weight-expanded training rows (fairlearn takes no sample weights); "
                     f"randomised decisions, seed {seed}")
    if variant == "unmitigated":
        used = [c for c in PROTECTED if c in columns]
        inputs = f"inputs include {', '.join(used)}" if used else "protected attributes not inputs"
        return f"fitted {base} as is, {inputs}; flagged at p >= {threshold:g}"
    if variant == "threshold_optimizer":
        return (f"ThresholdOptimizer on {base}: {constraint} ({_WHY_CONSTRAINT[constraint]}) across {sensitive}, "
                f"{options['objective']}; needs {sensitive} at decision time; {fairlearn_fit}")
    if variant == "exponentiated_gradient":
        return (f"ExponentiatedGradient on {base}: {CONSTRAINTS[constraint].__name__} "
                f"({_WHY_CONSTRAINT[constraint]}) across {sensitive}; {fairlearn_fit}")
    return (f"{base} refit with {', '.join(columns) or 'no further columns'} as inputs, same hyperparameters "
            f"(not re-tuned); flagged at p >= {threshold:g}")


def _join(note: str, extra: Any) -> str:
    return note if extra is None or pd.isna(extra) else f"{note}; {extra}"


def compare_mitigation(
    data: TaskData,
    pipelines: Mapping[str, Pipeline],
    options: Mapping[str, Any] | None,
    *,
    seed: int,
    threshold: float,
    estimates: Mapping[str, Any] | None,
    n_jobs: int = 1,
) -> pd.DataFrame:
    """Mitigated and unmitigated classifiers side by side on the test households.

    Parameters
    ----------
    data : TaskData
        The classification task (training and test rows with the protected columns and weights).
    pipelines : mapping of str to Pipeline
        Fitted classification pipelines by model name; must hold every ``base_models`` entry (and
        ``"logistic"`` when ``exponentiated_gradient`` is on).
    options : mapping
        The config's ``fairness`` section: ``sensitive``, ``base_models``,
        ``exponentiated_gradient``, and optionally ``constraint`` (true_positive_rate_parity,
        equalized_odds, demographic_parity), ``objective`` (ThresholdOptimizer: accuracy_score or
        balanced_accuracy_score) and ``weight_expansion`` (see :data:`DEFAULT_OPTIONS`).
    seed : int
        Seeds the weight expansion and the randomised predictions.
    threshold : float
        Probability at which the unmitigated and with_protected models flag a household.
    estimates : mapping
        The config's ``estimates`` section (cv_threshold, min_sample) for the reliability notes.
    n_jobs : int
        Threads of the with_protected refit (tree models).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`: per base model the variants unmitigated, threshold_optimizer,
        exponentiated_gradient (logistic only) and with_protected; per variant the rows of
        :func:`variant_metrics`. ``note`` says what the variant is and why a row is unreliable;
        a variant that cannot be fitted (a group without positive training households, say) has
        NaN rows with the reason instead of an error. Wall times are logged.

    Raises
    ------
    ConfigError
        Sensitive feature not among the protected columns, a base model without a pipeline, bad
        options or a non-classification task.
    """
    if data.task != "classification":
        raise ConfigError(f"the mitigation comparison is for the classification task, got {data.task!r}",
                          "pass the classification task's data")
    opts = mitigation_options(options)
    sensitive = opts["sensitive"]
    check_sensitive(data, sensitive)
    needed = models_needed(opts)
    missing = [name for name in needed if name not in pipelines]
    if missing:
        raise ConfigError(
            f"no fitted pipeline for model(s) {', '.join(missing)} of the mitigation comparison "
            f"(available: {', '.join(pipelines) or 'none'})",
            "add them to models.classification, or drop them from fairness.base_models "
            "(set fairness.exponentiated_gradient false to skip the logistic reduction)",
        )
    for name in needed:
        _check_classifier(pipelines[name], name)
    plan = []
    for base in opts["base_models"]:
        plan += [("unmitigated", base), ("threshold_optimizer", base)]
        if base == EG_BASE and opts["exponentiated_gradient"]:
            plan.append(("exponentiated_gradient", base))
        plan.append(("with_protected", base))
    if opts["exponentiated_gradient"] and EG_BASE not in opts["base_models"]:
        plan.append(("exponentiated_gradient", EG_BASE))
    tables = []
    for variant, base in plan:
        started = time.perf_counter()
        try:
            prediction, cut, note = _variant_predictions(variant, base, pipelines[base], data, opts,
                                                         seed=seed, threshold=threshold, n_jobs=n_jobs)
            table = variant_metrics(data, prediction, sensitive, cut, estimates)
            table["note"] = [_join(note, extra) for extra in table["note"]]
        except UnfittableGroupsError as error:
            table = _unfitted_rows(data, sensitive, error.message)
        log.info("mitigation %s / %s: %.1f s", variant, base, time.perf_counter() - started)
        table.insert(0, "base_model", base)
        table.insert(0, "variant", variant)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)[list(COLUMNS)]


def _variant_predictions(
    variant: str, base: str, pipeline: Pipeline, data: TaskData, opts: Mapping[str, Any], *,
    seed: int, threshold: float, n_jobs: int,
) -> tuple[np.ndarray, float, str]:
    """A variant's test-set predictions, the threshold that flags them and its note."""
    sensitive = opts["sensitive"]
    X = data.test[_inputs(pipeline)]
    note = _variant_note(variant, base, opts, threshold, seed, _inputs(pipeline))
    if variant == "unmitigated":
        return models.predict(pipeline, "classification", X), threshold, note
    if variant == "threshold_optimizer":
        optimizer = fit_threshold_optimizer(
            pipeline, data, sensitive, constraint=opts["constraint"], objective=opts["objective"],
            weight_expansion=opts["weight_expansion"], seed=seed)
        with _quiet_fairlearn():
            decisions = optimizer.predict(X, sensitive_features=_group_labels(data.test, sensitive),
                                          random_state=seed)
        return np.asarray(decisions, dtype=float), 0.5, note
    if variant == "exponentiated_gradient":
        reduction = fit_exponentiated_gradient(pipeline, data, sensitive, constraint=opts["constraint"],
                                               weight_expansion=opts["weight_expansion"], seed=seed)
        return np.asarray(reduction.predict(X, random_state=seed), dtype=float), 0.5, note
    refit, added = refit_with_protected(pipeline, data, n_jobs=n_jobs)
    with warnings.catch_warnings():
        # one-hot coding with a dropped reference level warns about levels unseen in training and
        # codes them as the reference level; the note names them instead
        warnings.filterwarnings("ignore", message="Found unknown categories", category=UserWarning)
        score = models.predict(refit, "classification", data.test[_inputs(refit)])
    note = _variant_note(variant, base, opts, threshold, seed, added)
    unseen = _unseen_levels(data, added)
    if unseen:
        note += f"; not in the training rows, coded as an infrequent or reference level: {unseen}"
    return score, threshold, note


__all__ = [
    "COLUMNS",
    "CONSTRAINTS",
    "DEFAULT_OPTIONS",
    "PROTECTED",
    "ProbabilityScores",
    "UnfittableGroupsError",
    "VARIANTS",
    "check_sensitive",
    "compare_mitigation",
    "fit_exponentiated_gradient",
    "fit_threshold_optimizer",
    "mitigation_options",
    "models_needed",
    "refit_with_protected",
    "sensitive_columns",
    "survey_expansion",
    "variant_metrics",
]
