"""Tests of policyml.data.schema: supported survey periods and the canonical person table."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from policyml.core.errors import ConfigError, DataError
from policyml.core.states import resolve_state
from policyml.data.dictionary import DataDictionary
from policyml.data.schema import (
    FIRST_YEAR,
    LATEST_YEAR,
    PERSON_INCOME,
    SurveyPeriod,
    check_period,
    read_persons,
)

NM = resolve_state("NM")
NM_ZIP = Path(__file__).resolve().parents[1] / "resources" / "pums" / "2018" / "1-Year" / "csv_pnm.zip"


@pytest.fixture(scope="module")
def nm_raw() -> pd.DataFrame:
    """The NM person CSV read straight from the zip with pandas, no policyml code involved."""
    columns = ["SERIALNO", "ST", "PUMA", "RELP", "WKW", "PWGTP", "ADJINC", *PERSON_INCOME]
    with zipfile.ZipFile(NM_ZIP) as archive, archive.open("psam_p35.csv") as handle:
        return pd.read_csv(handle, usecols=columns, dtype={"SERIALNO": str, "ST": str, "PUMA": str})


def read_synthetic(tmp_path, make_person_zip, frame, dictionary, period=None, fips="35", state=NM):
    path = make_person_zip(tmp_path, frame, fips=fips)
    return read_persons(path, state, period or check_period(2018), dictionary)


# --------------------------------------------------------------------------------------------------
# check_period


def test_check_period_accepts_2018():
    """Check that 2018 1-Year is a supported period labelled 2018."""
    period = check_period(2018)
    assert period == SurveyPeriod(2018, "1-Year")
    assert period.label == "2018"
    assert not period.experimental


def test_check_period_accepts_year_as_text():
    """Check that a year given as text (command line) is converted to an int."""
    assert check_period("2019", "5-Year") == SurveyPeriod(2019, "5-Year")


def test_check_period_refuses_experimental_2020():
    """Check that the 2020 1-Year release is refused and the opt-in named."""
    with pytest.raises(ConfigError, match=r"experimental weights.*allow_experimental_2020=true"):
        check_period(2020)


def test_check_period_accepts_2020_with_opt_in():
    """Check that the 2020 1-Year release is accepted when the user opts in."""
    period = check_period(2020, "1-Year", allow_experimental=True)
    assert period.experimental
    assert period.label == "2020"


def test_check_period_accepts_2020_five_year():
    """Check that the 2016-2020 5-Year release needs no opt-in."""
    period = check_period(2020, "5-Year")
    assert not period.experimental
    assert period.label == "2016-2020"


@pytest.mark.parametrize("year", [2012, 2030])
def test_check_period_refuses_years_outside_range(year):
    """Check that years outside the supported range are refused, naming the range."""
    with pytest.raises(ConfigError, match=rf"year {year} is not supported: .* for {FIRST_YEAR}-{LATEST_YEAR}"):
        check_period(year)


def test_check_period_refuses_non_year():
    """Check that a year that is not a number is refused with a message naming it."""
    with pytest.raises(ConfigError, match=r"year 'latest' is not a year"):
        check_period("latest")


def test_check_period_refuses_unknown_survey():
    """Check that a survey other than 1-Year/5-Year is refused, listing the valid ones."""
    with pytest.raises(ConfigError, match=r"unknown survey '3-Year'.*1-Year, 5-Year"):
        check_period(2018, "3-Year")


def test_survey_period_five_year_label():
    """Check that the 5-Year file ending in 2018 is labelled 2014-2018."""
    assert SurveyPeriod(2018, "5-Year").label == "2014-2018"


@pytest.mark.parametrize(
    "period, vintages",
    [
        (SurveyPeriod(2021, "1-Year"), (2010,)),
        (SurveyPeriod(2022, "1-Year"), (2020,)),
        (SurveyPeriod(2021, "5-Year"), (2010,)),
        (SurveyPeriod(2022, "5-Year"), (2010, 2020)),
        (SurveyPeriod(2024, "5-Year"), (2010, 2020)),
    ],
)
def test_survey_period_puma_vintages(period, vintages):
    """Check that the PUMA vintages of a period follow the 2022 switch to 2020 PUMAs."""
    assert period.puma_vintages == vintages


# --------------------------------------------------------------------------------------------------
# read_persons on the embedded NM file


def test_read_persons_nm_record_count(nm_persons: pd.DataFrame):
    """Check that all 19,247 NM person records are read, with their state attributes."""
    assert len(nm_persons) == 19_247
    assert (nm_persons["ST"] == "35").all()
    assert nm_persons.attrs["state"] == "NM"
    assert nm_persons.attrs["relationship_source"] == "RELP"
    assert nm_persons.attrs["weeks_worked_source"] == "WKW"


def test_read_persons_nm_householders(nm_persons: pd.DataFrame, nm_raw: pd.DataFrame):
    """Check that the 7,912 householders (RELP 0) weigh 794,123 households."""
    householders = nm_persons.loc[nm_persons["is_householder"]]
    assert len(householders) == 7_912
    assert int(householders["PWGTP"].sum()) == 794_123
    np.testing.assert_array_equal(nm_persons["is_householder"].to_numpy(), nm_raw["RELP"].eq(0).to_numpy())
    assert (householders["SPORDER"] == 1).all()


def test_read_persons_nm_group_quarters(nm_persons: pd.DataFrame, nm_raw: pd.DataFrame):
    """Check that the 794 group-quarters persons are RELP 16/17 with GQ serial numbers."""
    gq = nm_persons["is_group_quarters"]
    assert int(gq.sum()) == 794
    np.testing.assert_array_equal(gq.to_numpy(), nm_raw["RELP"].isin([16, 17]).to_numpy())
    assert nm_persons.loc[gq, "SERIALNO"].str.contains("GQ").all()
    assert not (gq & nm_persons["is_householder"]).any()


@pytest.mark.parametrize("column", PERSON_INCOME)
def test_read_persons_nm_income_adjusted(nm_persons: pd.DataFrame, nm_raw: pd.DataFrame, column: str):
    """Check that each income column equals the raw amount times ADJINC / 1,000,000."""
    expected = nm_raw[column] * nm_raw["ADJINC"] / 1e6
    np.testing.assert_allclose(nm_persons[column].to_numpy(), expected.to_numpy(), rtol=1e-12, equal_nan=True)
    assert nm_raw[column].notna().any() and (nm_raw["ADJINC"] != 1_000_000).all()


def test_read_persons_nm_adjinc_becomes_factor(nm_persons: pd.DataFrame, nm_raw: pd.DataFrame):
    """Check that ADJINC holds the factor (ADJINC / 1e6), not the raw code."""
    np.testing.assert_allclose(nm_persons["ADJINC"].to_numpy(), nm_raw["ADJINC"].to_numpy() / 1e6)


def test_read_persons_nm_puma(nm_persons: pd.DataFrame, nm_raw: pd.DataFrame):
    """Check that PUMA codes are five characters, zero-padded, of the 2010 vintage."""
    assert nm_persons["puma"].str.len().eq(5).all()
    np.testing.assert_array_equal(nm_persons["puma"].to_numpy(), nm_raw["PUMA"].str.zfill(5).to_numpy())
    assert (nm_persons["puma_vintage"] == 2010).all()


def test_read_persons_nm_weeks_worked_band(nm_persons: pd.DataFrame, nm_raw: pd.DataFrame):
    """Check that in 2018 the weeks-worked band is WKW as published, blanks kept missing."""
    band = nm_persons["weeks_worked_band"]
    np.testing.assert_array_equal(band.isna().to_numpy(), nm_raw["WKW"].isna().to_numpy())
    known = band.notna().to_numpy()
    np.testing.assert_array_equal(band.to_numpy()[known].astype(int), nm_raw["WKW"].to_numpy()[known].astype(int))
    assert set(band.dropna().unique()) == {1, 2, 3, 4, 5, 6}


# --------------------------------------------------------------------------------------------------
# read_persons on synthetic files


def test_read_persons_2018_layout_adjusts_synthetic_income(tmp_path, person_frame, make_person_zip, dictionary_2018):
    """Check that a synthetic 2018 file's PINCP is multiplied by ADJINC / 1e6."""
    frame = person_frame([{"ADJINC": 1_013_097, "PINCP": 10_000, "WAGP": 8_000, "PERNP": 8_000}])
    persons = read_synthetic(tmp_path, make_person_zip, frame, dictionary_2018)
    assert persons.loc[0, "PINCP"] == pytest.approx(10_130.97)
    assert persons.loc[0, "WAGP"] == pytest.approx(8_104.776)
    assert persons.loc[0, "ADJINC"] == pytest.approx(1.013097)


def test_read_persons_2019_layout(tmp_path, person_frame, make_person_zip, dictionary_2019_minimal):
    """Check that RELSHIPP and WKWN (2019 on) give householder, group quarters and WKW bands."""
    frame = person_frame(
        [
            {"SERIALNO": "2019HU0000001", "RELSHIPP": 20, "WKWN": 52},
            {"SERIALNO": "2019HU0000001", "RELSHIPP": 21, "WKWN": 45, "FWKWNP": 1},
            {"SERIALNO": "2019HU0000001", "RELSHIPP": 25, "WKWN": 10, "FRELSHIPP": 1},
            {"SERIALNO": "2019GQ0000002", "RELSHIPP": 37, "WKWN": None},
            {"SERIALNO": "2019GQ0000003", "RELSHIPP": 38, "WKWN": 50},
        ],
        layout="2019",
    )
    persons = read_synthetic(tmp_path, make_person_zip, frame, dictionary_2019_minimal, check_period(2019))
    assert persons["is_householder"].tolist() == [True, False, False, False, False]
    assert persons["is_group_quarters"].tolist() == [False, False, False, True, True]
    assert persons["weeks_worked_band"].tolist() == [1, 3, 6, pd.NA, 1]
    assert persons["relationship"].tolist()[:3] == [
        "Reference person", "Opposite-sex husband/wife/spouse", "Biological son or daughter",
    ]
    assert persons["alloc_weeks_worked_band"].tolist() == [False, True, False, False, False]
    assert persons["alloc_relationship"].tolist() == [False, False, True, False, False]
    assert (persons.attrs["relationship_source"], persons.attrs["weeks_worked_source"]) == ("RELSHIPP", "WKWN")


@pytest.mark.parametrize(
    "weeks, band",
    [(52, 1), (50, 1), (49, 2), (48, 2), (47, 3), (40, 3), (39, 4), (27, 4), (26, 5), (14, 5), (13, 6), (1, 6)],
)
def test_read_persons_wkwn_band_edges(tmp_path, person_frame, make_person_zip, dictionary_2019_minimal, weeks, band):
    """Check that WKWN weeks at each band edge fall in the WKW band of 2018."""
    frame = person_frame([{"WKWN": weeks}], layout="2019")
    persons = read_synthetic(tmp_path, make_person_zip, frame, dictionary_2019_minimal, check_period(2019))
    assert persons.loc[0, "weeks_worked_band"] == band


@pytest.mark.shared
def test_read_persons_2019_layout_with_published_dictionary(tmp_path, person_frame, make_person_zip, shared_data):
    """Check that the published 2019 dictionary yields the same householder and GQ codes."""
    path = shared_data / "dictionary" / "PUMS_Data_Dictionary_2019.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    dictionary = DataDictionary.read(path, 2019)
    frame = person_frame(
        [
            {"SERIALNO": "2019HU0000001", "RELSHIPP": 20},
            {"SERIALNO": "2019HU0000001", "RELSHIPP": 36},
            {"SERIALNO": "2019GQ0000002", "RELSHIPP": 37},
            {"SERIALNO": "2019GQ0000003", "RELSHIPP": 38},
        ],
        layout="2019",
    )
    persons = read_synthetic(tmp_path, make_person_zip, frame, dictionary, check_period(2019))
    assert persons["is_householder"].tolist() == [True, False, False, False]
    assert persons["is_group_quarters"].tolist() == [False, False, True, True]


def test_read_persons_dictionary_of_wrong_year_raises(tmp_path, person_frame, make_person_zip, dictionary_2019_minimal):
    """Check that a 2018 file read with a dictionary lacking RELP raises a DataError naming RELP."""
    frame = person_frame([{}], layout="2018")
    with pytest.raises(DataError, match=r"has no person variable 'RELP'"):
        read_synthetic(tmp_path, make_person_zip, frame, dictionary_2019_minimal)


def test_read_persons_missing_weight_column_raises(tmp_path, person_frame, make_person_zip, dictionary_2018):
    """Check that a file without PWGTP raises a DataError naming PWGTP and the period."""
    frame = person_frame([{}], drop=("PWGTP",))
    with pytest.raises(DataError, match=r"lacks required columns PWGTP for 1-Year 2018 PUMS"):
        read_synthetic(tmp_path, make_person_zip, frame, dictionary_2018)


def test_read_persons_missing_relationship_names_both_sources(tmp_path, person_frame, make_person_zip, dictionary_2018):
    """Check that a file with neither RELSHIPP nor RELP names both possible columns."""
    frame = person_frame([{}], drop=("RELP",))
    with pytest.raises(DataError, match=r"lacks required columns RELSHIPP/RELP\b"):
        read_synthetic(tmp_path, make_person_zip, frame, dictionary_2018)


def test_read_persons_other_state_member_raises(tmp_path, person_frame, make_person_zip, dictionary_2018):
    """Check that a Vermont file (psam_p50.csv, ST 50) read as New Mexico raises a DataError."""
    frame = person_frame([{"ST": "50"}])
    with pytest.raises(DataError, match=r"holds records for state FIPS \['50'\], not NM \(35\)"):
        read_synthetic(tmp_path, make_person_zip, frame, dictionary_2018, fips="50")


def test_read_persons_other_state_records_raises(tmp_path, person_frame, make_person_zip, dictionary_2018):
    """Check that records of another state inside psam_p35.csv are refused."""
    frame = person_frame([{"ST": "35"}, {"SERIALNO": "2018HU0000002", "ST": "56"}])
    with pytest.raises(DataError, match=r"state FIPS \['35', '56'\], not NM"):
        read_synthetic(tmp_path, make_person_zip, frame, dictionary_2018)


def test_read_persons_zip_without_person_member_raises(tmp_path, dictionary_2018):
    """Check that a zip holding no person CSV raises a DataError naming the expected member."""
    path = tmp_path / "csv_pnm.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("psam_h35.csv", "RT,SERIALNO\nH,2018HU0000001\n")
    with pytest.raises(DataError, match=r"has no psam_p35\.csv \(it holds psam_h35\.csv\)"):
        read_persons(path, NM, check_period(2018), dictionary_2018)


def test_read_persons_truncated_zip_raises(tmp_path, person_frame, make_person_zip, dictionary_2018):
    """Check that a truncated zip raises a DataError saying it is corrupted or truncated."""
    frame = person_frame([{"SERIALNO": f"2018HU{i:07d}"} for i in range(200)])
    path = make_person_zip(tmp_path, frame)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=r"cannot read .*csv_p35\.zip.*corrupted or truncated"):
        read_persons(path, NM, check_period(2018), dictionary_2018)


def test_read_persons_truncated_real_zip_raises(tmp_path, dictionary_2018):
    """Check that the first megabyte of the NM zip is refused as truncated."""
    path = tmp_path / "csv_pnm.zip"
    with open(NM_ZIP, "rb") as handle:
        path.write_bytes(handle.read(1 << 20))
    with pytest.raises(DataError, match="cannot read"):
        read_persons(path, NM, check_period(2018), dictionary_2018)


def test_read_persons_header_only_raises(tmp_path, person_frame, make_person_zip, dictionary_2018):
    """Check that a file with a header and no records raises a DataError."""
    frame = person_frame([{}]).iloc[:0]
    with pytest.raises(DataError, match="holds no records"):
        read_synthetic(tmp_path, make_person_zip, frame, dictionary_2018)


# --------------------------------------------------------------------------------------------------
# PUMA vintages


def test_read_persons_five_year_puma_per_record(tmp_path, person_frame, make_person_zip, dictionary_2019_minimal):
    """Check that a 2018-2022 file with PUMA10/PUMA20 keeps each record's PUMA and vintage."""
    frame = person_frame(
        [
            {"SERIALNO": "2018HU0000001", "PUMA10": "00100", "PUMA20": "-0009"},
            {"SERIALNO": "2022HU0000002", "PUMA10": "-0009", "PUMA20": "00200"},
            {"SERIALNO": "2019HU0000003", "PUMA10": "00300", "PUMA20": "-0009"},
        ],
        layout="2019",
        drop=("PUMA",),
    )
    persons = read_synthetic(tmp_path, make_person_zip, frame, dictionary_2019_minimal, check_period(2022, "5-Year"))
    assert persons["puma"].tolist() == ["00100", "00200", "00300"]
    assert persons["puma_vintage"].tolist() == [2010, 2020, 2010]


@pytest.mark.parametrize("year, vintage", [(2021, 2010), (2022, 2020)])
def test_read_persons_one_year_puma_vintage(tmp_path, person_frame, make_person_zip, dictionary_2019_minimal, year, vintage):
    """Check that a 1-Year file's PUMA is 2010-vintage through 2021 and 2020-vintage from 2022."""
    frame = person_frame([{"PUMA": "00400"}], layout="2019")
    persons = read_synthetic(tmp_path, make_person_zip, frame, dictionary_2019_minimal, check_period(year))
    assert persons.loc[0, "puma"] == "00400"
    assert persons.loc[0, "puma_vintage"] == vintage
