"""Targets, derived features, interactions and the leakage guard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policyml.core.config import validate_config
from policyml.core.errors import ConfigError
from policyml.model.features import (
    INCOME_DERIVED,
    NOT_WORKING,
    FeatureSpec,
    build_feature_table,
    build_targets,
)

DEFAULTS = validate_config({})


def spec_with(**changes) -> FeatureSpec:
    return FeatureSpec.from_config(DEFAULTS["features"] | changes)


@pytest.fixture(scope="module")
def nm_table(nm_households, dictionary_2018):
    return build_feature_table(nm_households, dictionary_2018, spec_with(), DEFAULTS["targets"])


@pytest.mark.parametrize("column", sorted(c for c in INCOME_DERIVED if c.isupper()))
def test_leakage_guard_refuses_income_columns(column):
    """Check that every income component or income-derived PUMS column is refused as a feature."""
    with pytest.raises(ConfigError, match=rf"feature '{column}' is computed from {column}.*leaks the income target"):
        spec_with(numeric=[*DEFAULTS["features"]["numeric"], column])


def test_leakage_guard_refuses_derived_and_interacted_income():
    """Check that income hidden in a derived feature or an interaction is refused too."""
    with pytest.raises(ConfigError, match="n_earners.*PERNP"):
        spec_with(numeric=["n_earners"])
    with pytest.raises(ConfigError, match=r"hours_worked_x_PINCP.*PINCP \(total person income\)"):
        spec_with(interactions=[["hours_worked", "PINCP"]])


def test_leakage_guard_scrambled_income_leaves_features_unchanged(nm_households, dictionary_2018, nm_table):
    """Check that shuffling every income-derived household column changes no model input."""
    scrambled = nm_households.copy()
    rng = np.random.default_rng(0)
    for column in scrambled.columns:
        if column in INCOME_DERIVED or column.startswith("alloc_") and column[6:] in INCOME_DERIVED:
            scrambled[column] = rng.permutation(scrambled[column].to_numpy())
    again = build_feature_table(scrambled, dictionary_2018, spec_with(), DEFAULTS["targets"])
    inputs = nm_table.numeric + nm_table.categorical
    pd.testing.assert_frame_equal(again.frame[inputs], nm_table.frame[inputs])
    assert not again.frame["log_income"].equals(nm_table.frame["log_income"])


def test_feature_spec_keeps_protected_out_of_the_model_by_default(nm_table):
    """Check that protected attributes are in the table for the audit but not model inputs."""
    inputs = set(nm_table.numeric) | set(nm_table.categorical)
    assert not inputs & {"race", "hispanic_origin", "sex", "age", "age_band", "disability"}
    assert not any("age" in column.split("_x_") for column in inputs)
    assert {"race", "sex", "age", "disability"} <= set(nm_table.frame.columns)


def test_feature_spec_include_protected_adds_them_and_their_interactions(nm_households, dictionary_2018):
    """Check that include_protected brings the protected attributes and education × age in."""
    table = build_feature_table(nm_households, dictionary_2018, spec_with(include_protected=True), DEFAULTS["targets"])
    assert {"race", "sex", "age_band", "disability", "hispanic_origin"} <= set(table.categorical)
    assert {"age", "education_rank_x_age"} <= set(table.numeric)
    expected = nm_households["SCHL"].astype(float) * nm_households["AGEP"].astype(float)
    np.testing.assert_allclose(table.frame["education_rank_x_age"], expected)


def test_feature_interaction_numeric_by_category_has_a_reference_level(nm_table):
    """Check that hours × occupation has one column per non-reference group: hours inside it, 0 elsewhere."""
    frame = nm_table.frame
    columns = [c for c in nm_table.numeric if c.startswith("hours_worked_x_occupation_group[")]
    levels = list(frame["occupation_group"].cat.categories)
    assert columns == [f"hours_worked_x_occupation_group[{level}]" for level in levels[1:]]
    reference = frame["occupation_group"] == levels[0]
    assert (frame.loc[reference, columns] == 0).all().all()
    sales = frame["occupation_group"] == "Sales"
    np.testing.assert_allclose(frame.loc[sales, "hours_worked_x_occupation_group[Sales]"], frame.loc[sales, "hours_worked"])
    np.testing.assert_allclose(frame.loc[~reference, columns].sum(axis=1), frame.loc[~reference, "hours_worked"])


def test_feature_occupation_groups_follow_dictionary_prefixes(nm_households, nm_table):
    """Check that OCCP codes map to SOC groups by the dictionary's label prefixes, gaps included."""
    groups = nm_table.frame["occupation_group"]
    occp = nm_households["OCCP"]
    assert (groups[occp == 10] == "Management").all()  # MGR-Chief Executives And Legislators
    assert (groups[occp.isna()] == NOT_WORKING).all()


def test_feature_occupation_unprefixed_codes(dictionary_2018, nm_households):
    """Check that codes whose labels lack a prefix take the group of the code before them."""
    frame = nm_households.head(3).copy()
    frame["OCCP"] = [1555.0, 8000.0, 9920.0]
    table = build_feature_table(frame, dictionary_2018, spec_with(), DEFAULTS["targets"])
    assert table.frame["occupation_group"].tolist() == ["Architecture and engineering", "Production", NOT_WORKING]


def test_feature_hours_and_weeks_are_zero_for_non_workers(nm_households, nm_table):
    """Check that structural N/A hours and weeks (did not work) become 0, and bands their midpoints."""
    did_not_work = nm_households["WKHP"].isna()
    assert (nm_table.frame.loc[did_not_work, ["hours_worked", "weeks_worked"]] == 0).all().all()
    full_year = nm_households["weeks_worked_band"] == 1
    assert (nm_table.frame.loc[full_year, "weeks_worked"] == 51).all()


def test_targets_log_income_and_low_income():
    """Check the targets: log of positive income, nonpositive dropped or floored, POVPIP < 200."""
    households = pd.DataFrame({"household_income": [50_000.0, 0.0, -2_000.0, 24_999.0],
                               "POVPIP": [250.0, 0.0, 199.0, np.nan]})
    dropped = build_targets(households, DEFAULTS["targets"])
    np.testing.assert_allclose(dropped["log_income"], [np.log(50_000), np.nan, np.nan, np.log(24_999)])
    np.testing.assert_array_equal(dropped["low_income"], [0.0, 1.0, 1.0, np.nan])
    assert dropped["income_bracket"].tolist() == ["$50,000-$74,999", "Under $25,000", "Under $25,000", "Under $25,000"]
    floored = build_targets(households, DEFAULTS["targets"] | {"nonpositive_income": "floor", "income_floor": 1000})
    np.testing.assert_allclose(floored["log_income"][:3], np.log([50_000, 1000, 1000]))


def test_feature_spec_unknown_feature_names_options():
    """Check that a misspelt feature is refused with the list of known ones."""
    with pytest.raises(ConfigError, match="unknown features educaton_rank.*education_rank"):
        spec_with(numeric=["educaton_rank"])


def test_feature_table_nm_shape_and_targets(nm_households, nm_table):
    """Check that NM gives one row per household and the low-income share matches POVPIP directly."""
    frame = nm_table.frame
    assert len(frame) == len(nm_households) == 7912
    weights = nm_households["WGTP"]
    direct = (weights * (nm_households["POVPIP"] < 200)).sum() / weights.sum()
    assert (frame["WGTP"] * frame["low_income"]).sum() / frame["WGTP"].sum() == pytest.approx(direct)
    assert frame["log_income"].isna().sum() == (nm_households["household_income"] <= 0).sum()


def test_acsincome_table_matches_folktables_filters(nm_persons, dictionary_2018):
    """Check the ACSIncome rows and target against the filters applied to the raw Census file."""
    import zipfile

    from conftest import PUMS_2018

    from policyml.model.features import build_acsincome_table

    with zipfile.ZipFile(PUMS_2018 / "csv_pnm.zip") as archive:
        raw = pd.read_csv(archive.open("psam_p35.csv"), usecols=["AGEP", "PINCP", "WKHP", "PWGTP", "RELP"])
    kept = raw[(raw["AGEP"] > 16) & (raw["PINCP"] > 100) & (raw["WKHP"] > 0) & (raw["PWGTP"] >= 1)]
    table = build_acsincome_table(nm_persons, dictionary_2018)
    frame = table.frame
    assert len(frame) == len(kept) and frame["SERIALNO"].is_unique
    assert frame["income_over_50k"].sum() == (kept["PINCP"] > 50_000).sum()
    np.testing.assert_array_equal(np.sort(frame["RELP"].to_numpy()), np.sort(kept["RELP"].to_numpy(float)))
    assert table.numeric == ["AGEP", "SCHL", "WKHP"]
    assert set(table.categorical) == {"COW", "MAR", "OCCP", "POBP", "RELP", "SEX", "RAC1P"}
