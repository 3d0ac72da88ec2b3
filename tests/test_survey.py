"""Tests for policyml.core.survey, checked against independent plain-Python calculations."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from policyml.core.errors import DataError
from policyml.core.survey import (
    REPLICATES,
    SDR_FACTOR,
    Z90,
    Estimate,
    SurveyDesign,
    estimates_frame,
)

RELATIVE = 1e-9


# --------------------------------------------------------------------------------------------------
# Synthetic data and independent reference calculations
# --------------------------------------------------------------------------------------------------


def make_sample(seed: int = 7, records: int = 240) -> dict[str, np.ndarray]:
    """Integer full-sample and replicate weights plus a few variables (with ties)."""
    rng = np.random.default_rng(seed)
    weights = rng.integers(1, 60, records)
    replicate_weights = rng.integers(0, 120, (records, REPLICATES))
    income = rng.integers(0, 40, records).astype(float) * 1000  # many ties
    hours = rng.normal(38, 9, records).round(1)
    owner = rng.random(records) < 0.6
    age = rng.integers(0, 90, records)
    return {
        "weights": weights,
        "replicate_weights": replicate_weights,
        "income": income,
        "hours": hours,
        "owner": owner,
        "age": age,
    }


@pytest.fixture
def sample() -> dict[str, np.ndarray]:
    return make_sample()


@pytest.fixture
def design(sample: dict[str, np.ndarray]) -> SurveyDesign:
    return SurveyDesign(sample["weights"], sample["replicate_weights"])


def weight_columns(
    sample: dict[str, np.ndarray], rows: np.ndarray | None = None
) -> list[list[int]]:
    """The 81 weight columns as Python lists (full sample first), optionally for some rows."""
    full = sample["weights"]
    replicates = sample["replicate_weights"]
    if rows is not None:
        full, replicates = full[rows], replicates[rows]
    columns = [[int(w) for w in full]]
    for r in range(REPLICATES):
        columns.append([int(w) for w in replicates[:, r]])
    return columns


def loop_total(values, weights) -> float:
    return float(sum(v * w for v, w in zip(values, weights)))


def loop_mean(values, weights) -> float:
    return loop_total(values, weights) / float(sum(weights))


def loop_se(theta: float, replicate_thetas: list[float]) -> float:
    squares = 0.0
    for theta_r in replicate_thetas:
        squares += (theta_r - theta) ** 2
    return math.sqrt(4 / 80 * squares)


def loop_estimate(function, columns: list[list[int]]) -> tuple[float, float]:
    """Estimate and SDR SE of ``function(weights)`` by looping over the 80 replicates."""
    theta = function(columns[0])
    replicate_thetas = [function(column) for column in columns[1:]]
    return theta, loop_se(theta, replicate_thetas)


def repeat_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Quantile of the values each repeated by its integer weight (the textbook definition)."""
    return float(np.quantile(np.repeat(values, weights.astype(int)), q, method="inverted_cdf"))


def assert_close(actual: float, expected: float) -> None:
    assert actual == pytest.approx(expected, rel=RELATIVE, abs=1e-12)


# --------------------------------------------------------------------------------------------------
# Estimators against the replicate loop
# --------------------------------------------------------------------------------------------------


def test_total_count_matches_replicate_loop(sample, design):
    """Check that the count of units and its SE equal the sums of weights looped over replicates."""
    expected, expected_se = loop_estimate(lambda w: float(sum(w)), weight_columns(sample))
    result = design.total()
    assert_close(result.estimate, expected)
    assert_close(result.se, expected_se)
    assert result.n == len(sample["weights"])


def test_total_values_match_replicate_loop(sample, design):
    """Check that a weighted total and its SE equal the plain-Python replicate loop."""
    income = sample["income"]
    expected, expected_se = loop_estimate(
        lambda w: loop_total(income, w), weight_columns(sample)
    )
    result = design.total(income)
    assert_close(result.estimate, expected)
    assert_close(result.se, expected_se)


def test_mean_matches_replicate_loop(sample, design):
    """Check that a weighted mean and its SE equal the plain-Python replicate loop."""
    hours = sample["hours"]
    expected, expected_se = loop_estimate(lambda w: loop_mean(hours, w), weight_columns(sample))
    result = design.mean(hours)
    assert_close(result.estimate, expected)
    assert_close(result.se, expected_se)
    assert len(result.replicates) == REPLICATES


def test_proportion_matches_replicate_loop(sample, design):
    """Check that a weighted proportion and its SE equal the replicate loop on a 0/1 indicator."""
    owner = sample["owner"]
    indicator = [1.0 if o else 0.0 for o in owner]
    expected, expected_se = loop_estimate(
        lambda w: loop_mean(indicator, w), weight_columns(sample)
    )
    result = design.proportion(owner)
    assert_close(result.estimate, expected)
    assert_close(result.se, expected_se)
    assert 0 < result.estimate < 1


def test_ratio_matches_replicate_loop(sample, design):
    """Check that a ratio of weighted totals and its SE equal the replicate loop."""
    income, hours = sample["income"], sample["hours"]
    expected, expected_se = loop_estimate(
        lambda w: loop_total(income, w) / loop_total(hours, w), weight_columns(sample)
    )
    result = design.ratio(income, hours)
    assert_close(result.estimate, expected)
    assert_close(result.se, expected_se)


def test_replicate_custom_statistic_matches_replicate_loop(sample, design):
    """Check that the generic replicate() core gives the loop SE for a user statistic."""
    hours = sample["hours"]

    def variance(w):
        mean = loop_mean(hours, w)
        return loop_total([(h - mean) ** 2 for h in hours], w) / float(sum(w))

    def statistic(W):
        totals = W.sum(axis=0)
        means = hours @ W / totals
        return ((hours[:, None] - means) ** 2 * W).sum(axis=0) / totals

    expected, expected_se = loop_estimate(variance, weight_columns(sample))
    result = design.replicate(statistic)
    assert_close(result.estimate, expected)
    assert_close(result.se, expected_se)
    assert result.n == design.n


def test_total_count_equals_generic_replicate(design):
    """Check that total() and replicate() on the column sums are the same mechanism and result."""
    assert design.total() == design.replicate(lambda W: W.sum(axis=0))


# --------------------------------------------------------------------------------------------------
# Quantiles
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["income", "hours"])
def test_median_matches_repeated_values_for_every_weight_column(sample, design, variable):
    """Check that the median equals numpy's inverted-CDF median of values repeated by weight."""
    values = sample[variable]
    result = design.median(values)
    assert result.estimate == repeat_quantile(values, sample["weights"], 0.5)
    for r in [0, 1, 16, 41, 79]:
        expected = repeat_quantile(values, sample["replicate_weights"][:, r], 0.5)
        assert result.replicates[r] == expected
    all_expected = [
        repeat_quantile(values, sample["replicate_weights"][:, r], 0.5) for r in range(REPLICATES)
    ]
    np.testing.assert_array_equal(result.replicates, all_expected)


@pytest.mark.parametrize("q", [0.1, 0.25, 0.9])
@pytest.mark.parametrize("variable", ["income", "hours"])
def test_quantile_matches_repeated_values_for_every_weight_column(sample, design, q, variable):
    """Check that quantile(q) equals numpy's inverted-CDF quantile for all 81 weight columns."""
    values = sample[variable]
    result = design.quantile(values, q)
    assert result.estimate == repeat_quantile(values, sample["weights"], q)
    expected = [
        repeat_quantile(values, sample["replicate_weights"][:, r], q) for r in range(REPLICATES)
    ]
    np.testing.assert_array_equal(result.replicates, expected)
    expected_se = loop_se(result.estimate, expected)
    assert_close(result.se, expected_se)


def test_median_se_matches_hand_calculation():
    """Check the median and its SE on four records against a calculation done by hand.

    Values 10, 20, 30, 40 (stored out of order) with full weights 1, 1, 1, 1: total 4, the median
    is the first value whose cumulative weight reaches 2, i.e. 20. Replicates:
    20 x weights (0, 1, 1, 1): total 3, target 1.5, cumulative 0, 1, 2 -> median 30 (+10);
    40 x weights (1, 1, 1, 1): median 20 (0);
    20 x weights (3, 1, 0, 0): total 4, target 2, cumulative 3 -> median 10 (-10).
    SE = sqrt(4/80 * 40 * 10^2) = sqrt(200).
    """
    values = np.array([40.0, 10.0, 30.0, 20.0])
    by_value = {  # value -> (type A, type B, type C) replicate weight
        10.0: (0, 1, 3),
        20.0: (1, 1, 1),
        30.0: (1, 1, 0),
        40.0: (1, 1, 0),
    }
    pattern = [0] * 20 + [1] * 40 + [2] * 20
    replicate_weights = np.array([[by_value[v][kind] for kind in pattern] for v in values])
    design = SurveyDesign(np.ones(4), replicate_weights)

    result = design.median(values)

    assert result.estimate == 20.0
    assert sorted(set(result.replicates.tolist())) == [10.0, 20.0, 30.0]
    assert result.se == pytest.approx(math.sqrt(200.0), rel=1e-12)
    assert result.cv == pytest.approx(math.sqrt(200.0) / 20.0, rel=1e-12)
    assert result.n == 4
    assert not result.reliable
    assert "only 4 sample cases (< 30)" in result.reason


def test_quantile_accepts_negative_replicate_weights(sample):
    """Check that negative replicate weights are accepted and quantiles stay defined."""
    replicate_weights = sample["replicate_weights"].copy()
    replicate_weights[:5, 3] = -2
    design = SurveyDesign(sample["weights"], replicate_weights)
    result = design.median(sample["income"])
    assert np.all(np.isfinite(result.replicates))
    assert result.estimate == repeat_quantile(sample["income"], sample["weights"], 0.5)


def test_quantile_negative_replicate_weights_follow_cdf_definition(sample):
    """Check that with negative replicate weights each quantile is the smallest x with F(x) >= q."""
    replicate_weights = sample["replicate_weights"].copy()
    replicate_weights[::3, ::2] -= 70  # many negative weights, in half of the replicates
    design = SurveyDesign(sample["weights"], replicate_weights)
    income = sample["income"]  # many tied values
    result = design.quantile(income, 0.25)
    for r in range(REPLICATES):
        weights = replicate_weights[:, r]
        total = float(weights.sum())
        expected = math.nan
        if total > 0:
            for x in sorted(set(income.tolist())):
                if float(weights[income <= x].sum()) >= 0.25 * total:
                    expected = x
                    break
        np.testing.assert_equal(result.replicates[r], expected)


def test_quantile_tied_values_use_cumulative_weight_of_whole_tie():
    """Check that F(x) counts all records tied at x, even when a negative weight lowers it.

    Values 1, 2, 2, 3 with replicate weights 1, 5, -4, 4: total 6, target 3 for the median;
    F(1) = 1, F(2) = 1 + 5 - 4 = 2 < 3, F(3) = 6, so the median is 3 (not 2).
    """
    values = np.array([1.0, 2.0, 2.0, 3.0])
    replicate_weights = np.tile(np.array([[1], [5], [-4], [4]]), (1, REPLICATES))
    design = SurveyDesign(np.ones(4), replicate_weights)
    result = design.median(values)
    assert result.estimate == 2.0
    np.testing.assert_array_equal(result.replicates, np.full(REPLICATES, 3.0))


# --------------------------------------------------------------------------------------------------
# Domains and missing values
# --------------------------------------------------------------------------------------------------


def test_domain_mean_matches_filtered_rows(sample, design):
    """Check that a domain mean and its SE equal the replicate loop on the filtered rows."""
    adults = sample["age"] >= 18
    rows = np.flatnonzero(adults)
    hours = sample["hours"][rows]
    expected, expected_se = loop_estimate(
        lambda w: loop_mean(hours, w), weight_columns(sample, rows)
    )
    result = design.domain(adults, "adults").mean(sample["hours"])
    assert_close(result.estimate, expected)
    assert_close(result.se, expected_se)
    assert result.n == len(rows)


def test_domain_zeroing_agrees_with_filtering_for_all_estimators(sample, design):
    """Check that zeroing weights outside a domain gives the estimates of a filtered design."""
    owners = sample["owner"]
    zeroed = design.domain(owners, "owners")
    filtered = SurveyDesign(sample["weights"][owners], sample["replicate_weights"][owners])
    income, hours = sample["income"], sample["hours"]
    pairs = [
        (zeroed.total(), filtered.total()),
        (zeroed.total(income), filtered.total(income[owners])),
        (zeroed.mean(hours), filtered.mean(hours[owners])),
        (zeroed.proportion(income > 20000), filtered.proportion(income[owners] > 20000)),
        (zeroed.ratio(income, hours), filtered.ratio(income[owners], hours[owners])),
        (zeroed.median(income), filtered.median(income[owners])),
        (zeroed.quantile(hours, 0.9), filtered.quantile(hours[owners], 0.9)),
    ]
    for in_domain, on_filtered in pairs:
        assert_close(in_domain.estimate, on_filtered.estimate)
        assert_close(in_domain.se, on_filtered.se)
        np.testing.assert_allclose(in_domain.replicates, on_filtered.replicates, rtol=RELATIVE)
        assert in_domain.n == on_filtered.n == int(owners.sum())


def test_domain_keeps_all_rows_with_zero_weights_outside(sample, design):
    """Check that a domain keeps every record and zeroes all 81 weights outside it."""
    young = sample["age"] < 30
    domain = design.domain(young, "under 30")
    assert domain.n_records == design.n_records
    assert domain.n == int(young.sum())
    assert np.all(domain.matrix[~young] == 0)
    np.testing.assert_array_equal(domain.matrix[young], design.matrix[young])


def test_domain_nested_equals_combined_mask(sample, design):
    """Check that nested domains equal the domain of the combined mask and name both parts."""
    adults, owners = sample["age"] >= 18, sample["owner"]
    nested = design.domain(adults, "adults").domain(owners, "owners")
    combined = design.domain(adults & owners)
    assert nested.mean(sample["hours"]) == combined.mean(sample["hours"])
    assert nested.name == "adults & owners"


def test_mean_nan_values_are_excluded(sample, design):
    """Check that NaN values carry no weight: the mean equals the loop on the non-missing rows."""
    hours = sample["hours"].copy()
    hours[::7] = np.nan
    rows = np.flatnonzero(~np.isnan(hours))
    expected, expected_se = loop_estimate(
        lambda w: loop_mean(hours[rows], w), weight_columns(sample, rows)
    )
    result = design.mean(hours)
    assert_close(result.estimate, expected)
    assert_close(result.se, expected_se)
    assert result.n == len(rows)


def test_quantile_nan_values_are_excluded(sample, design):
    """Check that NaN values are left out of quantiles, as if the rows were dropped."""
    income = sample["income"].copy()
    income[::5] = np.nan
    keep = ~np.isnan(income)
    result = design.median(pd.Series(income))
    assert result.estimate == repeat_quantile(income[keep], sample["weights"][keep], 0.5)
    assert result.n == int(keep.sum())


def test_proportion_nullable_boolean_excludes_missing(sample, design):
    """Check that a pandas nullable boolean with NA gives the proportion among non-missing rows."""
    owner = pd.Series(sample["owner"], dtype="boolean")
    owner.iloc[:10] = pd.NA
    result = design.proportion(owner)
    expected = design.domain(np.arange(len(owner)) >= 10).proportion(sample["owner"])
    assert_close(result.estimate, expected.estimate)
    assert_close(result.se, expected.se)
    assert result.n == len(owner) - 10


# --------------------------------------------------------------------------------------------------
# Margins, CV and reliability
# --------------------------------------------------------------------------------------------------


def test_estimate_moe90_and_cv_follow_se(design, sample):
    """Check that moe90 is 1.645 SE, CV is SE / |estimate| and the interval spans the MOE."""
    result = design.mean(sample["hours"])
    assert result.moe90 == pytest.approx(1.645 * result.se, rel=1e-15)
    assert Z90 == 1.645 and SDR_FACTOR == 4 / 80
    assert result.cv == pytest.approx(result.se / abs(result.estimate), rel=1e-15)
    low, high = result.interval90
    assert high - low == pytest.approx(2 * result.moe90)


def test_estimate_zero_gives_nan_or_inf_cv_without_warning():
    """Check that a zero estimate gives CV NaN (zero SE) or inf (positive SE), with no warning."""
    exact_zero = Estimate.from_replicates(np.zeros(REPLICATES + 1), n=100)
    assert exact_zero.se == 0 and math.isnan(exact_zero.cv) and exact_zero.reliable
    noisy_zero = Estimate.from_replicates(np.r_[0.0, np.ones(REPLICATES)], n=100)
    assert noisy_zero.cv == math.inf
    assert not noisy_zero.reliable and "CV inf > 0.30" in noisy_zero.reason


def test_proportion_zero_in_domain_has_no_warning(sample, design):
    """Check that a proportion of exactly 0 is estimated without a RuntimeWarning."""
    result = design.proportion(sample["age"] > 200)
    assert result.estimate == 0 and result.se == 0 and math.isnan(result.cv)


def test_reliability_flags_tiny_domain_with_count(sample, design):
    """Check that a domain with few cases is unreliable and the reason gives the count."""
    tiny = np.zeros(len(sample["age"]), dtype=bool)
    tiny[:12] = True
    result = design.domain(tiny, "tiny").mean(sample["hours"])
    assert result.n == 12
    assert not result.reliable
    assert "only 12 sample cases (< 30)" in result.reason


def test_reliability_flags_high_cv_with_value():
    """Check that a high-CV estimate is unreliable and the reason gives its CV and threshold."""
    rng = np.random.default_rng(3)
    records = 400
    weights = np.full(records, 20)
    replicate_weights = rng.integers(0, 60, (records, REPLICATES))
    rare = np.zeros(records, dtype=bool)
    rare[:40] = True
    design = SurveyDesign(weights, replicate_weights)
    result = design.domain(rare, "rare").total()
    assert result.n == 40
    assert result.cv > 0.30
    assert not result.reliable
    assert result.reason == f"CV {result.cv:.2f} > 0.30"


def test_reliability_follows_design_thresholds(sample):
    """Check that cv_threshold and min_n of the design decide the flag."""
    strict = SurveyDesign(sample["weights"], sample["replicate_weights"], min_n=1000)
    loose = SurveyDesign(sample["weights"], sample["replicate_weights"], cv_threshold=10, min_n=1)
    assert "only 240 sample cases (< 1000)" in strict.mean(sample["hours"]).reason
    assert loose.total(sample["income"]).reliable


def test_replicate_zero_denominator_gives_nan_se_without_warning():
    """Check that a replicate with zero domain weight gives a NaN SE and an unreliable estimate."""
    replicate_weights = np.ones((3, REPLICATES))
    replicate_weights[0, 5] = 0  # replicate 6 gives the one-record domain no weight
    design = SurveyDesign(np.ones(3), replicate_weights, min_n=1)
    result = design.domain(np.array([True, False, False]), "one record").mean([5.0, 1.0, 2.0])
    assert result.estimate == 5.0
    assert math.isnan(result.replicates[5])
    assert math.isnan(result.se) and not result.reliable
    assert "SE undefined" in result.reason


# --------------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------------


def test_estimate_repr_eq_and_dict_exclude_replicates(sample, design):
    """Check that repr, equality and to_dict leave out the replicate estimates."""
    result = design.mean(sample["hours"])
    assert "replicates" not in repr(result)
    changed = Estimate(
        result.estimate,
        result.se,
        result.cv,
        result.n,
        result.reliable,
        result.reason,
        np.zeros(REPLICATES),
    )
    assert changed == result
    assert list(result.to_dict()) == ["estimate", "se", "moe90", "cv", "n", "reliable", "reason"]
    assert result.to_dict()["moe90"] == result.moe90


def test_estimates_frame_is_tidy_table(sample, design, tmp_path):
    """Check that estimates_frame gives one row per named estimate with the documented columns."""
    mapping = {
        "mean hours": design.mean(sample["hours"]),
        "median income": design.median(sample["income"]),
        "tiny count": design.domain(np.arange(240) < 5, "tiny").total(),
    }
    frame = estimates_frame(mapping)
    columns = ["name", "estimate", "se", "moe90", "cv", "n", "reliable", "reason"]
    assert list(frame.columns) == columns
    assert list(frame["name"]) == list(mapping)
    assert frame.loc[2, "reason"].startswith("only 5 sample cases (< 30)")
    assert not frame.loc[2, "reliable"] and frame.loc[0, "reliable"]
    assert frame.loc[0, "moe90"] == pytest.approx(Z90 * frame.loc[0, "se"])
    path = tmp_path / "estimates.csv"
    frame.to_csv(path, index=False)
    assert len(pd.read_csv(path)) == 3
    assert list(estimates_frame({}).columns) == list(frame.columns)


# --------------------------------------------------------------------------------------------------
# Construction and bad input
# --------------------------------------------------------------------------------------------------


def test_from_frame_matches_direct_construction(sample):
    """Check that from_frame reads PWGTP and PWGTP1..PWGTP80 into the same design."""
    columns = {"PWGTP": sample["weights"]}
    columns |= {f"PWGTP{r + 1}": sample["replicate_weights"][:, r] for r in range(REPLICATES)}
    frame = pd.DataFrame(columns | {"AGEP": sample["age"]})
    from_frame = SurveyDesign.from_frame(frame, weight="PWGTP")
    direct = SurveyDesign(sample["weights"], sample["replicate_weights"])
    np.testing.assert_array_equal(from_frame.matrix, direct.matrix)
    assert from_frame.matrix.dtype == np.float64 and from_frame.matrix.shape == (240, 81)


def test_from_frame_missing_columns_are_listed(sample):
    """Check that from_frame names every missing weight column."""
    columns = {"WGTP": sample["weights"]}
    columns |= {f"WGTP{r}": sample["replicate_weights"][:, r - 1] for r in range(1, 80)}
    del columns["WGTP7"]
    with pytest.raises(DataError, match="WGTP7, WGTP80") as error:
        SurveyDesign.from_frame(pd.DataFrame(columns))
    assert "missing" in error.value.message
    assert "WGTP1..WGTP80" in error.value.hint


def test_design_rejects_wrong_number_of_replicates(sample):
    """Check that 79 replicate weight columns raise a DataError naming the count."""
    with pytest.raises(DataError, match="expected 80 replicate weight columns, got 79"):
        SurveyDesign(sample["weights"], sample["replicate_weights"][:, :79])


def test_design_rejects_mismatched_rows(sample):
    """Check that replicate weights with a different number of rows raise a DataError."""
    with pytest.raises(DataError, match="replicate weights have 239 rows"):
        SurveyDesign(sample["weights"], sample["replicate_weights"][:-1])


def test_design_rejects_negative_full_weight(sample):
    """Check that a negative full-sample weight raises a DataError naming the row."""
    weights = sample["weights"].copy()
    weights[3] = -1
    with pytest.raises(DataError, match=r"non-negative: 1 negative \(first at row 3: -1\)"):
        SurveyDesign(weights, sample["replicate_weights"])


def test_design_rejects_nan_full_weight(sample):
    """Check that a NaN full-sample weight raises a DataError naming the problem."""
    weights = sample["weights"].astype(float)
    weights[8] = np.nan
    with pytest.raises(DataError, match="full-sample weights have 1 missing or infinite values"):
        SurveyDesign(weights, sample["replicate_weights"])


def test_design_rejects_nan_replicate_weight(sample):
    """Check that a NaN replicate weight raises a DataError naming row and replicate."""
    replicate_weights = sample["replicate_weights"].astype(float)
    replicate_weights[4, 9] = np.nan
    with pytest.raises(DataError, match="first at row 4, replicate 10"):
        SurveyDesign(sample["weights"], replicate_weights)


def test_design_accepts_negative_and_zero_replicate_weights(sample):
    """Check that zero and negative replicate weights (housing files) are accepted."""
    replicate_weights = sample["replicate_weights"].copy()
    replicate_weights[0, :] = 0
    replicate_weights[1, :] = -3
    design = SurveyDesign(sample["weights"], replicate_weights)
    assert np.isfinite(design.total().se)


def test_domain_empty_raises_naming_it(sample, design):
    """Check that an empty domain raises a DataError naming the domain."""
    with pytest.raises(DataError, match="domain 'centenarians' is empty"):
        design.domain(sample["age"] > 100, "centenarians")


def test_mean_all_missing_in_domain_raises(sample, design):
    """Check that a domain whose values are all missing raises instead of returning NaN."""
    hours = sample["hours"].copy()
    owners = sample["owner"]
    hours[owners] = np.nan
    with pytest.raises(DataError, match="mean on domain 'owners': zero total weight"):
        design.domain(owners, "owners").mean(hours)
    with pytest.raises(DataError, match="median on domain 'owners': zero total weight"):
        design.domain(owners, "owners").median(hours)


def test_domain_rejects_non_boolean_mask(sample, design):
    """Check that a numeric domain mask raises a DataError asking for a boolean one."""
    with pytest.raises(DataError, match="domain mask must be boolean"):
        design.domain(sample["age"])


def test_mean_rejects_values_of_wrong_length(sample, design):
    """Check that values not aligned with the records raise a DataError."""
    with pytest.raises(DataError, match="has shape \\(239,\\) but the design has 240 records"):
        design.mean(sample["hours"][:-1])
