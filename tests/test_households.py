"""Tests of policyml.data.households and policyml.data.summary: synthetic households with known answers,
and the embedded NM/WY 2018 files checked against independent calculations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from policyml.core.errors import DataError
from policyml.core.states import resolve_state
from policyml.data.households import build_households
from policyml.data.published import PublishedEstimate
from policyml.data.schema import REPLICATES, check_period, read_persons
from policyml.data.summary import data_summary, missing_data_summary

REPLICATE_RANGE = range(1, REPLICATES + 1)
UNIT_A, UNIT_B, UNIT_C, GQ = "2018HU0000001", "2018HU0000002", "2018HU0000003", "2018GQ0000004"


def weights(full: int, replicate) -> dict:
    """PWGTP and PWGTP1..80, the replicates given as a function of r."""
    return {"PWGTP": full, **{f"PWGTP{r}": replicate(r) for r in REPLICATE_RANGE}}


# Three housing units and one group-quarters resident, with known composition:
# A: married couple (45 M employed, 43 F not in labour force with allocated income), children 14 and 16
# B: 70-year-old woman, her 92-year-old father and a 14-year-old grandchild whose income is allocated
# C: a 30-year-old unemployed man with a self-employment loss
SYNTHETIC_RECORDS = [
    {"SERIALNO": UNIT_A, "RELP": 0, "AGEP": 45, "SEX": 1, "SCHL": 21, "ESR": 1, "PINCP": 50_000,
     "WAGP": 50_000, "PERNP": 50_000, "WKHP": 40, "WKW": 1, **weights(100, lambda r: 100 + r)},
    {"SERIALNO": UNIT_A, "RELP": 1, "AGEP": 43, "SEX": 2, "SCHL": 18, "ESR": 6, "PINCP": 20_000,
     "RETP": 20_000, "FPINCP": 1, **weights(90, lambda r: 90)},
    {"SERIALNO": UNIT_A, "RELP": 2, "AGEP": 14, "SEX": 2, "SCHL": 11, "ESR": None, "PINCP": 999,
     "PERNP": 500, "MAR": 5, **weights(95, lambda r: 95)},
    {"SERIALNO": UNIT_A, "RELP": 2, "AGEP": 16, "SEX": 1, "SCHL": 13, "ESR": 2, "PINCP": 3_000,
     "WAGP": 3_000, "PERNP": 3_000, "MAR": 5, **weights(97, lambda r: 97)},
    {"SERIALNO": UNIT_B, "RELP": 0, "AGEP": 70, "SEX": 2, "SCHL": 16, "ESR": 6, "PINCP": 18_000,
     "SSP": 18_000, "MAR": 2, "RAC1P": 3, "HISP": 2, **weights(200, lambda r: 200 - r)},
    {"SERIALNO": UNIT_B, "RELP": 6, "AGEP": 92, "SEX": 1, "SCHL": 9, "ESR": 6, "PINCP": 12_000,
     "SSP": 12_000, "MAR": 2, "RAC1P": 3, "HISP": 2, **weights(180, lambda r: 180)},
    {"SERIALNO": UNIT_B, "RELP": 7, "AGEP": 14, "SEX": 1, "SCHL": 10, "ESR": None, "PINCP": 250,
     "FPINCP": 1, "MAR": 5, "RAC1P": 3, "HISP": 2, **weights(150, lambda r: 150)},
    {"SERIALNO": UNIT_C, "RELP": 0, "AGEP": 30, "SEX": 1, "SCHL": 24, "ESR": 3, "PINCP": -5_000,
     "SEMP": -5_000, "PERNP": -5_000, "MAR": 5, **weights(300, lambda r: 3 * r)},
    {"SERIALNO": GQ, "RELP": 16, "AGEP": 20, "SEX": 1, "SCHL": 19, "ESR": 6, "PINCP": 1_000,
     "MAR": 5, **weights(50, lambda r: 50)},
]
EXPECTED = pd.DataFrame(
    {
        "n_persons": [4, 3, 1],
        "n_children": [2, 1, 0],
        "n_seniors": [0, 2, 0],
        "n_workers": [2, 0, 0],
        "n_earners": [2, 0, 1],
        "household_income": [73_000.0, 30_000.0, -5_000.0],
        "alloc_household_income": [True, False, False],
    },
    index=pd.Index([UNIT_A, UNIT_B, UNIT_C], name="SERIALNO"),
)


@pytest.fixture
def read_synthetic(tmp_path, person_frame, make_person_zip, dictionary_2018):
    """Read synthetic 2018-layout records into the canonical person table."""

    def read(records=SYNTHETIC_RECORDS) -> pd.DataFrame:
        path = make_person_zip(tmp_path, person_frame(records))
        return read_persons(path, resolve_state("NM"), check_period(2018), dictionary_2018)

    return read


@pytest.fixture
def synthetic_households(read_synthetic, dictionary_2018) -> pd.DataFrame:
    return build_households(read_synthetic(), dictionary_2018).set_index("SERIALNO")


def housing_frame(units: dict[str, dict]) -> pd.DataFrame:
    """A housing table in the canonical layout read_housing returns (occupied units only)."""
    rows = []
    for serial, unit in units.items():
        wgtp = unit["WGTP"]
        rows.append(
            {"SERIALNO": serial, "ADJINC": 1.0, "WGTP": wgtp, "NP": unit.get("NP", 1),
             "HINCP": unit["HINCP"], "FINCP": unit.get("FINCP", np.nan),
             **{f"WGTP{r}": wgtp + 2 * r for r in REPLICATE_RANGE},
             "TYPEHUGQ": 1, "alloc_HINCP": unit.get("alloc", False), "alloc_FINCP": False}
        )
    frame = pd.DataFrame(rows)
    columns = ["WGTP", *(f"WGTP{r}" for r in REPLICATE_RANGE)]
    frame[columns] = frame[columns].astype("int32")
    return frame


HOUSING_UNITS = {
    UNIT_A: {"WGTP": 110, "HINCP": 75_000.0, "NP": 4},
    UNIT_B: {"WGTP": 210, "HINCP": 31_000.0, "NP": 3, "alloc": True},
    UNIT_C: {"WGTP": 310, "HINCP": 0.0, "NP": 1},
    "2018HU0000009": {"WGTP": 50, "HINCP": 10_000.0},  # a unit whose persons are not in the file
}


# --------------------------------------------------------------------------------------------------
# Synthetic households from the person file


def test_build_households_one_row_per_unit(synthetic_households: pd.DataFrame):
    """Check that three housing units give three rows and the group-quarters person none."""
    assert list(synthetic_households.index) == [UNIT_A, UNIT_B, UNIT_C]
    assert GQ not in synthetic_households.index


@pytest.mark.parametrize("column", ["n_persons", "n_children", "n_seniors", "n_workers", "n_earners"])
def test_build_households_composition(synthetic_households: pd.DataFrame, column: str):
    """Check the counts of persons, children (<18), seniors (65+), workers and earners (15+)."""
    pd.testing.assert_series_equal(
        synthetic_households[column].astype(int), EXPECTED[column].astype(int), check_names=False
    )


def test_build_households_income_sums_members_15_and_over(synthetic_households: pd.DataFrame):
    """Check that household income is the sum of PINCP of members 15+, ignoring a 14-year-old's."""
    pd.testing.assert_series_equal(
        synthetic_households["household_income"], EXPECTED["household_income"], check_names=False
    )
    assert synthetic_households.attrs["household_income_source"] == "sum of PINCP of members aged 15+"


def test_build_households_income_allocation_flag(synthetic_households: pd.DataFrame):
    """Check that income counts as allocated when a member 15+ (not a child) has FPINCP=1."""
    assert synthetic_households["alloc_household_income"].tolist() == [True, False, False]


def test_build_households_weights_are_householder_weights(synthetic_households: pd.DataFrame):
    """Check that WGTP and WGTP1..80 are the householder's PWGTP and PWGTP1..80."""
    expected_full = {UNIT_A: 100, UNIT_B: 200, UNIT_C: 300}
    expected_rep = {UNIT_A: lambda r: 100 + r, UNIT_B: lambda r: 200 - r, UNIT_C: lambda r: 3 * r}
    for serial, household in synthetic_households.iterrows():
        assert household["WGTP"] == expected_full[serial]
        assert [household[f"WGTP{r}"] for r in REPLICATE_RANGE] == [expected_rep[serial](r) for r in REPLICATE_RANGE]


def test_build_households_householder_traits(synthetic_households: pd.DataFrame):
    """Check that the labelled traits are the householder's, not another member's."""
    assert synthetic_households["sex"].tolist() == ["Male", "Female", "Male"]
    assert synthetic_households["AGEP"].tolist() == [45, 70, 30]
    assert synthetic_households["race"].tolist() == ["White alone", "American Indian alone", "White alone"]
    assert synthetic_households["hispanic_origin"].tolist() == [
        "Not Hispanic or Latino", "Hispanic or Latino", "Not Hispanic or Latino",
    ]
    assert synthetic_households["employment_status"].tolist() == [
        "Civilian employed, at work", "Not in labor force", "Unemployed",
    ]


def test_build_households_education_is_ordered(synthetic_households: pd.DataFrame):
    """Check that education is an ordered categorical in SCHL order (doctorate above diploma)."""
    education = synthetic_households["education"]
    assert education.cat.ordered
    assert education.tolist() == ["Bachelor's degree", "Regular high school diploma", "Doctorate degree"]
    assert (education > "Regular high school diploma").tolist() == [True, False, True]
    codes = education.cat.codes
    assert codes[UNIT_C] > codes[UNIT_A] > codes[UNIT_B]
    assert list(education.cat.categories[:2]) == ["N/A (less than 3 years old)", "No schooling completed"]


def test_build_households_age_band(synthetic_households: pd.DataFrame):
    """Check that householders' ages fall in the right age bands."""
    assert synthetic_households["age_band"].tolist() == ["45 to 54", "65 and over", "25 to 34"]


def test_build_households_weeks_worked_labels(synthetic_households: pd.DataFrame):
    """Check that WKW band 1 reads 50 to 52 weeks and a blank reads did not work."""
    assert synthetic_households["weeks_worked"].tolist() == [
        "50 to 52 weeks", "Did not work in the past 12 months", "Did not work in the past 12 months",
    ]


def test_build_households_blank_hours_keep_not_applicable(synthetic_households: pd.DataFrame):
    """Check that a householder's blank WKHP stays missing (structural N/A), not zero."""
    assert synthetic_households.loc[UNIT_A, "WKHP"] == 40
    assert synthetic_households[["WKHP"]].loc[[UNIT_B, UNIT_C]].isna().all().all()


# --------------------------------------------------------------------------------------------------
# Synthetic households with a housing file


def test_build_households_housing_income_and_weights(read_synthetic, dictionary_2018):
    """Check that with a housing file income is HINCP and weights are WGTP/WGTP1..80."""
    housing = housing_frame(HOUSING_UNITS)
    households = build_households(read_synthetic(), dictionary_2018, housing=housing).set_index("SERIALNO")
    assert list(households.index) == [UNIT_A, UNIT_B, UNIT_C]
    assert households["household_income"].tolist() == [75_000.0, 31_000.0, 0.0]
    assert households["alloc_household_income"].tolist() == [False, True, False]
    assert households["WGTP"].tolist() == [110, 210, 310]
    assert households["WGTP80"].tolist() == [270, 370, 470]
    assert households["n_persons"].tolist() == [4, 3, 1]
    assert households.attrs["household_income_source"] == "HINCP (housing file)"


def test_build_households_unit_missing_from_housing_raises(read_synthetic, dictionary_2018):
    """Check that a person-file household absent from the housing file raises a DataError naming it."""
    housing = housing_frame({k: v for k, v in HOUSING_UNITS.items() if k != UNIT_B})
    with pytest.raises(DataError, match=rf"1 households of the person file have no record in the housing file \(e\.g\. {UNIT_B}\)"):
        build_households(read_synthetic(), dictionary_2018, housing=housing)


# --------------------------------------------------------------------------------------------------
# Inconsistent person files


def test_build_households_two_householders_raises(read_synthetic, dictionary_2018):
    """Check that a unit with two reference persons raises a DataError."""
    records = [dict(r) for r in SYNTHETIC_RECORDS]
    records[1]["RELP"] = 0
    with pytest.raises(DataError, match="1 housing units have more than one householder"):
        build_households(read_synthetic(records), dictionary_2018)


def test_build_households_orphan_members_raise(read_synthetic, dictionary_2018):
    """Check that members whose unit has no householder raise a DataError counting them."""
    records = [r for r in SYNTHETIC_RECORDS if not (r["SERIALNO"] == UNIT_B and r["RELP"] == 0)]
    with pytest.raises(DataError, match="2 household members belong to no householder's unit"):
        build_households(read_synthetic(records), dictionary_2018)


def test_build_households_only_group_quarters_raises(read_synthetic, dictionary_2018):
    """Check that a file with only group-quarters persons has no households and says so."""
    records = [r for r in SYNTHETIC_RECORDS if r["SERIALNO"] == GQ]
    with pytest.raises(DataError, match="no households"):
        build_households(read_synthetic(records), dictionary_2018)


# --------------------------------------------------------------------------------------------------
# Real NM households


def test_build_households_nm_counts(nm_households: pd.DataFrame):
    """Check that NM has 7,912 households weighing 794,123, one row per unit."""
    assert len(nm_households) == 7_912
    assert int(nm_households["WGTP"].sum()) == 794_123
    assert nm_households["SERIALNO"].is_unique


def test_build_households_nm_no_group_quarters(nm_households: pd.DataFrame, nm_persons: pd.DataFrame):
    """Check that no household row comes from a group-quarters record."""
    gq_serials = set(nm_persons.loc[nm_persons["is_group_quarters"], "SERIALNO"])
    assert not gq_serials & set(nm_households["SERIALNO"])
    assert not nm_households["SERIALNO"].str.contains("GQ").any()


def test_build_households_nm_persons_add_up(nm_households: pd.DataFrame, nm_persons: pd.DataFrame):
    """Check that household sizes add up to the number of persons outside group quarters."""
    assert int(nm_households["n_persons"].sum()) == int((~nm_persons["is_group_quarters"]).sum()) == 19_247 - 794


def test_build_households_nm_income_independent(nm_households: pd.DataFrame, nm_persons: pd.DataFrame):
    """Check household income against a plain groupby of members' PINCP for ages 15+."""
    members = nm_persons.loc[~nm_persons["is_group_quarters"] & (nm_persons["AGEP"] >= 15)]
    expected = members.groupby("SERIALNO")["PINCP"].sum()
    ours = nm_households.set_index("SERIALNO")["household_income"]
    np.testing.assert_allclose(ours.to_numpy(), expected.reindex(ours.index).fillna(0).to_numpy(), rtol=1e-12)


def test_build_households_nm_weights_independent(nm_households: pd.DataFrame, nm_persons: pd.DataFrame):
    """Check that every household weight column equals its householder's person weight column."""
    householders = nm_persons.loc[nm_persons["is_householder"]].set_index("SERIALNO")
    ours = nm_households.set_index("SERIALNO")
    for r in ["", *map(str, REPLICATE_RANGE)]:
        np.testing.assert_array_equal(ours[f"WGTP{r}"].to_numpy(), householders.loc[ours.index, f"PWGTP{r}"].to_numpy())


# --------------------------------------------------------------------------------------------------
# data_summary on NM, against independent calculations


def inverted_cdf_median(income: np.ndarray, weight: np.ndarray) -> float:
    return float(np.quantile(np.repeat(income, weight), 0.5, method="inverted_cdf"))


@pytest.fixture(scope="module")
def nm_summary(nm_persons, nm_households) -> dict:
    published = PublishedEstimate("B19013", 47_169.0, 900.0, "test")
    return data_summary(nm_persons, nm_households, published)


def test_data_summary_nm_median_matches_expanded_sample(nm_summary: dict, nm_households: pd.DataFrame):
    """Check the weighted median income against np.quantile of the weight-expanded sample."""
    income = nm_households["household_income"].to_numpy()
    expected = inverted_cdf_median(income, nm_households["WGTP"].to_numpy())
    assert nm_summary["median_household_income"]["estimate"] == expected
    assert nm_summary["median_household_income"]["n"] == 7_912


def test_data_summary_nm_median_se_matches_replicate_loop(nm_summary: dict, nm_households: pd.DataFrame):
    """Check the median's SE against a plain loop over the 80 replicate weights (SDR formula)."""
    income = nm_households["household_income"].to_numpy()
    median = inverted_cdf_median(income, nm_households["WGTP"].to_numpy())
    squares = 0.0
    for r in REPLICATE_RANGE:
        replicate_weight = nm_households[f"WGTP{r}"].to_numpy()
        assert replicate_weight.min() >= 0  # np.repeat needs non-negative counts
        squares += (inverted_cdf_median(income, replicate_weight) - median) ** 2
    expected_se = math.sqrt(4 / 80 * squares)
    result = nm_summary["median_household_income"]
    assert result["se"] == pytest.approx(expected_se, rel=1e-12)
    assert result["moe90"] == pytest.approx(1.645 * expected_se, rel=1e-12)
    assert result["cv"] == pytest.approx(expected_se / median, rel=1e-12)


def test_data_summary_nm_mean_and_counts(nm_summary: dict, nm_households: pd.DataFrame, nm_persons: pd.DataFrame):
    """Check the weighted mean income, household total and person counts against numpy."""
    weight = nm_households["WGTP"].to_numpy()
    expected_mean = np.average(nm_households["household_income"].to_numpy(), weights=weight)
    assert nm_summary["mean_household_income"]["estimate"] == pytest.approx(expected_mean, rel=1e-12)
    assert nm_summary["households"]["weighted"]["estimate"] == 794_123
    assert nm_summary["persons"] == {
        "records": 19_247, "in_group_quarters": 794, "weighted": int(nm_persons["PWGTP"].sum()),
    }
    assert (nm_summary["state"], nm_summary["year"], nm_summary["survey"]) == ("NM", 2018, "1-Year")


# --------------------------------------------------------------------------------------------------
# missing_data_summary (WY: a small state with tiny groups)


@pytest.fixture(scope="module")
def wy_missing(wy_households: pd.DataFrame) -> pd.DataFrame:
    return missing_data_summary(wy_households)


SHARES = ["share_not_applicable", "share_allocated", "share_reported"]


def test_missing_data_summary_shares_sum_to_one(wy_missing: pd.DataFrame):
    """Check that not-applicable, allocated and reported shares add up to 1 in every non-empty cell."""
    filled = wy_missing.loc[wy_missing["n"] > 0]
    assert len(filled) > 0
    np.testing.assert_allclose(filled[SHARES].sum(axis=1).to_numpy(), 1.0, rtol=1e-12)


def test_missing_data_summary_hours_not_applicable(wy_missing: pd.DataFrame, wy_households: pd.DataFrame):
    """Check that WKHP's N/A share is the weighted share of householders with blank WKHP."""
    weight = wy_households["WGTP"].to_numpy(dtype=float)
    blank = wy_households["WKHP"].isna().to_numpy()
    expected = weight[blank].sum() / weight.sum()
    row = wy_missing.query("variable == 'WKHP' and group_variable == 'all'").iloc[0]
    assert 0 < expected < 1
    assert row["share_not_applicable"] == pytest.approx(expected, rel=1e-12)
    allocated = wy_households["alloc_WKHP"].to_numpy() & ~blank
    assert row["share_allocated"] == pytest.approx(weight[allocated].sum() / weight.sum(), rel=1e-12)


def test_missing_data_summary_income_allocated_by_sex(wy_missing: pd.DataFrame, wy_households: pd.DataFrame):
    """Check the allocated share of household income among female householders by hand."""
    female = (wy_households["sex"] == "Female").to_numpy()
    weight = wy_households["WGTP"].to_numpy(dtype=float)
    allocated = wy_households["alloc_household_income"].to_numpy()
    expected = weight[female & allocated].sum() / weight[female].sum()
    row = wy_missing.query("variable == 'household_income' and group == 'Female'").iloc[0]
    assert row["n"] == female.sum()
    assert row["share_allocated"] == pytest.approx(expected, rel=1e-12)


def test_missing_data_summary_every_race_appears(wy_missing: pd.DataFrame, wy_households: pd.DataFrame):
    """Check that each race category has one row per variable, with its sample size."""
    race = wy_missing.loc[wy_missing["group_variable"] == "race"]
    categories = list(wy_households["race"].cat.categories)
    assert len(categories) == 9
    assert sorted(race["group"].unique()) == sorted(categories)
    assert (race.groupby("group").size() == race["variable"].nunique()).all()
    counts = wy_households["race"].value_counts()
    for group, n in race.groupby("group")["n"].first().items():
        assert n == counts[group]


def test_missing_data_summary_small_groups_unreliable(wy_missing: pd.DataFrame):
    """Check that WY groups under 30 households are flagged unreliable, saying why."""
    small = wy_missing.loc[(wy_missing["n"] > 0) & (wy_missing["n"] < 30)]
    assert len(small) > 0
    assert not small["allocated_reliable"].astype(bool).any()
    for _, row in small.iterrows():
        assert f"only {row['n']} sample cases (< 30)" in row["allocated_reason"]


def test_missing_data_summary_empty_group_kept(wy_households: pd.DataFrame):
    """Check that a race with no sample household keeps its rows, n = 0 and a reason, no shares."""
    without_asian = wy_households.loc[wy_households["race"] != "Asian alone"].reset_index(drop=True)
    table = missing_data_summary(without_asian)
    empty = table.loc[(table["group_variable"] == "race") & (table["group"] == "Asian alone")]
    assert len(empty) == table["variable"].nunique()
    assert (empty["n"] == 0).all()
    assert empty[SHARES].isna().all().all()
    assert (empty["allocated_reason"] == "no sample households in this group").all()
    assert not empty["allocated_reliable"].astype(bool).any()


def test_build_households_english_ability_ordered_from_not_at_all_to_only_english(nm_households):
    """Check that English ability runs from 'Not at all' up to speaking only English (the N/A label)."""
    english = nm_households["english_ability"]
    assert english.cat.ordered
    assert list(english.cat.categories) == [
        "Not at all", "Not well", "Well", "Very well", "N/A (less than 5 years old/speaks only English)",
    ]
