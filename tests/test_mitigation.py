"""Fairness mitigation of the low-income classifier compared on survey weights (policyml.audit.mitigation)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from policyml.audit import mitigation as MIT
from policyml.core.errors import ConfigError
from policyml.model import models
from policyml.model.modelling import TaskData

WEIGHT = "WGTP"
REPS = [f"{WEIGHT}{r}" for r in range(1, 81)]
GROUPS = ["Not Hispanic or Latino", "Hispanic or Latino"]
ESTIMATES = {"cv_threshold": 0.30, "min_sample": 30}
FAST = {"sensitive": "hispanic_origin", "base_models": ["logistic"], "exponentiated_gradient": False}


def _households(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Households whose low-income flag depends on a group the model does not see.

    Hispanic households have lower x1 (more of them are flagged: a selection-rate gap) and are more
    often low income at the same x1, x2, so a model without the group under-predicts them: their
    positives are missed more often (a false-negative gap).
    """
    hispanic = rng.uniform(size=n) < 0.4
    x1, x2 = rng.normal(size=n) + 0.6 * hispanic, rng.normal(size=n)
    latent = 1.5 * x1 + 0.5 * x2 - 2.0 * hispanic + rng.logistic(scale=0.5, size=n)
    weights = rng.uniform(10, 200, n)
    frame = pd.DataFrame({
        "SERIALNO": [f"H{i:05d}" for i in range(n)],
        "x1": x1,
        "x2": x2,
        "region": rng.choice(["north", "south", "east"], n),
        "hispanic_origin": pd.Categorical(np.where(hispanic, GROUPS[1], GROUPS[0]), categories=GROUPS),
        "race": pd.Categorical(rng.choice(["White alone", "Other"], n)),
        "sex": pd.Categorical(rng.choice(["Female", "Male"], n)),
        "age_band": pd.Categorical(rng.choice(["15 to 44", "45 to 64", "65 and over"], n)),
        "disability": pd.Categorical(rng.choice(["With a disability", "Without a disability"], n)),
        "low_income": (latent < -0.3).astype(float),
        WEIGHT: weights,
    })
    replicates = pd.DataFrame({name: weights * rng.uniform(0.6, 1.4, n) for name in REPS})
    return pd.concat([frame, replicates], axis=1)


def _task(train: pd.DataFrame, test: pd.DataFrame) -> TaskData:
    return TaskData("classification", "low_income", WEIGHT, train.reset_index(drop=True),
                    test.reset_index(drop=True), ["x1", "x2"], ["region"], [])


def _fit(name: str, data: TaskData, params: dict | None = None):
    X, y, w = data.xyw("train")
    return models.fit_model(name, "classification", X, y, w, random_state=0, params=params,
                            numeric=data.numeric, categorical=data.categorical)


@pytest.fixture(scope="module")
def task() -> TaskData:
    rng = np.random.default_rng(11)
    return _task(_households(1000, rng), _households(600, rng))


@pytest.fixture(scope="module")
def pipelines(task: TaskData) -> dict:
    return {
        "logistic": _fit("logistic", task),
        "xgboost": _fit("xgboost", task, {"n_estimators": 30, "max_depth": 3}),
    }


def _value(table: pd.DataFrame, variant: str, metric: str, group=None, base: str = "logistic") -> pd.Series:
    rows = table[(table["variant"] == variant) & (table["base_model"] == base) & (table["metric"] == metric)]
    rows = rows[rows["group"].isna()] if group is None else rows[rows["group"] == group]
    assert len(rows) == 1
    return rows.iloc[0]


def _sdr(values: list[float]) -> float:
    return math.sqrt(4 / 80 * sum((v - values[0]) ** 2 for v in values[1:]))


def test_survey_expansion_draws_in_proportion_to_weights() -> None:
    """Check that each row is drawn floor or ceil of its expected count, factor * n rows in all."""
    rng = np.random.default_rng(5)
    weights = rng.uniform(1, 300, 200)
    rows = MIT.survey_expansion(weights, 4, 17)
    counts = np.bincount(rows, minlength=200)
    expected = [4 * 200 * w / sum(weights) for w in weights]
    assert counts.sum() == 800
    for count, share in zip(counts, expected):
        assert math.floor(share) <= count <= math.ceil(share)
    assert list(rows) == sorted(rows)
    np.testing.assert_array_equal(rows, MIT.survey_expansion(weights, 4, 17))


def test_threshold_optimizer_uses_pipeline_probabilities_as_float64(pipelines: dict, task: TaskData) -> None:
    """Check that the wrapper hands ThresholdOptimizer the pipeline's class-1 probability in float64."""
    X = task.test[task.columns]
    scores = MIT.ProbabilityScores(pipelines["xgboost"]).predict_proba(X)
    assert scores.dtype == np.float64
    np.testing.assert_allclose(scores[:, 1], pipelines["xgboost"].predict_proba(X)[:, 1], rtol=1e-6)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    ("constraint", "disparity"),
    [
        ("true_positive_rate_parity", "false_negative_rate_difference"),
        ("demographic_parity", "demographic_parity_difference"),
        ("equalized_odds", "equalized_odds_difference"),
    ],
)
def test_threshold_optimizer_reduces_chosen_disparity(
    pipelines: dict, task: TaskData, constraint: str, disparity: str
) -> None:
    """Check that ThresholdOptimizer shrinks the gap its constraint targets, for both base models."""
    options = {**FAST, "base_models": ["logistic", "xgboost"], "constraint": constraint}
    table = MIT.compare_mitigation(task, pipelines, options, seed=3, threshold=0.5, estimates=ESTIMATES)
    for base in ("logistic", "xgboost"):
        before = _value(table, "unmitigated", disparity, base=base)["estimate"]
        after = _value(table, "threshold_optimizer", disparity, base=base)["estimate"]
        assert before > 0.1
        assert after < 0.5 * before


def test_compare_mitigation_weighted_metrics_match_hand_computation(pipelines: dict, task: TaskData) -> None:
    """Check that accuracy and a group's false-negative rate equal hand-computed weighted shares and SEs."""
    table = MIT.compare_mitigation(task, pipelines, FAST, seed=3, threshold=0.5, estimates=ESTIMATES)
    assert list(table.columns) == list(MIT.COLUMNS)
    score = pipelines["logistic"].predict_proba(task.test[task.columns])[:, 1]
    flagged = [s >= 0.5 for s in score]
    y = task.test["low_income"].tolist()
    hispanic = (task.test["hispanic_origin"] == GROUPS[1]).tolist()
    accuracy, fnr = [], []
    for column in [WEIGHT, *REPS]:
        w = task.test[column].tolist()
        correct = sum(wi for wi, yi, fi in zip(w, y, flagged) if (yi == 1) == fi)
        accuracy.append(correct / sum(w))
        positives = sum(wi for wi, yi, hi in zip(w, y, hispanic) if yi == 1 and hi)
        missed = sum(wi for wi, yi, fi, hi in zip(w, y, flagged, hispanic) if yi == 1 and hi and not fi)
        fnr.append(missed / positives)
    row = _value(table, "unmitigated", "accuracy", group="All")
    assert row["estimate"] == pytest.approx(accuracy[0], rel=1e-12)
    assert row["se"] == pytest.approx(_sdr(accuracy), rel=1e-9)
    row = _value(table, "unmitigated", "false_negative_rate", group=GROUPS[1])
    assert row["estimate"] == pytest.approx(fnr[0], rel=1e-12)
    assert row["se"] == pytest.approx(_sdr(fnr), rel=1e-9)


def test_compare_mitigation_balanced_accuracy_is_mean_of_class_recalls(pipelines: dict, task: TaskData) -> None:
    """Check that balanced accuracy is 1 - (FNR + FPR) / 2 of the same variant's overall rates."""
    table = MIT.compare_mitigation(task, pipelines, FAST, seed=3, threshold=0.5, estimates=ESTIMATES)
    for variant in ("unmitigated", "threshold_optimizer", "with_protected"):
        fnr = _value(table, variant, "false_negative_rate", group="All")["estimate"]
        fpr = _value(table, variant, "false_positive_rate", group="All")["estimate"]
        balanced = _value(table, variant, "balanced_accuracy", group="All")["estimate"]
        assert balanced == pytest.approx(1 - (fnr + fpr) / 2, rel=1e-12)


def test_refit_with_protected_sees_protected_columns(pipelines: dict, task: TaskData) -> None:
    """Check that the refit pipeline takes the protected columns as inputs and keeps the tuned params."""
    base = pipelines["xgboost"]
    refit, added = MIT.refit_with_protected(base, task)
    assert added == ["race", "hispanic_origin", "sex", "age_band", "disability"]
    inputs = [c for name, _, columns in refit.named_steps["preprocess"].transformers_ if name != "remainder"
              for c in columns]
    assert set(added) <= set(inputs)
    names = list(refit[:-1].get_feature_names_out())
    assert "hispanic_origin_Hispanic or Latino" in names
    assert not any(name.startswith("hispanic_origin") for name in base[:-1].get_feature_names_out())
    kept = ("n_estimators", "max_depth", "learning_rate", "random_state")
    assert {k: refit.named_steps["model"].get_params()[k] for k in kept} == {
        k: base.named_steps["model"].get_params()[k] for k in kept}
    assert refit.named_steps["model"] is not base.named_steps["model"]


def test_compare_mitigation_is_deterministic_given_seed(pipelines: dict, task: TaskData) -> None:
    """Check that two runs with the same seed, randomised variants included, give the same table."""
    options = {**FAST, "exponentiated_gradient": True}
    first = MIT.compare_mitigation(task, pipelines, options, seed=8, threshold=0.5, estimates=ESTIMATES)
    second = MIT.compare_mitigation(task, pipelines, options, seed=8, threshold=0.5, estimates=ESTIMATES)
    pd.testing.assert_frame_equal(first, second)
    assert set(first["variant"]) == set(MIT.VARIANTS)
    gap = {v: _value(first, v, "false_negative_rate_difference")["estimate"] for v in MIT.VARIANTS}
    assert gap["exponentiated_gradient"] < 0.5 * gap["unmitigated"]


def test_compare_mitigation_group_without_positives_gives_note(pipelines: dict, task: TaskData) -> None:
    """Check that a 3-household group without low-income training households yields noted NaN rows."""
    train = task.train.copy()
    categories = [*GROUPS, "Tiny"]
    train["hispanic_origin"] = pd.Categorical(train["hispanic_origin"].astype(str), categories=categories)
    tiny = train.index[train["low_income"] == 0][:3]
    train.loc[tiny, "hispanic_origin"] = "Tiny"
    test = task.test.copy()
    test["hispanic_origin"] = pd.Categorical(test["hispanic_origin"].astype(str), categories=categories)
    data = _task(train, test)
    options = {**FAST, "exponentiated_gradient": True}
    table = MIT.compare_mitigation(data, pipelines, options, seed=3, threshold=0.5, estimates=ESTIMATES)
    for variant in ("threshold_optimizer", "exponentiated_gradient"):
        rows = table[table["variant"] == variant]
        assert rows["estimate"].isna().all()
        assert rows["note"].str.contains("'Tiny' has no positive (low-income) training households", regex=False).all()
    unmitigated = table[table["variant"] == "unmitigated"]
    assert _value(table, "unmitigated", "accuracy", group="All")["estimate"] > 0.5
    tiny_rows = unmitigated[unmitigated["group"] == "Tiny"]
    assert len(tiny_rows) == 3 and tiny_rows["estimate"].isna().all()
    assert tiny_rows["note"].str.contains("no sample households in this group", regex=False).all()


def test_compare_mitigation_unknown_sensitive_raises_config_error(pipelines: dict, task: TaskData) -> None:
    """Check that a sensitive feature absent from the data is named with the allowed columns."""
    with pytest.raises(ConfigError, match="'nativity'") as caught:
        MIT.compare_mitigation(task, pipelines, {**FAST, "sensitive": "nativity"}, seed=3,
                               threshold=0.5, estimates=ESTIMATES)
    assert "race, hispanic_origin, sex, age_band, disability" in caught.value.hint


def test_compare_mitigation_missing_base_model_raises_config_error(pipelines: dict, task: TaskData) -> None:
    """Check that a base model without a fitted pipeline is named with the available ones."""
    with pytest.raises(ConfigError, match="random_forest.*available: logistic, xgboost"):
        MIT.compare_mitigation(task, pipelines, {**FAST, "base_models": ["random_forest"]}, seed=3,
                               threshold=0.5, estimates=ESTIMATES)


def test_mitigation_options_rejects_unknown_constraint() -> None:
    """Check that an unknown constraint is refused with the supported ones listed."""
    with pytest.raises(ConfigError, match="'equal_opportunity'") as caught:
        MIT.mitigation_options({"constraint": "equal_opportunity"})
    assert "true_positive_rate_parity" in caught.value.hint
    assert MIT.models_needed({"base_models": ["xgboost"]}) == ["xgboost", "logistic"]
    assert MIT.models_needed({"base_models": ["xgboost"], "exponentiated_gradient": False}) == ["xgboost"]


def test_survey_expansion_matches_systematic_sampling_by_hand() -> None:
    """Check that the draws equal a hand loop of points u, u + 1, ... over the cumulated weights."""
    weights = [3.0, 0.0, 1.0, 7.5, 2.0, 0.4, 6.1]
    factor, seed = 3, 4
    size = factor * 6  # six rows with a positive weight
    start = np.random.default_rng(seed).uniform()
    total = sum(weights)
    expected = []
    for j in range(size):
        point, cumulated = start + j, 0.0
        for row, weight in enumerate(weights):
            cumulated += weight * size / total
            if point < cumulated:
                expected.append(row)
                break
    np.testing.assert_array_equal(MIT.survey_expansion(weights, factor, seed), expected)
