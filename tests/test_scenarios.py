"""Policy scenarios: edited households, rebuilt features, predicted changes with SEs (policyml.audit.scenarios)."""

from __future__ import annotations

import math
import types

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline

from policyml.audit import scenarios as S
from policyml.core.errors import ConfigError, DataError
from policyml.data.dictionary import DataDictionary
from policyml.data.households import decode, weeks_worked_labels
from policyml.model.features import FeatureSpec, build_feature_table

REPS = [f"WGTP{r}" for r in range(1, 81)]

DICTIONARY_TEXT = "\n".join(
    [
        'NAME,RT,C,1,"Record Type"',
        'NAME,RT,C,1,"Record Type"',
        'NAME,SCHL,C,2,"Educational attainment"',
        'VAL,SCHL,C,2,"bb","bb","N/A (less than 3 years old)"',
        *(f'VAL,SCHL,C,2,"{c:02d}","{c:02d}","level {c}"' for c in range(1, 25)),
        'NAME,ESR,C,1,"Employment status recode"',
        'VAL,ESR,C,1,"b","b","N/A (less than 16 years old)"',
        *(f'VAL,ESR,C,1,"{c}","{c}","status {c}"' for c in range(1, 7)),
        'NAME,WKHP,N,2,"Usual hours worked per week past 12 months"',
        'VAL,WKHP,N,2,"bb","bb","N/A (did not work)"',
        'VAL,WKHP,N,2,"1","98","1 to 98 usual hours"',
        'VAL,WKHP,N,2,"99","99","99 or more usual hours"',
        'NAME,SEX,C,1,"Sex"',
        'VAL,SEX,C,1,"1","1","Male"',
        'VAL,SEX,C,1,"2","2","Female"',
    ]
)

FEATURES = {
    "numeric": ["education_rank", "hours_worked", "weeks_worked", "n_workers"],
    "categorical": ["education_level", "employment_status"],
    "interactions": [["education_rank", "hours_worked"]],
    "protected": ["sex"],
    "include_protected": False,
}
TARGETS = {"low_income_threshold": 200, "nonpositive_income": "drop", "income_floor": 1000}


@pytest.fixture(scope="module")
def dictionary() -> DataDictionary:
    return DataDictionary.parse(DICTIONARY_TEXT, 2018, source="<scenario test dictionary>")


def make_households(dictionary: DataDictionary, n: int = 60, n_female: int = 5, seed: int = 11) -> pd.DataFrame:
    """n households (the last n_female with a female householder), integer weights for np.repeat."""
    rng = np.random.default_rng(seed)
    schl = rng.integers(10, 25, n).astype(float)
    esr = rng.choice([1.0, 3.0, 6.0], n)
    working = esr == 1
    wkhp = np.where(working, rng.integers(10, 61, n), np.nan)
    sex = np.where(np.arange(n) >= n - n_female, 2.0, 1.0)
    households = pd.DataFrame(
        {
            "SERIALNO": [f"2018HU{i:07d}" for i in range(n)],
            "puma": rng.choice(["00100", "00200"], n),
            "SEX": sex,
            "SCHL": schl,
            "ESR": esr,
            "WKHP": wkhp,
            "weeks_worked_band": pd.array(np.where(working, rng.integers(1, 7, n), pd.NA), dtype="Int8"),
            "n_persons": rng.integers(1, 5, n),
            "n_workers": working.astype(np.int64),
            "POVPIP": rng.integers(0, 501, n).astype(float),
            "household_income": rng.integers(5_000, 150_000, n).astype(float),
        }
    )
    households["sex"] = pd.Categorical(decode(households["SEX"], dictionary, "SEX"),
                                       categories=["Male", "Female", "Not reported"])
    households["education"] = decode(households["SCHL"], dictionary, "SCHL", ("first", False))
    households["employment_status"] = decode(households["ESR"], dictionary, "ESR")
    households["weeks_worked"] = weeks_worked_labels(households["weeks_worked_band"])
    households["WGTP"] = rng.integers(1, 21, n).astype(float)
    replicates = pd.DataFrame(rng.integers(0, 41, (n, 80)).astype(float), columns=REPS)
    return pd.concat([households, replicates], axis=1)


def settings_for(declarations: list, min_sample: int = 30) -> types.SimpleNamespace:
    return types.SimpleNamespace(
        features=FEATURES, targets=TARGETS, estimates={"cv_threshold": 0.30, "min_sample": min_sample},
        scenarios={"model": {"regression": "linear", "classification": "linear"}, "list": declarations},
    )


def feature_table(households: pd.DataFrame, dictionary: DataDictionary):
    spec = FeatureSpec.from_config(FEATURES)
    table = build_feature_table(households, dictionary, spec, TARGETS)
    return table.frame, table.spec_record(spec)


class LinearProbability(ClassifierMixin, BaseEstimator):
    """P(low income) = intercept + slope * x: a synthetic classifier with a closed form."""

    def __init__(self, intercept: float = 0.6, slope: float = -0.2):
        self.intercept = intercept
        self.slope = slope

    def fit(self, X, y=None):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        p = self.intercept + self.slope * np.asarray(X, dtype=float)[:, 0]
        return np.column_stack([1 - p, p])


def linear_pipelines(features: pd.DataFrame) -> dict:
    """Regression: log income = 9 + 0.1 * SCHL exactly; classification: 0.6 - 0.2 * n_workers."""
    regression = Pipeline([
        ("preprocess", ColumnTransformer([("numeric", "passthrough", ["education_rank"])])),
        ("model", LinearRegression()),
    ]).fit(features, 9 + 0.1 * features["education_rank"])
    classification = Pipeline([
        ("preprocess", ColumnTransformer([("numeric", "passthrough", ["n_workers"])])),
        ("model", LinearProbability()),
    ]).fit(features, np.zeros(len(features)))
    return {"regression": regression, "classification": classification}


def repeat_median(values: np.ndarray, weights: np.ndarray) -> float:
    return float(np.quantile(np.repeat(values, weights.astype(int)), 0.5, method="inverted_cdf"))


def sdr(estimate: float, replicates: list[float]) -> float:
    return math.sqrt(4 / 80 * sum((r - estimate) ** 2 for r in replicates))


def one_row(table: pd.DataFrame, scenario: str, measure: str, grouping: str = "All", group: str = "All") -> pd.Series:
    rows = table[(table["scenario"] == scenario) & (table["measure"] == measure)
                 & (table["group_variable"] == grouping) & (table["group"] == group)]
    assert len(rows) == 1
    return rows.iloc[0]


HIGH_SCHOOL = {
    "name": "high_school_diploma",
    "description": "Householders without a high-school diploma complete one",
    "changes": [{"where": {"column": "SCHL", "below": 16}, "set": {"SCHL": 16}}],
}


@pytest.fixture(scope="module")
def setup(dictionary):
    households = make_households(dictionary)
    features, spec_record = feature_table(households, dictionary)
    return households, features, spec_record, linear_pipelines(features)


def test_scenario_without_effect_changes_nothing(setup, dictionary) -> None:
    """Check that a scenario that edits no value gives a change of exactly 0 with SE 0."""
    households, features, spec_record, pipelines = setup
    declarations = [{
        "name": "nothing",
        "description": "Nothing changes",
        "changes": [{"where": {"column": "SCHL", "below": 0}, "set": {"SCHL": 16}}, {"add": {"n_workers": 0}}],
    }]
    table = S.run_scenarios(households, features, spec_record, pipelines, dictionary, settings_for(declarations),
                            groups=["sex"])
    assert list(table.columns) == list(S.COLUMNS)
    shown = table[~table["suppressed"]]
    assert (shown["change"] == 0.0).all() and (shown["change_se"] == 0.0).all()
    assert (shown["households_affected_share"] == 0.0).all()
    assert (shown["scenario_value"] == shown["status_quo"]).all()


def test_scenario_linear_model_median_change_by_hand(setup, dictionary) -> None:
    """Check that a model linear in SCHL gives the median change and SE of a np.repeat hand computation."""
    households, features, spec_record, pipelines = setup
    table = S.run_scenarios(households, features, spec_record, pipelines, dictionary, settings_for([HIGH_SCHOOL]),
                            groups=["sex"])
    row = one_row(table, "high_school_diploma", "median_income")
    before = np.exp(9 + 0.1 * households["SCHL"].to_numpy())
    after = np.exp(9 + 0.1 * np.maximum(households["SCHL"].to_numpy(), 16))
    columns = ["WGTP", *REPS]
    full = [repeat_median(after, households[c].to_numpy()) - repeat_median(before, households[c].to_numpy())
            for c in columns]
    assert row["change"] == pytest.approx(full[0], rel=1e-9)
    assert row["change_se"] == pytest.approx(sdr(full[0], full[1:]), rel=1e-9)
    assert row["status_quo"] == pytest.approx(repeat_median(before, households["WGTP"].to_numpy()), rel=1e-9)
    below = (households["SCHL"] < 16).to_numpy()
    weights = households["WGTP"].to_numpy()
    assert row["households_affected_share"] == pytest.approx(weights[below].sum() / weights.sum())
    assert "SCHL = 16 where SCHL < 16" in row["note"] and "not causal effects" in row["note"]


def test_scenario_expected_share_change_by_hand(setup, dictionary) -> None:
    """Check that the low-income share change equals the weighted mean change of a linear probability, SE by loop."""
    households, features, spec_record, pipelines = setup
    declarations = [{
        "name": "householder_works",
        "description": "Householders who do not work take a job at the median hours",
        "changes": [{"where": {"column": "ESR", "in": [3, 6]},
                     "set": {"ESR": 1, "WKHP": "median", "weeks_worked_band": 1}, "add": {"n_workers": 1}}],
    }]
    table = S.run_scenarios(households, features, spec_record, pipelines, dictionary, settings_for(declarations),
                            groups=["sex"])
    row = one_row(table, "householder_works", "low_income_share", "sex", "Male")
    male = (households["SEX"] == 1).to_numpy()
    not_working = households["ESR"].isin([3, 6]).to_numpy()
    gained = np.where(not_working, 1, 0)
    changes = []
    for column in ["WGTP", *REPS]:
        w = households[column].to_numpy() * male
        changes.append(sum(w[i] * (-0.2 * gained[i]) for i in range(len(w))) / w.sum())
    assert row["change"] == pytest.approx(changes[0], rel=1e-9)
    assert row["change_se"] == pytest.approx(sdr(changes[0], changes[1:]), rel=1e-9)
    hours = households["WKHP"].to_numpy()
    positive = hours > 0
    expected_hours = repeat_median(hours[positive], households["WGTP"].to_numpy()[positive])
    assert f"WKHP = {expected_hours:g} (weighted median" in row["note"]


def test_weighted_positive_median_matches_repeat() -> None:
    """Check that the 'median' set value is the np.repeat median of the positive values only."""
    frame = pd.DataFrame({"WKHP": [np.nan, 0.0, 20.0, 40.0, 50.0], "WGTP": [50.0, 40.0, 3.0, 2.0, 4.0]})
    for column in REPS:
        frame[column] = frame["WGTP"]
    positive = np.array([20.0, 40.0, 50.0])
    assert S.weighted_positive_median(frame, "WKHP") == repeat_median(positive, np.array([3, 2, 4]))
    assert S.weighted_positive_median(frame, "WKHP") == 40.0


def test_apply_scenario_rebuilds_derived_features(setup, dictionary) -> None:
    """Check that edited codes reach derived features, interactions and decoded labels."""
    households, _, _, _ = setup
    scenario = S.parse_scenarios([{
        "name": "work", "description": "All work 40 hours",
        "changes": [{"set": {"ESR": 1, "WKHP": 40, "SCHL": 21}}],
    }], households, dictionary, feature_table(households, dictionary)[1])[0]
    edited = S.apply_scenario(scenario, households, dictionary)
    frame = S.rebuild_features(edited.households, dictionary, settings_for([]))
    assert (frame["hours_worked"] == 40).all()
    assert (frame["education_rank_x_hours_worked"] == 21 * 40).all()
    assert (frame["education_level"] == "Bachelor's degree").all()
    assert (frame["employment_status"] == "status 1").all()
    assert households["WKHP"].isna().any()  # the recorded table is not modified


@pytest.mark.parametrize(
    ("change", "message", "fix"),
    [
        ({"set": {"FOO": 1}}, "key changes[0].set.FOO: unknown column 'FOO'", "edit one of"),
        ({"multiply": {"SCHL": 2}}, "key changes[0].multiply: unknown key 'multiply'", "allowed keys: where, set, add"),
        ({"where": {"column": "SCHL", "under": 16}, "set": {"SCHL": 16}},
         "key changes[0].where[0]: unknown operation 'under'", "use one of below, at_least, equals, in"),
        ({"set": {"SCHL": 30}}, "key changes[0].set.SCHL: 30 is not a SCHL value",
         "allowed SCHL values: whole numbers 1-24"),
        ({"where": {"column": "ESR", "in": [3, 7]}, "set": {"SCHL": 16}},
         "key changes[0].where[0].in: 7 is not a ESR value", "allowed ESR values: whole numbers 1-6"),
        ({"set": {"WKHP": 100}}, "key changes[0].set.WKHP: 100 is not a WKHP value", "whole numbers 1-99, or null"),
        ({"set": {"SEX": 2}}, "key changes[0].set.SEX: column 'SEX' defines the groups", "edit one of"),
    ],
)
def test_parse_scenarios_names_scenario_key_and_allowed_values(setup, dictionary, change, message, fix) -> None:
    """Check that a bad declaration raises a ConfigError naming the scenario, the key and the allowed values."""
    households, _, spec_record, _ = setup
    declaration = {"name": "bad", "description": "A bad scenario", "changes": [change]}
    with pytest.raises(ConfigError) as caught:
        S.parse_scenarios([declaration], households, dictionary, spec_record)
    assert f"scenario 'bad', {message}" in caught.value.message
    assert fix in caught.value.hint


def test_apply_scenario_refuses_values_past_the_codes(setup, dictionary) -> None:
    """Check that adding past a column's top code is a ConfigError naming the key and the codes."""
    households, _, spec_record, _ = setup
    scenario = S.parse_scenarios([{"name": "more_school", "description": "Four more years of school",
                                   "changes": [{"add": {"SCHL": 4}}]}], households, dictionary, spec_record)[0]
    with pytest.raises(ConfigError, match=r"scenario 'more_school', key changes\[0\]\.add\.SCHL: gives \d+ households"):
        S.apply_scenario(scenario, households, dictionary)


def test_run_scenarios_suppresses_small_groups_with_reason(setup, dictionary) -> None:
    """Check that a 5-household group and an empty level are kept, suppressed, with the reason."""
    households, features, spec_record, pipelines = setup
    table = S.run_scenarios(households, features, spec_record, pipelines, dictionary,
                            settings_for([HIGH_SCHOOL], min_sample=58), groups=["sex"])
    assert list(table.loc[table["measure"] == "median_income", "group"]) == ["All", "Male", "Female", "Not reported"]
    female = one_row(table, "high_school_diploma", "median_income", "sex", "Female")
    assert female["suppressed"] and not female["reliable"] and female["n"] == 5
    assert female["reason"] == "suppressed: only 5 sample households (< 10)"
    assert math.isnan(female["change"]) and math.isnan(female["status_quo"])
    empty = one_row(table, "high_school_diploma", "low_income_share", "sex", "Not reported")
    assert empty["suppressed"] and empty["n"] == 0 and empty["reason"] == "no sample households in this group"
    male = one_row(table, "high_school_diploma", "median_income", "sex", "Male")
    assert not male["suppressed"] and male["n"] == 55
    assert not male["reliable"] and "only 55 sample households (< 58)" in male["reason"]
    overall = one_row(table, "high_school_diploma", "median_income")
    assert overall["n"] == 60 and "sample households" not in str(overall["reason"])


def test_check_status_quo_refuses_stale_features(setup, dictionary) -> None:
    """Check that a features table that the builder does not reproduce is a DataError asking to rerun build_features."""
    households, features, spec_record, pipelines = setup
    stale = features.copy()
    stale["hours_worked"] = stale["hours_worked"] + 1
    with pytest.raises(DataError, match="column 'hours_worked'") as caught:
        S.run_scenarios(households, stale, spec_record, pipelines, dictionary, settings_for([HIGH_SCHOOL]))
    assert "build_features" in caught.value.hint


def test_apply_scenario_sets_not_applicable_and_recounts(setup, dictionary) -> None:
    """Check that set null gives the N/A code (hours and weeks 0 in the features) and add subtracts."""
    households, _, spec_record, _ = setup
    scenario = S.parse_scenarios([{
        "name": "stop_work", "description": "Working householders stop work",
        "changes": [{"where": {"column": "ESR", "equals": 1},
                     "set": {"ESR": 6, "WKHP": None, "weeks_worked_band": None}, "add": {"n_workers": -1}}],
    }], households, dictionary, spec_record)[0]
    edited = S.apply_scenario(scenario, households, dictionary)
    working = (households["ESR"] == 1).to_numpy()
    assert edited.touched.tolist() == working.tolist()
    assert edited.households["weeks_worked_band"].isna().all() and edited.households["WKHP"].isna().all()
    assert (edited.households["n_workers"] == 0).all()
    assert edited.steps == ("ESR = 6, WKHP = null, weeks_worked_band = null, n_workers - 1 where ESR == 1",)
    frame = S.rebuild_features(edited.households, dictionary, settings_for([]))
    assert (frame["hours_worked"] == 0).all() and (frame["weeks_worked"] == 0).all()
    with pytest.raises(ConfigError, match="add.n_workers: expected a whole number, got 0.5"):
        S.parse_scenarios([{"name": "half", "description": "Half a worker", "changes": [{"add": {"n_workers": 0.5}}]}],
                          households, dictionary, spec_record)
