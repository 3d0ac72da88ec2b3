"""Per-group model metrics with survey weights and SDR standard errors (policyml.audit.fairness)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equalized_odds_difference,
)

from policyml.audit import fairness as F
from policyml.model import metrics as M

WEIGHT = "WGTP"
REPS = [f"{WEIGHT}{r}" for r in range(1, 81)]


def _with_weights(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    n = len(frame)
    weights = rng.uniform(10, 100, n)
    columns = {WEIGHT: weights}
    for name in REPS:
        columns[name] = weights * rng.uniform(0.5, 1.5, n)
    return pd.concat([frame.reset_index(drop=True), pd.DataFrame(columns)], axis=1)


def _sdr(estimate: float, replicates: list[float]) -> float:
    return math.sqrt(4 / 80 * sum((r - estimate) ** 2 for r in replicates))


@pytest.fixture()
def tiny() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"g": ["a"] * 6 + ["b"] * 6})
    frame = _with_weights(frame, rng)
    frame["y"] = rng.normal(10, 1, 12)
    frame["p"] = frame["y"] + rng.normal(0, 0.5, 12)
    return frame


@pytest.fixture()
def mixed() -> pd.DataFrame:
    """Groups of 200, 20 (unreliable) and 5 (suppressed) rows and an unused category."""
    rng = np.random.default_rng(7)
    race = ["White"] * 200 + ["Black"] * 20 + ["Asian"] * 5
    frame = pd.DataFrame(
        {
            "race": pd.Categorical(race, categories=["White", "Black", "Asian", "AIAN"]),
            "sex": rng.choice(["Female", "Male"], len(race)),
        }
    )
    frame = _with_weights(frame, rng)
    frame["y"] = rng.normal(10, 1, len(race))
    frame["p"] = frame["y"] + rng.normal(0, 0.5, len(race))
    frame["low"] = (rng.uniform(size=len(race)) < 0.4).astype(float)
    frame["score"] = np.clip(0.4 * frame["low"] + rng.uniform(0, 0.6, len(race)), 0, 1)
    return frame


def _one(table: pd.DataFrame, variable: str, group: str, metric: str) -> pd.Series:
    rows = table[
        (table["group_variable"] == variable) & (table["group"] == group) & (table["metric"] == metric)
    ]
    assert len(rows) == 1
    return rows.iloc[0]


def test_weighted_mae_by_hand_and_se_by_loop(tiny: pd.DataFrame) -> None:
    table = F.group_metrics(
        tiny, "y", "p", WEIGHT, ["g"], "regression", min_n=3, suppress_below=3
    )
    assert list(table.columns) == list(F.GROUP_COLUMNS)
    for group in ("a", "b"):
        part = tiny[tiny["g"] == group]
        error = (part["y"] - part["p"]).abs()

        def weighted_mae(column: str) -> float:
            return float((part[column] * error).sum() / part[column].sum())

        full = weighted_mae(WEIGHT)
        replicates = [weighted_mae(c) for c in REPS]
        row = _one(table, "g", group, "mae")
        assert row["estimate"] == pytest.approx(full, rel=1e-12)
        assert row["se"] == pytest.approx(_sdr(full, replicates), rel=1e-10)
        assert row["moe90"] == pytest.approx(1.645 * row["se"])
        assert row["n"] == 6
        assert not row["suppressed"]
    # 6 households: fewer than 10 would be suppressed with the default rules
    default = F.group_metrics(tiny, "y", "p", WEIGHT, ["g"], "regression")
    assert default.loc[default["group"] != "All", "suppressed"].all()


def test_metricframe_full_sample_figures_agree(mixed: pd.DataFrame) -> None:
    table = F.group_metrics(mixed, "y", "p", WEIGHT, ["race", "sex"], "regression")
    for column in ("race", "sex"):
        names = ["mae", "bias", "r2"]
        frame = MetricFrame(
            metrics={"mae": M.mae, "bias": M.bias, "r2": M.r2},
            y_true=mixed["y"].to_numpy(),
            y_pred=mixed["p"].to_numpy(),
            sensitive_features=mixed[[column]].astype(str),
            sample_params={name: {"W": mixed[WEIGHT].to_numpy()} for name in names},
        )
        for group, values in frame.by_group.iterrows():
            label = group[0] if isinstance(group, tuple) else group
            for name in names:
                row = _one(table, column, label, name)
                if row["suppressed"]:
                    assert math.isnan(row["estimate"])
                else:
                    assert row["estimate"] == pytest.approx(values[name], rel=1e-12)
        for name in names:
            assert _one(table, column, "All", name)["estimate"] == pytest.approx(
                frame.overall[name], rel=1e-12
            )


def test_small_cell_rules(mixed: pd.DataFrame) -> None:
    table = F.group_metrics(mixed, "y", "p", WEIGHT, ["race"], "regression")
    assert set(table["group"]) == {"All", "White", "Black", "Asian", "AIAN"}
    asian = _one(table, "race", "Asian", "mae")
    assert asian["suppressed"] and asian["n"] == 5 and math.isnan(asian["estimate"])
    assert "only 5 sample households" in asian["reason"]
    empty = _one(table, "race", "AIAN", "mae")
    assert empty["n"] == 0 and empty["suppressed"]
    assert empty["reason"] == "no sample households in this group"
    black = _one(table, "race", "Black", "mae")
    assert black["n"] == 20 and not black["suppressed"] and not black["reliable"]
    assert math.isfinite(black["estimate"])
    assert "only 20 sample households" in black["reason"]
    white = _one(table, "race", "White", "mae")
    assert white["reliable"] and white["n"] == 200


def test_disparity_is_max_minus_min_with_replicate_se(mixed: pd.DataFrame) -> None:
    values = F.group_metric_values(mixed, "y", "p", WEIGHT, ["race"], "regression")
    table = F.group_metrics(mixed, "y", "p", WEIGHT, ["race"], "regression")
    result = F.disparities(table)
    assert list(result.columns) == list(F.DISPARITY_COLUMNS)
    row = result[(result["group_variable"] == "race") & (result["metric"] == "mae")].iloc[0]
    groups = table[(table["metric"] == "mae") & (table["group"] != "All") & ~table["suppressed"]]
    assert set(groups["group"]) == {"White", "Black"}
    assert row["difference"] == pytest.approx(groups["estimate"].max() - groups["estimate"].min())
    assert row["ratio"] == pytest.approx(groups["estimate"].min() / groups["estimate"].max())
    assert row["max_group"] == groups.loc[groups["estimate"].idxmax(), "group"]
    assert row["min_group"] == groups.loc[groups["estimate"].idxmin(), "group"]
    # SE: the same max - min recomputed under each replicate weight
    white = values.replicates["race", "White", "mae"]
    black = values.replicates["race", "Black", "mae"]
    differences = [max(white[r], black[r]) - min(white[r], black[r]) for r in range(1, 81)]
    assert row["difference_se"] == pytest.approx(_sdr(row["difference"], differences), rel=1e-10)
    # Black has only 20 households: the disparity is flagged
    assert not row["reliable"] and "Black" in row["reason"]
    # the explicit replicates give the same table
    again = F.disparities(values.table, values.replicates)
    pd.testing.assert_frame_equal(again, result)


def test_classification_parity_measures_match_fairlearn(mixed: pd.DataFrame) -> None:
    table = F.group_metrics(mixed, "low", "score", WEIGHT, ["sex"], "classification")
    result = F.disparities(table).set_index("metric")
    predicted = (mixed["score"] >= 0.5).astype(int)
    weights = mixed[WEIGHT].to_numpy()
    expected_dp = demographic_parity_difference(
        mixed["low"].astype(int), predicted, sensitive_features=mixed["sex"], sample_weight=weights
    )
    expected_eo = equalized_odds_difference(
        mixed["low"].astype(int), predicted, sensitive_features=mixed["sex"], sample_weight=weights
    )
    assert result.loc["demographic_parity", "difference"] == pytest.approx(expected_dp)
    assert result.loc["demographic_parity", "difference"] == pytest.approx(
        result.loc["selection_rate", "difference"]
    )
    assert result.loc["equalized_odds", "difference"] == pytest.approx(expected_eo)
    assert math.isfinite(result.loc["equalized_odds", "difference_se"])


def test_intersection_labels(mixed: pd.DataFrame) -> None:
    table = F.group_metrics(mixed, "y", "p", WEIGHT, ["race", ("race", "sex")], "regression")
    crossed = table[table["group_variable"] == "race × sex"]
    assert {"White × Female", "White × Male", "AIAN × Female", "AIAN × Male"} <= set(crossed["group"])
    assert len(set(crossed["group"]) - {"All"}) == 8
    white = mixed["race"] == "White"
    female = mixed["sex"] == "Female"
    row = _one(table, "race × sex", "White × Female", "mae")
    assert row["n"] == int((white & female).sum())
    part = mixed[white & female]
    assert row["estimate"] == pytest.approx(
        M.mae(part["y"], part["p"], part[WEIGHT].to_numpy()), rel=1e-12
    )


def test_unknown_task_and_missing_group_values(mixed: pd.DataFrame) -> None:
    from policyml.core.errors import ConfigError, DataError

    with pytest.raises(ConfigError):
        F.group_metrics(mixed, "y", "p", WEIGHT, ["race"], "ranking")
    broken = mixed.copy()
    broken["sex"] = broken["sex"].where(broken.index > 0)
    with pytest.raises(DataError, match="missing values"):
        F.group_metrics(broken, "y", "p", WEIGHT, ["sex"], "regression")
