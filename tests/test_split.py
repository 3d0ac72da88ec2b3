"""Stratified, seeded train/test split, CV folds and the representativeness table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policyml.core.config import validate_config
from policyml.core.errors import DataError
from policyml.model.features import FeatureSpec, build_feature_table
from policyml.model.split import cv_folds, representativeness, split_households, strata

DEFAULTS = validate_config({})


@pytest.fixture(scope="module")
def nm_frame(nm_households, dictionary_2018):
    spec = FeatureSpec.from_config(DEFAULTS["features"])
    return build_feature_table(nm_households, dictionary_2018, spec, DEFAULTS["targets"]).frame


@pytest.fixture(scope="module")
def nm_split(nm_frame):
    return split_households(nm_frame, 0.2, 5, 20, seed=2018)


def test_split_is_seeded(nm_frame, nm_split):
    """Check that the same seed gives the same split and another seed a different one."""
    pd.testing.assert_frame_equal(split_households(nm_frame, 0.2, 5, 20, seed=2018), nm_split)
    assert not split_households(nm_frame, 0.2, 5, 20, seed=7)["set"].equals(nm_split["set"])


def test_split_sizes_and_folds(nm_split):
    """Check the test share, equal fold sizes, and that folds partition the training rows."""
    assert (nm_split["set"] == "test").mean() == pytest.approx(0.2, abs=0.002)
    assert (nm_split.loc[nm_split["set"] == "test", "fold"] == -1).all()
    sizes = nm_split.loc[nm_split["set"] == "train", "fold"].value_counts()
    assert sizes.max() - sizes.min() <= 1 and len(sizes) == 5
    folds = cv_folds(nm_split)
    n_train = (nm_split["set"] == "train").sum()
    validation = np.sort(np.concatenate([v for _, v in folds]))
    np.testing.assert_array_equal(validation, np.arange(n_train))
    for train, valid in folds:
        assert not set(train) & set(valid) and len(train) + len(valid) == n_train


def test_split_stratifies_income_brackets(nm_frame, nm_split):
    """Check that each income bracket's share is the same in train and test (within one household)."""
    train = nm_frame.loc[nm_split["set"].eq("train").to_numpy(), "income_bracket"].value_counts(normalize=True)
    test = nm_frame.loc[nm_split["set"].eq("test").to_numpy(), "income_bracket"].value_counts(normalize=True)
    assert (train - test).abs().max() < 0.005


def test_strata_small_cells_fall_back_to_bracket():
    """Check that a bracket × PUMA cell below min_cell falls back to the bracket alone."""
    frame = pd.DataFrame({"income_bracket": ["low"] * 5 + ["high"] * 2, "puma_code": ["A"] * 4 + ["B"] + ["A"] * 2})
    assert strata(frame, min_cell=3).tolist() == ["low | A"] * 4 + ["low"] + ["high"] * 2


def test_split_too_few_households_raises(nm_frame):
    """Check that a state with too few households for the folds gets a clear error."""
    with pytest.raises(DataError, match="only 12 households: too few to split"):
        split_households(nm_frame.head(12), 0.2, 5, 20, seed=1)


def test_representativeness_shares_match_direct_weighted_shares(nm_frame, nm_split):
    """Check the table's shares against direct weighted shares, and small groups flagged."""
    table = representativeness(nm_frame, nm_split)
    test = nm_split["set"].eq("test").to_numpy()
    weights = nm_frame["WGTP"].to_numpy()
    for level in ("Female", "Male"):
        row = table.query("group_variable == 'sex' and `set` == 'test' and group == @level").iloc[0]
        direct = weights[test & (nm_frame["sex"] == level).to_numpy()].sum() / weights[test].sum()
        assert row["share"] == pytest.approx(direct)
    tiny = table[(table["n"] < 30)]
    assert not tiny.empty and not tiny["reliable"].any()
    assert tiny["reason"].str.contains("sample households in this group").all()
    female = table.query("group_variable == 'sex' and group == 'Female'").set_index("set")["share"]
    assert table.query("group_variable == 'sex' and group == 'Female'")["train_minus_test"].iloc[0] == pytest.approx(
        female["train"] - female["test"]
    )
