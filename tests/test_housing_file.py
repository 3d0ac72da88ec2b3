"""The housing-file path on real Census housing files from ../shared/data (skipped when absent)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from policyml.core.resources import resource_path
from policyml.core.states import resolve_state
from policyml.core.survey import SurveyDesign
from policyml.data.schema import check_period, read_housing

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def alaska_zip():
    path = SHARED / "pums-housing" / "2018" / "1-Year" / "csv_hak.zip"
    if not path.is_file():
        pytest.skip("../shared/data is not here")
    return path


def test_read_housing_keeps_occupied_units_with_adjusted_income(alaska_zip):
    """Check that read_housing keeps exactly the occupied units and applies ADJINC to HINCP."""
    with zipfile.ZipFile(alaska_zip) as archive:
        raw = pd.read_csv(archive.open("psam_h02.csv"), usecols=["SERIALNO", "TYPE", "NP", "WGTP", "HINCP", "ADJINC"])
    occupied = raw[(raw["TYPE"] == 1) & (raw["NP"] > 0)]
    housing = read_housing(alaska_zip, resolve_state("AK"), check_period(2018))
    assert len(housing) == len(occupied)
    assert housing["WGTP"].sum() == occupied["WGTP"].sum()
    expected = occupied.set_index("SERIALNO")["HINCP"] * occupied.set_index("SERIALNO")["ADJINC"] / 1e6
    np.testing.assert_allclose(housing.set_index("SERIALNO")["HINCP"].loc[expected.index], expected)


def test_read_housing_median_income_matches_published_b19013(alaska_zip):
    """Check that the HINCP-based weighted median for Alaska is within two SEs of published B19013."""
    housing = read_housing(alaska_zip, resolve_state("AK"), check_period(2018))
    median = SurveyDesign.from_frame(housing, "WGTP").median(housing["HINCP"])
    published = pd.read_csv(resource_path("published/acs1_2018_B19013_by_state.csv"), dtype={"state": str})
    alaska = published.loc[published["state"] == "02", "B19013_001E"].iloc[0]
    assert abs(median.estimate - alaska) <= 2 * median.se


def test_read_housing_2021_uses_typehugq(tmp_path):
    """Check that the 2021 file's TYPEHUGQ (TYPE before 2021) is recognised and normalised."""
    csv = SHARED / "pums-housing" / "2021" / "1-Year" / "psam_h02.csv"
    if not csv.is_file():
        pytest.skip("../shared/data is not here")
    archive_path = tmp_path / "csv_hak.zip"
    with zipfile.ZipFile(archive_path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(csv, "psam_h02.csv")
    raw = pd.read_csv(csv, usecols=["TYPEHUGQ", "NP"])
    housing = read_housing(archive_path, resolve_state("AK"), check_period(2021))
    assert len(housing) == int(((raw["TYPEHUGQ"] == 1) & (raw["NP"] > 0)).sum())
    assert set(housing["TYPEHUGQ"]) == {1}
