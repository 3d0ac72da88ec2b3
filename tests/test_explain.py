"""SHAP values and permutation importance with survey weights (policyml.audit.explain)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit

from policyml.audit import explain as E
from policyml.core.errors import ConfigError
from policyml.model import models
from policyml.model.modelling import TaskData

WEIGHT = "WGTP"
REPS = [f"{WEIGHT}{r}" for r in range(1, 81)]
NUMERIC = ["x_signal", "x_noise"]
CATEGORICAL = ["colour"]
FEATURES = NUMERIC + CATEGORICAL
ESTIMATES = {"cv_threshold": 0.3, "min_sample": 30}
SMALL = {
    "xgboost": {"n_estimators": 30, "max_depth": 3},
    "random_forest": {"n_estimators": 15, "min_samples_leaf": 5},
}


def _households(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Synthetic households: log income driven by x_signal and colour, not by x_noise."""
    x_signal = rng.normal(0, 1, n)
    colour = rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2])
    effect = pd.Series(colour).map({"red": 0.0, "green": 0.4, "blue": -0.4}).to_numpy()
    log_income = 10 + 0.8 * x_signal + effect + rng.normal(0, 0.3, n)
    frame = pd.DataFrame({
        "SERIALNO": [f"2018HU{i:07d}" for i in range(n)],
        "x_signal": np.where(rng.uniform(size=n) < 0.05, np.nan, x_signal),  # a missing indicator
        "x_noise": rng.normal(0, 1, n),
        "colour": colour,
        "log_income": log_income,
        "low_income": (log_income + rng.normal(0, 0.3, n) < 9.9).astype(float),
        "race": pd.Categorical(["Asian"] * 3 + ["White"] * (n - 3), categories=["White", "Asian", "Other"]),
        "sex": rng.choice(["Female", "Male"], n),
    })
    weights = rng.uniform(10, 100, n)
    replicates = pd.DataFrame(weights[:, None] * rng.uniform(0.5, 1.5, (n, 80)), columns=REPS)
    return pd.concat([frame.assign(**{WEIGHT: weights}), replicates], axis=1)


def _task(task: str, seed: int = 0, n_train: int = 400, n_test: int = 120) -> TaskData:
    rng = np.random.default_rng(seed)
    train = _households(n_train, rng)
    test = _households(n_test, rng)
    target = "log_income" if task == "regression" else "low_income"
    return TaskData(task, target, WEIGHT, train, test, list(NUMERIC), list(CATEGORICAL), [])


def _fit(name: str, data: TaskData):
    X, y, w = data.xyw("train")
    return models.fit_model(name, data.task, X, y, w, random_state=0, params=SMALL.get(name),
                            numeric=data.numeric, categorical=data.categorical)


@pytest.fixture(scope="module")
def regression() -> tuple[TaskData, dict]:
    data = _task("regression")
    return data, {name: _fit(name, data) for name in ("dummy", "ols", "random_forest", "xgboost")}


@pytest.fixture(scope="module")
def classification() -> tuple[TaskData, dict]:
    data = _task("classification")
    return data, {name: _fit(name, data) for name in ("logistic", "random_forest", "xgboost")}


def _sdr(estimate: float, replicates) -> float:
    return math.sqrt(4 / 80 * sum((r - estimate) ** 2 for r in replicates))


def _weighted_r2(y, prediction, w) -> float:
    mean = sum(wi * yi for wi, yi in zip(w, y)) / sum(w)
    residual = sum(wi * (yi - pi) ** 2 for wi, yi, pi in zip(w, y, prediction))
    total = sum(wi * (yi - mean) ** 2 for wi, yi in zip(w, y))
    return 1 - residual / total


# --------------------------------------------------------------------------------------------------
# TreeSHAP


@pytest.mark.parametrize("task", ["regression", "classification"])
@pytest.mark.parametrize("name", ["xgboost", "random_forest"])
def test_tree_shap_adds_up_to_model_margin(task, name, regression, classification):
    """Check that base value + sum of SHAP equals the prediction, log-odds (XGBoost) or probability (forest)."""
    data, pipelines = regression if task == "regression" else classification
    pipeline = pipelines[name]
    X = data.test[FEATURES]
    result = E.tree_shap(pipeline, task, X, FEATURES)
    if task == "regression":
        expected = pipeline.predict(X)
    elif name == "xgboost":
        expected = logit(pipeline.predict_proba(X)[:, 1].astype(np.float64))
    else:
        expected = pipeline.predict_proba(X)[:, 1]
    total = result.base_value + result.values.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, expected, rtol=1e-4, atol=1e-4)
    outputs = {"regression": "prediction", "classification": "log_odds" if name == "xgboost" else "probability"}
    assert result.output == outputs[task]
    assert list(result.values.columns) == FEATURES


def test_tree_shap_sums_one_hot_columns_to_their_feature(regression):
    """Check that a feature's SHAP value is the sum of its one-hot / missing-indicator column values."""
    import shap

    data, pipelines = regression
    pipeline = pipelines["xgboost"]
    X = data.test[FEATURES]
    names = list(pipeline.named_steps["preprocess"].get_feature_names_out())
    columns = np.asarray(shap.TreeExplainer(pipeline[-1]).shap_values(pipeline[:-1].transform(X)), dtype=float)
    result = E.tree_shap(pipeline, "regression", X, FEATURES)
    colour = [j for j, name in enumerate(names) if name.startswith("colour_")]
    signal = [names.index("x_signal"), names.index("missingindicator_x_signal")]
    assert len(colour) == 3
    np.testing.assert_allclose(result.values["colour"], columns[:, colour].sum(axis=1), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(result.values["x_signal"], columns[:, signal].sum(axis=1), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(result.values["x_noise"], columns[:, names.index("x_noise")], rtol=1e-6, atol=1e-7)


def test_source_features_follows_dropped_columns(regression):
    """Check that the source of each design column skips columns the linear pipeline dropped."""
    data, pipelines = regression
    pipeline = pipelines["ols"]
    names = list(pipeline.named_steps["preprocess"].get_feature_names_out())
    kept = [n for n, k in zip(names, pipeline.named_steps["drop_redundant"].keep_) if k]
    expected = ["colour" if n.startswith("colour_") else "x_signal" if "x_signal" in n else "x_noise" for n in kept]
    assert E.source_features(pipeline) == expected
    assert len(expected) == pipeline[:-1].transform(data.test[FEATURES]).shape[1]


def test_aggregate_columns_sums_columns_of_a_feature():
    """Check that per-column values add up per feature, and a feature without columns gets zeros."""
    values = np.array([[1.0, 2.0, 4.0], [-1.0, 0.5, 0.25]])
    out = E.aggregate_columns(values, ["a", "b", "a"], ["a", "b", "c"])
    np.testing.assert_array_equal(out, [[5.0, 2.0, 0.0], [-0.75, 0.5, 0.0]])


def test_tree_shap_forest_in_processes_equals_one_process(regression):
    """Check that splitting a forest's rows over two processes gives the same SHAP values."""
    data, pipelines = regression
    X = data.test[FEATURES]
    one = E.tree_shap(pipelines["random_forest"], "regression", X, FEATURES, n_jobs=1)
    two = E.tree_shap(pipelines["random_forest"], "regression", X, FEATURES, n_jobs=2)
    pd.testing.assert_frame_equal(one.values, two.values)
    assert pipelines["random_forest"][-1].n_jobs == 1  # the caller's setting is restored


# --------------------------------------------------------------------------------------------------
# Weighted importance


def test_explain_task_shap_importance_is_weighted_mean_abs_shap(regression):
    """Check that SHAP importance and its SE equal a hand loop over the full and replicate weights."""
    data, pipelines = regression
    out = E.explain_task(data, {"xgboost": pipelines["xgboost"]}, {"shap_sample": 10_000, "permutation_repeats": 1},
                         seed=1, estimates=ESTIMATES)
    phi = E.tree_shap(pipelines["xgboost"], "regression", data.test[FEATURES], FEATURES).values
    table = out["importance"].query("method == 'shap'").set_index("feature")
    for feature in FEATURES:
        magnitude = phi[feature].abs().to_list()

        def mean(column):
            w = data.test[column].to_list()
            return sum(wi * m for wi, m in zip(w, magnitude)) / sum(w)

        estimate = mean(WEIGHT)
        assert table.loc[feature, "importance"] == pytest.approx(estimate, rel=1e-9)
        assert table.loc[feature, "se"] == pytest.approx(_sdr(estimate, [mean(c) for c in REPS]), rel=1e-7)
    assert table.loc["x_signal", "rank"] == 1
    assert table["metric"].unique().tolist() == ["mean |SHAP| (log income)"]


def test_explain_task_shap_table_holds_top_features_of_the_sample(regression):
    """Check that the long SHAP table has the sampled rows and only the top features, with labels."""
    data, pipelines = regression
    out = E.explain_task(data, {"random_forest": pipelines["random_forest"]},
                         {"shap_sample": 50, "permutation_repeats": 1, "top_features": 2}, seed=3, estimates=ESTIMATES)
    long, importance = out["shap"], out["importance"].query("method == 'shap'")
    assert list(long.columns) == list(E.SHAP_COLUMNS)
    assert set(long["feature"]) == set(importance.nsmallest(2, "rank")["feature"]) == {"x_signal", "colour"}
    positions = E.shap_sample_positions(len(data.test), 50, 3)
    sample = data.test.iloc[positions].reset_index(drop=True)
    assert len(long) == 2 * 50 and long["row"].max() == 49
    colour = long[long["feature"] == "colour"]
    assert colour["value"].isna().all()
    assert colour["value_label"].tolist() == sample["colour"].tolist()
    signal = long[long["feature"] == "x_signal"].reset_index(drop=True)
    assert signal["SERIALNO"].tolist() == sample["SERIALNO"].tolist()
    assert signal["weight"].tolist() == sample[WEIGHT].tolist()
    np.testing.assert_array_equal(signal["value"], sample["x_signal"])
    assert (signal.loc[sample["x_signal"].isna(), "value_label"] == "Missing").all()


# --------------------------------------------------------------------------------------------------
# Permutation importance


@pytest.mark.parametrize("task,name", [("regression", "ols"), ("classification", "logistic"),
                                       ("regression", "xgboost")])
def test_permutation_importance_separates_used_and_ignored_features(task, name, regression, classification):
    """Check that permuting the signal drops the metric a lot and permuting pure noise barely at all."""
    data, pipelines = regression if task == "regression" else classification
    out = E.explain_task(data, {name: pipelines[name]}, {"permutation_repeats": 3, "shap_sample": 20},
                         seed=5, estimates=ESTIMATES)
    table = out["importance"].query("method == 'permutation'").set_index("feature")
    assert table.loc["x_signal", "importance"] > 0.2
    assert abs(table.loc["x_noise", "importance"]) < 0.05
    assert table.loc["x_signal", "rank"] == 1
    assert table["metric"].iloc[0] == {"regression": "drop in R²", "classification": "drop in ROC AUC"}[task]


def test_permutation_drops_equal_hand_computation(regression):
    """Check that one repeat's R² drop and SE equal a hand computation with the documented permutation."""
    data, pipelines = regression
    pipeline, X = pipelines["ols"], data.test[FEATURES]
    y = data.test["log_income"].to_list()
    from policyml.core.survey import SurveyDesign

    design = SurveyDesign.from_frame(data.test, WEIGHT)
    drops = E.permutation_drops(pipeline, "regression", X, np.asarray(y), design, FEATURES, repeats=1, seed=11)
    k = FEATURES.index("colour")
    order = np.random.default_rng([11, k, 0]).permutation(len(X))
    shuffled = X.copy()
    shuffled["colour"] = X["colour"].to_numpy()[order]
    before, after = pipeline.predict(X), pipeline.predict(shuffled)

    def drop(column):
        w = data.test[column].to_list()
        return _weighted_r2(y, before, w) - _weighted_r2(y, after, w)

    estimate = drop(WEIGHT)
    assert drops["colour"].estimate == pytest.approx(estimate, rel=1e-9)
    assert drops["colour"].se == pytest.approx(_sdr(estimate, [drop(c) for c in REPS]), rel=1e-7)


# --------------------------------------------------------------------------------------------------
# SHAP by group, determinism, empty output, options


def test_explain_task_suppresses_group_of_three_households(regression):
    """Check that a group of 3 households gets suppressed rows with the reason, never dropped."""
    data, pipelines = regression
    out = E.explain_task(data, {"xgboost": pipelines["xgboost"]}, {"shap_sample": 10_000, "permutation_repeats": 1},
                         seed=1, estimates=ESTIMATES)
    groups = out["shap_groups"]
    assert list(groups.columns) == list(E.SHAP_GROUP_COLUMNS)
    asian = groups[(groups["group_variable"] == "race") & (groups["group"] == "Asian")]
    assert sorted(asian["feature"]) == sorted(FEATURES)
    assert asian["suppressed"].all() and not asian["reliable"].any() and asian["mean_abs_shap"].isna().all()
    assert (asian["n"] == 3).all()
    assert set(asian["reason"]) == {"suppressed: only 3 sample households (< 10)"}
    other = groups[(groups["group_variable"] == "race") & (groups["group"] == "Other")]
    assert set(other["reason"]) == {"no sample households in this group"}
    assert {"race × sex", "sex"} <= set(groups["group_variable"])
    white = groups[(groups["group_variable"] == "race") & (groups["group"] == "White")].set_index("feature")
    inside = (data.test["race"] == "White").to_numpy()
    phi = E.tree_shap(pipelines["xgboost"], "regression", data.test[FEATURES], FEATURES).values
    w = data.test[WEIGHT].to_numpy()
    hand = (w[inside] * phi.loc[inside, "x_signal"].abs()).sum() / w[inside].sum()
    assert white.loc["x_signal", "mean_abs_shap"] == pytest.approx(hand, rel=1e-9)
    assert white.loc["x_signal", "n"] == inside.sum()


def test_explain_task_same_seed_gives_equal_frames(classification):
    """Check that the same seed gives equal frames and another seed another SHAP sample."""
    data, pipelines = classification
    options = {"shap_sample": 40, "permutation_repeats": 2, "top_features": 2}
    first = E.explain_task(data, pipelines, options, seed=7, estimates=ESTIMATES)
    second = E.explain_task(data, pipelines, options, seed=7, estimates=ESTIMATES)
    for key in ("importance", "shap", "shap_groups"):
        pd.testing.assert_frame_equal(first[key], second[key])
    other = E.explain_task(data, pipelines, options, seed=8, estimates=ESTIMATES)
    assert set(other["shap"]["SERIALNO"]) != set(first["shap"]["SERIALNO"])
    assert set(first["importance"]["model"]) == {"logistic", "random_forest", "xgboost"}
    metric = first["importance"].query("method == 'shap'").groupby("model")["metric"].first()
    assert metric["xgboost"] == "mean |SHAP| (log-odds of low income)"
    assert metric["random_forest"] == "mean |SHAP| (probability of low income)"


def test_explain_task_without_tree_model_gives_empty_frames(regression):
    """Check that without a tree model the SHAP frames are empty with their columns; the dummy is skipped."""
    data, pipelines = regression
    out = E.explain_task(data, {"dummy": pipelines["dummy"], "ols": pipelines["ols"]}, {"permutation_repeats": 1},
                         seed=1, estimates=ESTIMATES, descriptions={"x_signal": "the signal"})
    assert out["shap"].empty and list(out["shap"].columns) == list(E.SHAP_COLUMNS)
    assert out["shap_groups"].empty and list(out["shap_groups"].columns) == list(E.SHAP_GROUP_COLUMNS)
    importance = out["importance"]
    assert list(importance.columns) == list(E.IMPORTANCE_COLUMNS)
    assert set(importance["model"]) == {"ols"} and set(importance["method"]) == {"permutation"}
    assert sorted(importance["rank"]) == [1, 2, 3]
    assert importance.set_index("feature").loc["x_signal", "description"] == "the signal"


def test_explain_task_rejects_bad_options(regression):
    """Check that a non-positive option is refused with its name and a fix."""
    data, pipelines = regression
    with pytest.raises(ConfigError, match=r"explain\.shap_sample must be a positive integer, got 0"):
        E.explain_task(data, {"ols": pipelines["ols"]}, {"shap_sample": 0}, seed=1, estimates=ESTIMATES)
