"""Tests for policyml.model.metrics, checked against scikit-learn and plain per-column loops."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)

from policyml.core.errors import ConfigError, DataError
from policyml.core.survey import REPLICATES, Z90, SurveyDesign
from policyml.model.metrics import (
    CALIBRATION_COLUMNS,
    CLASSIFICATION_METRICS,
    EVALUATION_COLUMNS,
    REGRESSION_METRICS,
    calibration_table,
    evaluate,
    false_negative_rate,
    false_positive_rate,
    precision,
    r2,
    rmse,
    roc_auc,
)

TOLERANCE = 1e-10
SOME_COLUMNS = [0, 1, 17, 42, 80]  # full sample and a few replicates


# --------------------------------------------------------------------------------------------------
# Synthetic test set and independent reference calculations
# --------------------------------------------------------------------------------------------------


def make_weights(rng: np.random.Generator, records: int) -> np.ndarray:
    """Integer full-sample weights and SDR-like replicates ``round(w * 0.5 or 1.5)``, (n, 81)."""
    weights = rng.integers(1, 60, records)
    factors = rng.choice([0.5, 1.5], size=(records, REPLICATES))
    return np.column_stack([weights, np.round(weights[:, None] * factors)])


def make_test_set(seed: int = 3, records: int = 500) -> dict[str, np.ndarray]:
    """Weights, log income with two correlated models' predictions, a low-income flag and scores."""
    rng = np.random.default_rng(seed)
    log_income = rng.normal(11.0, 0.8, records)
    ols = log_income + rng.normal(0.05, 0.5, records)
    xgb = ols + rng.normal(-0.02, 0.1, records)  # highly correlated with ols
    low_income = (rng.random(records) < 0.3).astype(int)
    logit = -1.0 + 2.5 * low_income + rng.normal(0, 1.2, records)
    score = 1 / (1 + np.exp(-logit))
    score_rounded = np.round(score, 1)  # many ties
    other_score = np.clip(score + rng.normal(0, 0.05, records), 0, 1)
    return {
        "W": make_weights(rng, records),
        "log_income": log_income,
        "ols": ols,
        "xgb": xgb,
        "low_income": low_income,
        "score": score,
        "score_rounded": score_rounded,
        "other_score": other_score,
    }


@pytest.fixture
def data() -> dict[str, np.ndarray]:
    return make_test_set()


@pytest.fixture
def design(data: dict[str, np.ndarray]) -> SurveyDesign:
    return SurveyDesign(data["W"][:, 0], data["W"][:, 1:])


def sklearn_rmse(y, p, sample_weight):
    return math.sqrt(mean_squared_error(y, p, sample_weight=sample_weight))


def sklearn_bias(y, p, sample_weight):
    return float(np.average(np.asarray(p) - np.asarray(y), weights=sample_weight))


def sklearn_mae_dollars(y, p, sample_weight):
    return mean_absolute_error(np.exp(y), np.exp(p), sample_weight=sample_weight)


REGRESSION_REFERENCES = {
    "rmse": sklearn_rmse,
    "mae": mean_absolute_error,
    "r2": r2_score,
    "bias": sklearn_bias,
    "mae_dollars": sklearn_mae_dollars,
}


def hand_confusion(y, score, weights, threshold):
    """Weighted confusion matrix by a plain loop: (tp, fp, fn, tn)."""
    tp = fp = fn = tn = 0.0
    for label, value, weight in zip(y, score, weights):
        predicted = value >= threshold
        if label == 1 and predicted:
            tp += weight
        elif label == 0 and predicted:
            fp += weight
        elif label == 1:
            fn += weight
        else:
            tn += weight
    return tp, fp, fn, tn


def classification_reference(name, y, score, weights, threshold):
    """The metric from scikit-learn (or the hand confusion matrix for the error rates)."""
    predicted = (score >= threshold).astype(int)
    if name == "roc_auc":
        return roc_auc_score(y, score, sample_weight=weights)
    if name == "precision":
        return precision_score(y, predicted, sample_weight=weights)
    if name == "recall":
        return recall_score(y, predicted, sample_weight=weights)
    if name == "f1":
        return f1_score(y, predicted, sample_weight=weights)
    if name == "accuracy":
        return accuracy_score(y, predicted, sample_weight=weights)
    if name == "brier":
        return brier_score_loss(y, score, sample_weight=weights)
    if name == "selection_rate":
        return float(np.average(predicted, weights=weights))
    tp, fp, fn, tn = hand_confusion(y, score, weights, threshold)
    if name == "false_positive_rate":
        return fp / (fp + tn)
    if name == "false_negative_rate":
        return fn / (fn + tp)
    raise KeyError(name)


def loop_se(per_column: list[float]) -> float:
    """SDR standard error from a list of 81 values (full sample first), by a plain loop."""
    squares = 0.0
    for value in per_column[1:]:
        squares += (value - per_column[0]) ** 2
    return math.sqrt(4 / 80 * squares)


def assert_close(actual: float, expected: float) -> None:
    assert actual == pytest.approx(expected, rel=TOLERANCE, abs=TOLERANCE)


def table_row(table: pd.DataFrame, model: str, metric: str, baseline: str | None = None):
    """The single row of an evaluate() table for a model, metric and (optional) baseline."""
    in_baseline = table["baseline"].isna() if baseline is None else table["baseline"] == baseline
    selected = table[(table["model"] == model) & (table["metric"] == metric) & in_baseline]
    assert len(selected) == 1
    return selected.iloc[0]


# --------------------------------------------------------------------------------------------------
# Metric functions against scikit-learn
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(REGRESSION_METRICS))
def test_regression_metric_matches_sklearn_per_weight_column(data, name):
    """Check that each regression metric equals scikit-learn's with sample_weight, per column."""
    y, p, W = data["log_income"], data["ols"], data["W"]
    values = REGRESSION_METRICS[name](y, p, W)
    assert values.shape == (REPLICATES + 1,)
    for column in SOME_COLUMNS:
        expected = REGRESSION_REFERENCES[name](y, p, sample_weight=W[:, column])
        assert_close(values[column], expected)


@pytest.mark.parametrize("threshold", [0.5, 0.3])
@pytest.mark.parametrize("name", list(CLASSIFICATION_METRICS))
def test_classification_metric_matches_reference_per_weight_column(data, name, threshold):
    """Check that each classification metric equals scikit-learn (or a hand confusion matrix)."""
    y, score, W = data["low_income"], data["score"], data["W"]
    values = CLASSIFICATION_METRICS[name](y, score, W, threshold)
    assert values.shape == (REPLICATES + 1,)
    for column in SOME_COLUMNS:
        expected = classification_reference(name, y, score, W[:, column], threshold)
        assert_close(values[column], expected)


def test_error_rates_match_hand_confusion_matrix(data):
    """Check that FPR and FNR equal the rates of a weighted confusion matrix built by a loop."""
    y, score, W = data["low_income"], data["score"], data["W"]
    fpr, fnr = false_positive_rate(y, score, W, 0.4), false_negative_rate(y, score, W, 0.4)
    for column in SOME_COLUMNS:
        tp, fp, fn, tn = hand_confusion(y, score, W[:, column], 0.4)
        assert_close(fpr[column], fp / (fp + tn))
        assert_close(fnr[column], fn / (fn + tp))


def test_roc_auc_tied_scores_match_sklearn_and_pairwise_count(data):
    """Check that ROC AUC with many tied scores equals sklearn and the pairwise weighted count."""
    y, score, W = data["low_income"], data["score_rounded"], data["W"]
    values = roc_auc(y, score, W)
    for column in SOME_COLUMNS:
        weights = W[:, column]
        assert_close(values[column], roc_auc_score(y, score, sample_weight=weights))
    # Pairwise definition: P(positive scores above negative), ties counting one half.
    weights = W[:, 0]
    positive, negative = y == 1, y == 0
    above = score[positive][:, None] > score[negative][None, :]
    tied = score[positive][:, None] == score[negative][None, :]
    pair_weights = weights[positive][:, None] * weights[negative][None, :]
    expected = float((pair_weights * (above + 0.5 * tied)).sum() / pair_weights.sum())
    assert_close(values[0], expected)


def test_metric_with_weight_vector_returns_float(data):
    """Check that a metric given one weight vector returns a float equal to that column's value."""
    y, p, W = data["log_income"], data["ols"], data["W"]
    single = rmse(y, p, W[:, 5])
    assert isinstance(single, float)
    assert single == pytest.approx(rmse(y, p, W)[5], rel=1e-14)
    auc = roc_auc(data["low_income"], data["score"], W[:, 5])
    assert isinstance(auc, float)


def test_metrics_accept_pandas_series(data):
    """Check that metrics accept pandas Series inputs and give the same values as arrays."""
    y, p, W = data["log_income"], data["ols"], data["W"]
    np.testing.assert_array_equal(r2(pd.Series(y), pd.Series(p), W), r2(y, p, W))


def test_undefined_metrics_are_nan_without_warning(data):
    """Check that undefined metrics give NaN (no warning: pytest turns warnings into errors)."""
    y, score, W = data["low_income"], data["score"], data["W"]
    no_predicted_positive = np.minimum(score, 0.4)
    assert np.all(np.isnan(precision(y, no_predicted_positive, W, 0.5)))
    assert np.all(np.isnan(roc_auc(np.zeros_like(y), score, W)))
    assert np.all(np.isnan(false_negative_rate(np.zeros_like(y), score, W)))
    constant = np.full(len(y), 11.0)
    assert np.all(np.isnan(r2(constant, data["ols"], W)))
    zero_column = W.copy()
    zero_column[:, 3] = 0
    for name, metric in REGRESSION_METRICS.items():
        assert np.isnan(metric(data["log_income"], data["ols"], zero_column)[3]), name
    for name, metric in CLASSIFICATION_METRICS.items():
        assert np.isnan(metric(y, score, zero_column)[3]), name


def test_metrics_zero_weight_rows_do_not_change_any_value(data):
    """Check that rows with zero weight in every column leave every metric unchanged."""
    W = data["W"]
    keep = np.random.default_rng(11).random(len(W)) < 0.6
    zeroed = np.where(keep[:, None], W, 0.0)
    # Arbitrary (finite) values in the zero-weight rows must not matter.
    garbage = np.where(keep, 1.0, np.linspace(0, 1, len(W)))
    cases = {
        "regression": (REGRESSION_METRICS, data["log_income"], data["ols"], 20.0),
        "classification": (CLASSIFICATION_METRICS, data["low_income"], data["score"], None),
    }
    for registry, y, prediction, scale in cases.values():
        y_changed = np.where(keep, y, 1 - y if scale is None else scale * garbage)
        prediction_changed = np.where(keep, prediction, garbage if scale is None else 3.0)
        for name, metric in registry.items():
            expected = metric(y[keep], prediction[keep], W[keep])
            np.testing.assert_allclose(metric(y, prediction, zeroed), expected, rtol=1e-12)
            np.testing.assert_allclose(
                metric(y_changed, prediction_changed, zeroed), expected, rtol=1e-12, err_msg=name
            )


# --------------------------------------------------------------------------------------------------
# evaluate(): estimates and SEs against per-column loops
# --------------------------------------------------------------------------------------------------


def test_evaluate_regression_ses_match_sklearn_loop(data, design):
    """Check that every regression estimate and SE equal a loop of sklearn over the 81 columns."""
    y, W = data["log_income"], data["W"]
    table = evaluate(design, y, {"ols": data["ols"], "xgb": data["xgb"]}, "regression")
    for model in ["ols", "xgb"]:
        for name, reference in REGRESSION_REFERENCES.items():
            per_column = [
                reference(y, data[model], sample_weight=W[:, c]) for c in range(REPLICATES + 1)
            ]
            row = table_row(table, model, name)
            assert_close(row["estimate"], per_column[0])
            assert_close(row["se"], loop_se(per_column))
            assert_close(row["moe90"], Z90 * row["se"])
            assert_close(row["cv"], row["se"] / abs(row["estimate"]))


def test_evaluate_classification_ses_match_sklearn_loop(data, design):
    """Check that every classification estimate and SE equal a loop over the 81 columns."""
    y, W, score = data["low_income"], data["W"], data["score"]
    table = evaluate(design, y, {"logit": score}, "classification", threshold=0.4)
    for name in CLASSIFICATION_METRICS:
        per_column = [
            classification_reference(name, y, score, W[:, c], 0.4) for c in range(REPLICATES + 1)
        ]
        row = table_row(table, "logit", name)
        assert_close(row["estimate"], per_column[0])
        assert_close(row["se"], loop_se(per_column))


def test_evaluate_difference_se_matches_paired_loop_and_beats_independence(data, design):
    """Check that a difference row's SE equals the loop over paired differences and is smaller
    than the SE that assumes independent models, for highly correlated predictions."""
    y, W = data["log_income"], data["W"]
    assert np.corrcoef(data["ols"], data["xgb"])[0, 1] > 0.95
    predictions = {"ols": data["ols"], "xgb": data["xgb"]}
    table = evaluate(design, y, predictions, "regression", baseline="ols")
    for name, reference in REGRESSION_REFERENCES.items():
        differences = [
            reference(y, data["xgb"], sample_weight=W[:, c])
            - reference(y, data["ols"], sample_weight=W[:, c])
            for c in range(REPLICATES + 1)
        ]
        row = table_row(table, "xgb", name, baseline="ols")
        assert_close(row["estimate"], differences[0])
        assert_close(row["se"], loop_se(differences))
        se_xgb, se_ols = table_row(table, "xgb", name)["se"], table_row(table, "ols", name)["se"]
        assert row["se"] < math.sqrt(se_xgb**2 + se_ols**2)


def test_evaluate_classification_difference_matches_paired_loop(data, design):
    """Check that classification difference rows equal the loop over paired sklearn differences."""
    y, W = data["low_income"], data["W"]
    predictions = {"logit": data["score"], "boosted": data["other_score"]}
    table = evaluate(design, y, predictions, "classification", baseline="logit")
    for name in ["roc_auc", "f1", "brier"]:
        differences = [
            classification_reference(name, y, data["other_score"], W[:, c], 0.5)
            - classification_reference(name, y, data["score"], W[:, c], 0.5)
            for c in range(REPLICATES + 1)
        ]
        row = table_row(table, "boosted", name, baseline="logit")
        assert_close(row["estimate"], differences[0])
        assert_close(row["se"], loop_se(differences))


def test_evaluate_table_has_tidy_layout_and_stable_order(data, design):
    """Check the columns, that level rows come first (models then metrics in order), then the
    difference rows against the baseline, and that n counts all cases for regression."""
    predictions = {"xgb": data["xgb"], "ols": data["ols"], "rf": data["ols"] + 0.01}
    table = evaluate(design, data["log_income"], predictions, "regression", baseline="ols")
    assert list(table.columns) == list(EVALUATION_COLUMNS)
    names = list(REGRESSION_METRICS)
    level = [(m, None, name) for m in ["xgb", "ols", "rf"] for name in names]
    differences = [(m, "ols", name) for m in ["xgb", "rf"] for name in names]
    baselines = [None if pd.isna(b) else b for b in table["baseline"]]
    assert list(zip(table["model"], baselines, table["metric"])) == level + differences
    assert (table["n"] == design.n).all()
    assert table["reliable"].all()
    assert table["reason"].isna().all()


def test_evaluate_without_baseline_has_no_difference_rows(data, design):
    """Check that without a baseline there is one row per model and metric, baseline missing."""
    table = evaluate(design, data["low_income"], {"logit": data["score"]}, "classification")
    assert len(table) == len(CLASSIFICATION_METRICS)
    assert table["baseline"].isna().all()


def test_evaluate_metrics_subset_follows_registry_order(data, design):
    """Check that a subset of metrics is reported in registry order."""
    table = evaluate(
        design, data["log_income"], {"ols": data["ols"]}, "regression", metrics=["r2", "rmse"]
    )
    assert list(table["metric"]) == ["rmse", "r2"]


def test_evaluate_n_counts_cases_behind_classification_metric(data, design):
    """Check that n counts predicted positives for precision, positives for recall/FNR, negatives
    for FPR, either for F1 and all cases otherwise."""
    y, score = data["low_income"], data["score"]
    table = evaluate(design, y, {"logit": score}, "classification", threshold=0.6)
    predicted = score >= 0.6
    expected = {
        "precision": predicted.sum(),
        "recall": (y == 1).sum(),
        "false_negative_rate": (y == 1).sum(),
        "false_positive_rate": (y == 0).sum(),
        "f1": ((y == 1) | predicted).sum(),
        "roc_auc": len(y),
        "accuracy": len(y),
    }
    for name, n in expected.items():
        assert table_row(table, "logit", name)["n"] == n


def test_evaluate_signed_metrics_and_differences_not_judged_by_cv(data, design):
    """Check that bias and differences near zero stay reliable despite a CV above the threshold,
    while a level metric with a high CV is flagged."""
    y = data["log_income"]
    unbiased = y + np.random.default_rng(5).normal(0, 0.5, len(y))
    predictions = {"a": unbiased, "b": unbiased + 1e-4}
    table = evaluate(design, y, predictions, "regression", baseline="a")
    bias_row = table_row(table, "a", "bias")
    assert bias_row["cv"] > design.cv_threshold
    assert bias_row["reliable"]
    difference = table_row(table, "b", "r2", baseline="a")
    assert difference["cv"] > design.cv_threshold
    assert difference["reliable"]
    strict = SurveyDesign(design.weights, design.replicate_weights, cv_threshold=0.01)
    flagged = table_row(evaluate(strict, y, predictions, "regression"), "a", "rmse")
    assert not flagged["reliable"]
    assert flagged["reason"].startswith("CV")


def test_evaluate_undefined_full_sample_metric_gives_flagged_nan_row(data, design):
    """Check that precision with no predicted positive gives a NaN row flagged with the reason."""
    score = np.minimum(data["score"], 0.4)
    table = evaluate(design, data["low_income"], {"timid": score}, "classification")
    row = table_row(table, "timid", "precision")
    assert math.isnan(row["estimate"]) and math.isnan(row["se"])
    assert row["n"] == 0
    assert not row["reliable"]
    assert "no case is predicted positive" in row["reason"]
    assert table_row(table, "timid", "recall")["estimate"] == 0.0


def test_evaluate_domain_design_equals_filtered_records(data, design):
    """Check that a domain design (zero weights outside) gives the table of the filtered rows."""
    mask = data["log_income"] > 10.8
    W = data["W"]
    filtered = SurveyDesign(W[mask, 0], W[mask, 1:])
    predictions = {"logit": data["score"], "boosted": data["other_score"]}
    y = data["low_income"]
    on_domain = evaluate(design.domain(mask), y, predictions, "classification", baseline="logit")
    on_rows = evaluate(
        filtered, y[mask], {m: p[mask] for m, p in predictions.items()}, "classification",
        baseline="logit",
    )
    pd.testing.assert_frame_equal(on_domain, on_rows, rtol=1e-12)


# --------------------------------------------------------------------------------------------------
# Calibration table
# --------------------------------------------------------------------------------------------------


def test_calibration_table_perfect_calibration_observed_matches_predicted():
    """Check that when y ~ Bernoulli(score) the observed rate is within sampling noise of the mean
    score in every bin, counts sum to n and weighted shares sum to 1."""
    rng = np.random.default_rng(21)
    records = 5000
    score = rng.random(records)
    y = (rng.random(records) < score).astype(int)
    weights = rng.integers(1, 60, records).astype(float)
    table = calibration_table(y, score, weights, n_bins=10)
    assert list(table.columns) == list(CALIBRATION_COLUMNS)
    assert len(table) == 10
    assert table["n"].sum() == records
    assert table["weight_share"].sum() == pytest.approx(1.0, rel=1e-12)
    bins = np.minimum((score * 10).astype(int), 9)
    for k, row in table.iterrows():
        inside = bins == k
        w = weights[inside]
        effective_n = w.sum() ** 2 / (w**2).sum()
        noise = math.sqrt(row["mean_predicted"] * (1 - row["mean_predicted"]) / effective_n)
        assert abs(row["observed_rate"] - row["mean_predicted"]) < 4 * noise
        assert row["lower"] <= row["mean_predicted"] < row["upper"]
        assert_close(row["mean_predicted"], np.average(score[inside], weights=w))
        assert_close(row["observed_rate"], np.average(y[inside], weights=w))
        assert row["n"] == inside.sum()


def test_calibration_table_edges_empty_bins_and_zero_weights():
    """Check that a score of 1 falls in the last bin, empty bins give NaN means and zero-weight
    records neither count nor weigh."""
    y = np.array([0, 1, 1, 0, 1])
    score = np.array([0.05, 1.0, 0.95, 0.5, 0.52])
    weights = np.array([2.0, 1.0, 3.0, 0.0, 4.0])
    table = calibration_table(y, score, weights, n_bins=4)
    assert list(table["n"]) == [1, 0, 1, 2]
    np.testing.assert_allclose(table["weight_share"], [0.2, 0.0, 0.4, 0.4])
    assert math.isnan(table.loc[1, "mean_predicted"]) and math.isnan(table.loc[1, "observed_rate"])
    assert table.loc[2, "observed_rate"] == 1.0
    assert table.loc[3, "mean_predicted"] == pytest.approx((1.0 + 3 * 0.95) / 4)
    np.testing.assert_allclose(table["upper"], [0.25, 0.5, 0.75, 1.0])


# --------------------------------------------------------------------------------------------------
# Bad inputs
# --------------------------------------------------------------------------------------------------


def test_evaluate_rejects_length_mismatch(data, design):
    """Check that predictions of the wrong length raise a DataError naming the model."""
    with pytest.raises(DataError, match=r"predictions of model 'ols' have 499 values but the "):
        evaluate(design, data["log_income"], {"ols": data["ols"][:-1]}, "regression")
    with pytest.raises(DataError, match="y_true have 10 values"):
        evaluate(design, data["log_income"][:10], {"ols": data["ols"]}, "regression")


def test_evaluate_rejects_nan_predictions(data, design):
    """Check that NaN predictions raise a DataError with the count and first row."""
    predictions = data["ols"].copy()
    predictions[[7, 9]] = np.nan
    expected = r"'ols' have 2 missing or infinite values \(first at row 7\)"
    with pytest.raises(DataError, match=expected):
        evaluate(design, data["log_income"], {"ols": predictions}, "regression")


def test_evaluate_rejects_non_binary_outcome(data, design):
    """Check that a non-0/1 outcome for classification raises a DataError listing the values."""
    y = data["low_income"].copy()
    y[0] = 2
    with pytest.raises(DataError, match=r"y_true must be binary \(0/1\).*found other values: 2"):
        evaluate(design, y, {"logit": data["score"]}, "classification")


def test_evaluate_rejects_single_class(data, design):
    """Check that an outcome with one class among the cases raises a DataError about AUC."""
    y = np.zeros(len(data["low_income"]), dtype=int)
    with pytest.raises(DataError, match=r"y_true is 0 \(not low income\) for all 500 .*ROC AUC"):
        evaluate(design, y, {"logit": data["score"]}, "classification")


def test_evaluate_rejects_single_class_inside_domain(data, design):
    """Check that the class check looks only at the cases of a domain design."""
    y = data["low_income"]
    negatives = design.domain(y == 0, name="not low income")
    with pytest.raises(DataError, match="domain 'not low income'"):
        evaluate(negatives, y, {"logit": data["score"]}, "classification")


def test_evaluate_rejects_scores_outside_unit_interval(data, design):
    """Check that scores that are not probabilities raise a DataError with the fix."""
    score = data["score"].copy()
    score[3] = 1.7
    with pytest.raises(DataError, match=r"\[0, 1\]: 1 are outside \(first at row 3: 1\.7\)"):
        evaluate(design, data["low_income"], {"logit": score}, "classification")
    with pytest.raises(DataError, match="one-dimensional.*predict_proba"):
        two_columns = np.column_stack([1 - data["score"], data["score"]])
        evaluate(design, data["low_income"], {"logit": two_columns}, "classification")


def test_evaluate_rejects_dollar_values_for_mae_dollars(data, design):
    """Check that dollar incomes (not log) raise a DataError when mae_dollars is requested."""
    dollars = np.exp(data["log_income"])
    with pytest.raises(DataError, match="too large for log income"):
        evaluate(design, dollars, {"ols": np.exp(data["ols"])}, "regression")
    table = evaluate(design, dollars, {"ols": np.exp(data["ols"])}, "regression", metrics=["mae"])
    assert list(table["metric"]) == ["mae"]


def test_evaluate_rejects_bad_configuration(data, design):
    """Check that an unknown task, metric or baseline, or a bad threshold raise a ConfigError."""
    y, predictions = data["log_income"], {"ols": data["ols"]}
    with pytest.raises(ConfigError, match="unknown task 'ranking'"):
        evaluate(design, y, predictions, "ranking")
    with pytest.raises(ConfigError, match="unknown metrics for this task: 'auc'"):
        evaluate(design, y, predictions, "regression", metrics=["rmse", "auc"])
    with pytest.raises(ConfigError, match="baseline 'xgb' is not one of the models: ols"):
        evaluate(design, y, predictions, "regression", baseline="xgb")
    with pytest.raises(ConfigError, match="threshold must be a number between 0 and 1"):
        evaluate(design, data["low_income"], {"logit": data["score"]}, "classification", 1.5)
    with pytest.raises(DataError, match="no predictions to evaluate"):
        evaluate(design, y, {}, "regression")


def test_metric_rejects_mismatched_weights(data):
    """Check that a metric given weights of another length raises a DataError."""
    with pytest.raises(DataError, match="must have the same number of records"):
        rmse(data["log_income"], data["ols"], data["W"][:-1])


def test_calibration_table_rejects_bad_inputs():
    """Check that the calibration table rejects non-binary y, bad scores, weights and bins."""
    y, score, weights = np.array([0, 1]), np.array([0.2, 0.8]), np.array([1.0, 1.0])
    with pytest.raises(DataError, match="y_true must be binary"):
        calibration_table(np.array([0, 3]), score, weights)
    with pytest.raises(DataError, match=r"scores must be probabilities in \[0, 1\]"):
        calibration_table(y, np.array([0.2, np.nan]), weights)
    with pytest.raises(DataError, match="weights must be finite, non-negative"):
        calibration_table(y, score, np.array([1.0, -1.0]))
    with pytest.raises(DataError, match="must have the same length"):
        calibration_table(y, score, np.array([1.0]))
    with pytest.raises(ConfigError, match="n_bins must be a positive integer"):
        calibration_table(y, score, weights, n_bins=0)
