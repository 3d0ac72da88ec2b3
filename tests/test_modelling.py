"""The modelling stage: task data, predictions and evaluation glue (models and metrics have their own tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policyml.core.config import validate_config
from policyml.core.errors import DataError
from policyml.model.features import FeatureSpec, build_feature_table
from policyml.model.modelling import (
    evaluate_task,
    fit,
    predictions_frame,
    regression_calibration,
    task_data,
)
from policyml.model.split import split_households

DEFAULTS = validate_config({})


@pytest.fixture(scope="module")
def wy(wy_households, dictionary_2018):
    spec = FeatureSpec.from_config(DEFAULTS["features"])
    table = build_feature_table(wy_households, dictionary_2018, spec, DEFAULTS["targets"])
    split = split_households(table.frame, 0.2, 5, 20, seed=1)
    record = {"numeric": table.numeric, "categorical": table.categorical}
    return table.frame, split, record


def test_task_data_drops_rows_without_target_and_refolds(wy):
    """Check that nonpositive incomes leave the regression only, and folds index the kept training rows."""
    frame, split, record = wy
    regression = task_data(frame, split, record, "regression")
    classification = task_data(frame, split, record, "classification")
    n_train = int((split["set"] == "train").sum())
    assert len(regression.train) == n_train - int(frame.loc[split["set"].eq("train"), "log_income"].isna().sum())
    assert len(classification.train) == n_train
    positions = np.sort(np.concatenate([valid for _, valid in regression.folds]))
    np.testing.assert_array_equal(positions, np.arange(len(regression.train)))


def test_task_data_refuses_misaligned_split(wy):
    """Check that a split listing other households than the features is refused."""
    frame, split, record = wy
    with pytest.raises(DataError, match="do not list the same households"):
        task_data(frame, split.iloc[::-1].reset_index(drop=True), record, "regression")


def test_evaluate_task_ols_against_direct_weighted_r2(wy):
    """Check that the evaluated OLS R² equals a direct weighted R² on the test rows."""
    frame, split, record = wy
    data = task_data(frame, split, record, "regression")
    pipeline, tuning = fit("ols", data, DEFAULTS["models"], seed=1)
    assert tuning is None
    predictions = {"ols": predictions_frame(pipeline, data)}
    table, calibration = evaluate_task(data, predictions, 0.5, DEFAULTS["estimates"])
    test = predictions["ols"].query("set == 'test'")
    w = data.test["WGTP"].to_numpy(float)
    y, p = test["observed"].to_numpy(), test["prediction"].to_numpy()
    r2 = 1 - np.sum(w * (y - p) ** 2) / np.sum(w * (y - np.average(y, weights=w)) ** 2)
    row = table.query("metric == 'r2' and model == 'ols'").iloc[0]
    assert row["estimate"] == pytest.approx(r2) and row["se"] > 0
    assert calibration["n"].sum() == len(test)


def test_regression_calibration_bins_by_prediction():
    """Check that each decile's weighted means match a direct calculation and the shares sum to one."""
    rng = np.random.default_rng(3)
    prediction = rng.normal(size=500)
    y = prediction + rng.normal(scale=0.5, size=500)
    w = rng.integers(1, 50, size=500).astype(float)
    table = regression_calibration(y, prediction, w)
    assert len(table) == 10 and table["weight_share"].sum() == pytest.approx(1)
    first = prediction <= table.loc[0, "upper"]
    first &= prediction < np.sort(prediction)[table.loc[0, "n"]]  # the bin's own rows
    assert table.loc[0, "mean_predicted"] == pytest.approx(np.average(prediction[first], weights=w[first]))
    assert table.loc[0, "mean_observed"] == pytest.approx(np.average(y[first], weights=w[first]))


def test_linear_design_on_nm_is_full_rank(nm_households, dictionary_2018):
    """Check that the NM logistic design has no duplicate columns (no singular-Hessian warning) and
    that the coefficient table names the dropped duplicates."""
    from policyml.model.models import coefficient_table

    spec = FeatureSpec.from_config(DEFAULTS["features"])
    table = build_feature_table(nm_households, dictionary_2018, spec, DEFAULTS["targets"])
    split = split_households(table.frame, 0.2, 5, 20, seed=2018)
    data = task_data(table.frame, split, {"numeric": table.numeric, "categorical": table.categorical}, "classification")
    pipeline, _ = fit("logistic", data, DEFAULTS["models"], seed=2018)  # a LinAlgWarning would fail here
    X, y, w = data.xyw("train")
    coefficients = coefficient_table(pipeline, X, y, w, data.train[data.replicate_columns].to_numpy(float))
    redundant = coefficients.loc[coefficients["kind"] == "redundant", "term"].tolist()
    assert "occupation_group_No job in the last 5 years" in redundant
    assert "industry_sector_No job in the last 5 years" in redundant
    estimated = coefficients[coefficients["kind"].isin(["numeric", "level"])]
    assert estimated["se"].notna().all() and (estimated["se"] > 0).all()
