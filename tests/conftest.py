"""Shared fixtures: the embedded 2018 data (read once per session) and synthetic PUMS person files.

Synthetic files are built from a few records that state only the columns a test cares about;
:func:`build_person_frame` fills in every other column of ``schema.PERSON_COLUMNS`` and
``schema.PERSON_ALLOCATION_FLAGS`` with sensible defaults, in the 2018 layout (RELP, WKW, FRELP,
FWKWP) or the 2019 layout (RELSHIPP, WKWN, FRELSHIPP, FWKWNP).
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from policyml.core.states import resolve_state
from policyml.data.dictionary import DataDictionary
from policyml.data.households import build_households
from policyml.data.schema import (
    PERSON_ALLOCATION_FLAGS,
    PERSON_COLUMNS,
    REPLICATES,
    check_period,
    read_persons,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESOURCES = PROJECT_ROOT / "resources"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DICTIONARY_2018 = RESOURCES / "dictionary" / "PUMS_Data_Dictionary_2018.csv"
PUMS_2018 = RESOURCES / "pums" / "2018" / "1-Year"

# --------------------------------------------------------------------------------------------------
# Synthetic PUMS person records

#: year-specific source names: canonical name -> PUMS column, per file layout
LAYOUTS: dict[str, dict[str, str]] = {
    "2018": {
        "relationship_code": "RELP",
        "weeks_worked_code": "WKW",
        "relationship": "FRELP",
        "weeks_worked_band": "FWKWP",
    },
    "2019": {
        "relationship_code": "RELSHIPP",
        "weeks_worked_code": "WKWN",
        "relationship": "FRELSHIPP",
        "weeks_worked_band": "FWKWNP",
    },
}
HOUSEHOLDER_CODE = {"2018": 0, "2019": 20}

#: defaults for a working-age adult householder in New Mexico; None is a blank field
PERSON_DEFAULTS: dict[str, Any] = {
    "SERIALNO": "2018HU0000001",
    "ST": "35",
    "PUMA": "00100",
    "SOCP": None,
    "NAICSP": None,
    "REGION": 4,
    "DIVISION": 8,
    "ADJINC": 1_000_000,
    "PWGTP": 100,
    "AGEP": 40,
    "SEX": 1,
    "RAC1P": 1,
    "HISP": 1,
    "NATIVITY": 1,
    "CIT": 1,
    "ENG": None,
    "MAR": 1,
    "DIS": 2,
    "MIL": 4,
    "POBP": 35,
    "SCHL": 16,
    "SCH": 1,
    "ESR": 6,
    "COW": None,
    "WKHP": None,
    "OCCP": None,
    "INDP": None,
    "POVPIP": 300,
    "PINCP": 0,
    "WAGP": 0,
    "SEMP": 0,
    "INTP": 0,
    "PAP": 0,
    "RETP": 0,
    "SSIP": 0,
    "SSP": 0,
    "OIP": 0,
    "PERNP": 0,
}


def person_columns(layout: str = "2018") -> list[str]:
    """Every PUMS column read_persons requires, in the names of the given layout, plus PUMA."""
    names = LAYOUTS[layout]
    columns = [names.get(column.name, column.name) for column in PERSON_COLUMNS]
    flags = [names.get(canonical, sources[-1]) for canonical, sources in PERSON_ALLOCATION_FLAGS.items()]
    return [*columns, *flags, "PUMA"]


def build_person_frame(
    records: Iterable[Mapping[str, Any]], layout: str = "2018", drop: Iterable[str] = ()
) -> pd.DataFrame:
    """A PUMS person table from records that name only the columns a test cares about.

    Missing values come from :data:`PERSON_DEFAULTS`; the relationship defaults to the
    householder's code of the layout, weeks worked to blank, allocation flags to 0, SPORDER to the
    record's rank in its unit and the replicate weights PWGTP1..80 to the record's PWGTP. Columns a
    record gives that are not PUMS person columns (PUMA10, PUMA20...) are kept; ``drop`` removes
    columns (e.g. ``("PWGTP",)`` to make an incomplete file).
    """
    names = LAYOUTS[layout]
    columns = person_columns(layout)
    rows = []
    order: dict[str, int] = {}
    for record in records:
        row = dict.fromkeys(columns)
        row.update({k: v for k, v in PERSON_DEFAULTS.items() if k in row})
        row[names["relationship_code"]] = HOUSEHOLDER_CODE[layout]
        for canonical in PERSON_ALLOCATION_FLAGS:
            row[names.get(canonical, PERSON_ALLOCATION_FLAGS[canonical][-1])] = 0
        row.update(record)
        order[row["SERIALNO"]] = order.get(row["SERIALNO"], 0) + 1
        if row["SPORDER"] is None:
            row["SPORDER"] = order[row["SERIALNO"]]
        for r in range(1, REPLICATES + 1):
            if f"PWGTP{r}" not in record:
                row[f"PWGTP{r}"] = row["PWGTP"]
        rows.append(row)
    frame = pd.DataFrame(rows)
    extra = [c for c in frame.columns if c not in columns]
    return frame[[*columns, *extra]].drop(columns=list(drop))


def write_person_zip(tmp_path: Path, frame: pd.DataFrame, fips: str = "35", name: str | None = None) -> Path:
    """Write ``frame`` as a PUMS person zip (member ``psam_p{fips}.csv``) in ``tmp_path``.

    Whole numbers are written without a decimal point and blanks as empty fields, like the Census
    files.
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            if (values.dropna() % 1 == 0).all():
                out[column] = values.astype("Int64")
    path = Path(tmp_path) / (name or f"csv_p{fips}.zip")
    buffer = io.StringIO()
    out.to_csv(buffer, index=False)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"psam_p{fips}.csv", buffer.getvalue())
    return path


@pytest.fixture
def person_frame():
    """The builder of synthetic person tables, :func:`build_person_frame`."""
    return build_person_frame


@pytest.fixture
def make_person_zip():
    """The writer of synthetic person zips, ``make_person_zip(tmp_path, frame, fips="35", name=None)``."""
    return write_person_zip


# A 2019-layout data dictionary reduced to what read_persons needs: a housing section and a person
# section with the RELSHIPP labels (codes and labels as in the published 2019 dictionary).
DICTIONARY_2019_TEXT = """\
NAME,RT,C,1,"Record Type"
VAL,RT,C,1,"H","H","Housing Record or Group Quarters Unit"
NAME,NP,N,2,"Number of persons in this household"
NAME,TYPE,C,1,"Type of unit"
VAL,TYPE,C,1,"1","1","Housing unit"
NAME,RT,C,1,"Record Type"
VAL,RT,C,1,"P","P","Person Record"
NAME,RELSHIPP,C,2,"Relationship"
VAL,RELSHIPP,C,2,"20","20","Reference person"
VAL,RELSHIPP,C,2,"21","21","Opposite-sex husband/wife/spouse"
VAL,RELSHIPP,C,2,"25","25","Biological son or daughter"
VAL,RELSHIPP,C,2,"36","36","Other nonrelative"
VAL,RELSHIPP,C,2,"37","37","Institutionalized group quarters population"
VAL,RELSHIPP,C,2,"38","38","Noninstitutionalized group quarters population"
NAME,WKWN,N,2,"Weeks worked during past 12 months"
VAL,WKWN,N,2,"bb","bb","N/A (less than 16 years old/did not work during the past 12 months)"
VAL,WKWN,N,2,"1","52","1 to 52 weeks worked during past 12 months"
"""


@pytest.fixture(scope="session")
def dictionary_2019_minimal() -> DataDictionary:
    """A constructed 2019 dictionary (housing section, person section with RELSHIPP and WKWN)."""
    return DataDictionary.parse(DICTIONARY_2019_TEXT, 2019, source="<minimal 2019 dictionary>")


# --------------------------------------------------------------------------------------------------
# Embedded and shared data


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The team's ../shared/data folder; tests using it are skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture(scope="session")
def dictionary_2018() -> DataDictionary:
    return DataDictionary.read(DICTIONARY_2018, 2018)


def _read_state(postal: str, dictionary: DataDictionary) -> pd.DataFrame:
    return read_persons(PUMS_2018 / f"csv_p{postal.lower()}.zip", resolve_state(postal), check_period(2018), dictionary)


@pytest.fixture(scope="session")
def nm_persons(dictionary_2018: DataDictionary) -> pd.DataFrame:
    """The canonical person table of the embedded NM 2018 1-Year file (do not modify in place)."""
    return _read_state("NM", dictionary_2018)


@pytest.fixture(scope="session")
def nm_households(nm_persons: pd.DataFrame, dictionary_2018: DataDictionary) -> pd.DataFrame:
    """NM 2018 households built from the person file (do not modify in place)."""
    return build_households(nm_persons, dictionary_2018)


@pytest.fixture(scope="session")
def wy_households(dictionary_2018: DataDictionary) -> pd.DataFrame:
    """WY 2018 households: a small state with tiny demographic groups (do not modify in place)."""
    return build_households(_read_state("WY", dictionary_2018), dictionary_2018)
