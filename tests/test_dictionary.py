"""Tests of policyml.data.dictionary on the embedded 2018 dictionary (and the shared 2019/2021 ones)."""

from __future__ import annotations

from pathlib import Path

import pytest

from policyml.core.errors import DataError
from policyml.data.dictionary import DataDictionary


def read_shared(shared_data: Path, year: int) -> DataDictionary:
    path = shared_data / "dictionary" / f"PUMS_Data_Dictionary_{year}.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return DataDictionary.read(path, year)


# --------------------------------------------------------------------------------------------------
# Labels


def test_dictionary_sex_labels(dictionary_2018: DataDictionary):
    """Check that SEX decodes to Male/Female."""
    assert dictionary_2018.labels("SEX") == {1: "Male", 2: "Female"}


def test_dictionary_race_labels(dictionary_2018: DataDictionary):
    """Check that RAC1P has its nine race codes, from White alone to Two or More Races."""
    labels = dictionary_2018.labels("RAC1P")
    assert sorted(labels) == list(range(1, 10))
    assert labels[1] == "White alone"
    assert labels[3] == "American Indian alone"
    assert labels[9] == "Two or More Races"


def test_dictionary_education_labels(dictionary_2018: DataDictionary):
    """Check that SCHL has codes 1-24 from no schooling to a doctorate."""
    labels = dictionary_2018.labels("SCHL")
    assert sorted(labels) == list(range(1, 25))
    assert labels[1] == "No schooling completed"
    assert labels[16] == "Regular high school diploma"
    assert labels[21] == "Bachelor's degree"
    assert labels[24] == "Doctorate degree"


def test_dictionary_education_blank_is_not_a_code(dictionary_2018: DataDictionary):
    """Check that the blank SCHL value is the N/A label, not a numeric code."""
    variable = dictionary_2018.variable("SCHL")
    assert variable.not_applicable_label == "N/A (less than 3 years old)"
    assert "N/A (less than 3 years old)" not in variable.labels().values()


def test_dictionary_hours_not_applicable_label(dictionary_2018: DataDictionary):
    """Check that a blank WKHP means less than 16 years old or did not work."""
    label = dictionary_2018.variable("WKHP").not_applicable_label
    assert label == "N/A (less than 16 years old/did not work during the past 12 months)"


def test_dictionary_english_not_applicable_label(dictionary_2018: DataDictionary):
    """Check that a blank ENG means under 5 or speaks only English."""
    label = dictionary_2018.variable("ENG").not_applicable_label
    assert label == "N/A (less than 5 years old/speaks only English)"


def test_dictionary_sex_has_no_not_applicable_label(dictionary_2018: DataDictionary):
    """Check that a variable never left blank has no N/A label."""
    assert dictionary_2018.variable("SEX").not_applicable_label is None


def test_dictionary_relationship_codes_2018(dictionary_2018: DataDictionary):
    """Check that in 2018 RELP 0 is the reference person and 16/17 are group quarters."""
    labels = dictionary_2018.labels("RELP")
    assert labels[0] == "Reference person"
    assert "group quarters" in labels[16].lower()
    assert "group quarters" in labels[17].lower()


# --------------------------------------------------------------------------------------------------
# Housing and person sections


def test_dictionary_person_count_is_housing_variable(dictionary_2018: DataDictionary):
    """Check that NP is read as a housing variable and not as a person variable."""
    assert dictionary_2018.has("NP", "housing")
    assert not dictionary_2018.has("NP", "person")
    assert dictionary_2018.variable("NP", "housing").record == "housing"


def test_dictionary_age_is_person_variable(dictionary_2018: DataDictionary):
    """Check that AGEP is read as a person variable and not as a housing variable."""
    assert dictionary_2018.has("AGEP")
    assert not dictionary_2018.has("AGEP", "housing")
    variable = dictionary_2018.variable("AGEP")
    assert (variable.record, variable.kind) == ("person", "N")


def test_dictionary_unknown_variable_names_year_and_name(dictionary_2018: DataDictionary):
    """Check that asking for a variable the year lacks raises a DataError naming it."""
    with pytest.raises(DataError, match=r"the 2018 PUMS data dictionary has no person variable 'RELSHIPP'"):
        dictionary_2018.variable("RELSHIPP")


def test_dictionary_non_dictionary_text_raises():
    """Check that a text that is not a PUMS dictionary raises a DataError naming its source."""
    with pytest.raises(DataError, match=r"notes\.csv is not a PUMS data dictionary"):
        DataDictionary.parse("name,value\nSEX,1\n", 2018, source="notes.csv")


def test_dictionary_housing_section_only_raises():
    """Check that a dictionary without a person section is refused."""
    text = 'NAME,RT,C,1,"Record Type"\nNAME,NP,N,2,"Number of persons"\n'
    with pytest.raises(DataError, match="no housing and person sections found"):
        DataDictionary.parse(text, 2018)


def test_dictionary_read_non_dictionary_file_raises(tmp_path: Path):
    """Check that reading a non-dictionary file raises a DataError naming the path."""
    path = tmp_path / "PUMS_Data_Dictionary_2018.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n not a csv")
    with pytest.raises(DataError, match="is not a PUMS data dictionary"):
        DataDictionary.read(path, 2018)


# --------------------------------------------------------------------------------------------------
# Other years (shared data)


@pytest.mark.shared
def test_dictionary_2019_renames_relationship(shared_data: Path):
    """Check that the 2019 dictionary has RELSHIPP (20 = reference person) and no RELP."""
    dictionary = read_shared(shared_data, 2019)
    assert dictionary.has("RELSHIPP")
    assert not dictionary.has("RELP")
    labels = dictionary.labels("RELSHIPP")
    assert labels[20] == "Reference person"
    assert labels[37] == "Institutionalized group quarters population"
    assert labels[38] == "Noninstitutionalized group quarters population"


@pytest.mark.shared
def test_dictionary_2019_weeks_worked_renamed(shared_data: Path):
    """Check that the 2019 dictionary has WKWN and its flag FWKWNP instead of WKW/FWKWP."""
    dictionary = read_shared(shared_data, 2019)
    assert dictionary.has("WKWN") and dictionary.has("FWKWNP")
    assert not dictionary.has("WKW") and not dictionary.has("FWKWP")


@pytest.mark.shared
def test_dictionary_2021_renames_unit_type(shared_data: Path):
    """Check that the 2021 dictionary has the housing variable TYPEHUGQ and no TYPE."""
    dictionary = read_shared(shared_data, 2021)
    assert dictionary.has("TYPEHUGQ", "housing")
    assert not dictionary.has("TYPE", "housing")


@pytest.mark.shared
def test_dictionary_2018_shared_copy_matches_embedded(shared_data: Path, dictionary_2018: DataDictionary):
    """Check that the shared 2018 dictionary defines the same variables as the embedded one."""
    shared = read_shared(shared_data, 2018)
    assert set(shared.variables) == set(dictionary_2018.variables)
