"""Year-aware PUMS schema: which survey years we read, and one column layout for all of them.

The Census Bureau renames and recodes PUMS variables between years. Every later stage works on the
*canonical* columns made here, so no other module needs to know which year it is looking at:

==========================  ==========================================  ===========================
canonical column            source                                      years
==========================  ==========================================  ===========================
``relationship``            RELP (codes 00-17)                          2017-2018
                            RELSHIPP (codes 20-38)                      2019 on
``is_householder``          the code labelled "Reference person" in that year's dictionary
``is_group_quarters``       the codes labelled "... group quarters population"
``weeks_worked_band``       WKW (bands 1-6)                             2017-2018
                            WKWN (weeks 1-52, banded the WKW way)       2019 on
``puma``/``puma_vintage``   PUMA: 2010 PUMAs through 2021 data, 2020 PUMAs from 2022;
                            PUMA10/PUMA20 in 5-year files that straddle 2022 (each record keeps
                            the vintage it has)
``TYPEHUGQ`` (housing)      TYPE                                        2017-2020
                            TYPEHUGQ                                    2021 on
``alloc_<column>``          the Census allocation flag of <column> (FSCHLP, FWKWP/FWKWNP, ...)
==========================  ==========================================  ===========================

Which name a year uses is read off that year's data dictionary, not hard-coded per year. Income
amounts (PINCP, WAGP, ..., HINCP) are multiplied by ADJINC / 1,000,000 here, once, so every later
stage sees constant dollars of the survey year.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import ConfigError, DataError
from ..core.period import (
    FIRST_YEAR,
    FIVE_YEAR,
    LATEST_YEAR,
    ONE_YEAR,
    SURVEYS,
    SurveyPeriod,
    check_period,
)
from ..core.states import State
from ..core.survey import REPLICATES
from .dictionary import DataDictionary
from .fetch import expected_member

log = logging.getLogger(__name__)

PERSON_INCOME = ("PINCP", "WAGP", "SEMP", "INTP", "PAP", "RETP", "SSIP", "SSP", "OIP", "PERNP")
HOUSING_INCOME = ("HINCP", "FINCP")

# WKW's bands, used for WKWN (2019 on) too: (band code, lowest weeks, label)
WEEKS_WORKED_BANDS = (
    (1, 50, "50 to 52 weeks"),
    (2, 48, "48 to 49 weeks"),
    (3, 40, "40 to 47 weeks"),
    (4, 27, "27 to 39 weeks"),
    (5, 14, "14 to 26 weeks"),
    (6, 1, "Less than 14 weeks"),
)


@dataclass(frozen=True)
class Column:
    """A canonical column and the PUMS names it may come from, newest first."""

    name: str
    sources: tuple[str, ...]
    dtype: str = "number"  # "number" or "text"

    def __post_init__(self):
        if not self.sources:
            object.__setattr__(self, "sources", (self.name,))


def _columns(spec: str, dtype: str = "number") -> tuple[Column, ...]:
    return tuple(Column(name, (), dtype) for name in spec.split())


PERSON_COLUMNS: tuple[Column, ...] = (
    *_columns("SERIALNO ST SOCP NAICSP", "text"),
    *_columns(
        "SPORDER REGION DIVISION ADJINC PWGTP AGEP SEX RAC1P HISP NATIVITY CIT ENG MAR DIS MIL POBP "
        "SCHL SCH ESR COW WKHP OCCP INDP POVPIP " + " ".join(PERSON_INCOME)
    ),
    *(Column(f"PWGTP{r}", ()) for r in range(1, REPLICATES + 1)),
    Column("relationship_code", ("RELSHIPP", "RELP")),
    Column("weeks_worked_code", ("WKWN", "WKW")),
)

# Census allocation flags: canonical column they flag -> flag names, newest first
PERSON_ALLOCATION_FLAGS: dict[str, tuple[str, ...]] = {
    "AGEP": ("FAGEP",), "SEX": ("FSEXP",), "RAC1P": ("FRACP",), "HISP": ("FHISP",),
    "SCHL": ("FSCHLP",), "ESR": ("FESRP",), "COW": ("FCOWP",), "WKHP": ("FWKHP",),
    "weeks_worked_band": ("FWKWNP", "FWKWP"), "OCCP": ("FOCCP",), "INDP": ("FINDP",),
    "DIS": ("FDISP",), "CIT": ("FCITP",), "ENG": ("FENGP",), "MAR": ("FMARP",),
    "relationship": ("FRELSHIPP", "FRELP"), "PINCP": ("FPINCP",), "WAGP": ("FWAGP",),
    "SEMP": ("FSEMP",), "PERNP": ("FPERNP",),
}

HOUSING_COLUMNS: tuple[Column, ...] = (
    *_columns("SERIALNO", "text"),
    *_columns("ADJINC WGTP NP HINCP FINCP"),
    *(Column(f"WGTP{r}", ()) for r in range(1, REPLICATES + 1)),
    Column("TYPEHUGQ", ("TYPEHUGQ", "TYPE")),
)
HOUSING_ALLOCATION_FLAGS: dict[str, tuple[str, ...]] = {"HINCP": ("FHINCP",), "FINCP": ("FFINCP",)}

PUMA_SOURCES = ("PUMA", "PUMA10", "PUMA20")


def csv_member(archive: zipfile.ZipFile, kind: str, state: State) -> str:
    """The CSV inside a PUMS zip: ``psam_p35.csv`` (or ``psam_h35.csv``)."""
    expected = expected_member(kind, state)
    names = archive.namelist()
    if expected in names:
        return expected
    candidates = [n for n in names if n.lower().endswith(".csv") and f"_{kind}" in n.lower()]
    if len(candidates) == 1:
        return candidates[0]
    raise DataError(
        f"{archive.filename} has no {expected} (it holds {', '.join(names) or 'nothing'})",
        f"check that the file is the {'person' if kind == 'p' else 'housing'} PUMS zip for {state.name}",
    )


def _resolve_sources(
    columns: tuple[Column, ...], flags: dict[str, tuple[str, ...]], header: list[str], path: Path, period: SurveyPeriod
) -> tuple[dict[str, str], dict[str, str]]:
    present = set(header)
    chosen, missing = {}, []
    for column in columns:
        source = next((s for s in column.sources if s in present), None)
        if source is None:
            missing.append("/".join(column.sources))
        else:
            chosen[column.name] = source
    puma = [s for s in PUMA_SOURCES if s in present]
    if not puma:
        missing.append("PUMA")
    flag_sources = {}
    for name, candidates in flags.items():
        source = next((s for s in candidates if s in present), None)
        if source is None:
            missing.append("/".join(candidates))
        else:
            flag_sources[name] = source
    if missing:
        raise DataError(
            f"{path} lacks required columns {', '.join(missing)} for {period.survey} {period.label} PUMS",
            "the file is not a complete PUMS file for that year: delete it and rerun to download it again, "
            "or fix the year/survey in the config",
        )
    return chosen, flag_sources


def _read_member(path: Path, kind: str, state: State, columns, flags, period) -> tuple[pd.DataFrame, dict, dict]:
    try:
        with zipfile.ZipFile(path) as archive:
            member = csv_member(archive, kind, state)
            with archive.open(member) as handle:
                header = pd.read_csv(handle, nrows=0).columns.tolist()
            chosen, flag_sources = _resolve_sources(columns, flags, header, path, period)
            usecols = sorted(set(chosen.values()) | set(flag_sources.values()) | (set(PUMA_SOURCES) & set(header)))
            text = {chosen[c.name] for c in columns if c.dtype == "text"} | set(PUMA_SOURCES)
            dtypes = {c: (str if c in text else "float64") for c in usecols}
            with archive.open(member) as handle:
                frame = pd.read_csv(handle, usecols=usecols, dtype=dtypes, low_memory=False)
    except (zipfile.BadZipFile, EOFError, OSError, pd.errors.ParserError, ValueError, zipfile.LargeZipFile) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(
            f"cannot read {path}: {error}",
            "the file is corrupted or truncated: delete it and rerun to download it again",
        ) from error
    if frame.empty:
        raise DataError(f"{path} holds no records", "delete it and rerun to download it again")
    return frame, chosen, flag_sources


def _puma(frame: pd.DataFrame, period: SurveyPeriod) -> tuple[pd.Series, pd.Series]:
    """One PUMA code per record and the vintage (2010 or 2020) of its definition."""
    def valid(column: str) -> pd.Series:
        codes = frame[column].fillna("").str.strip()
        return codes.where(~codes.isin(["", "-0009", "-9"]))

    if "PUMA" in frame:
        # one PUMA column: the period's vintage (files straddling 2022 carry PUMA10/PUMA20 instead)
        vintage = period.puma_vintages[0]
        return valid("PUMA").str.zfill(5), pd.Series(vintage, index=frame.index, dtype="int16")
    puma10, puma20 = valid("PUMA10") if "PUMA10" in frame else None, valid("PUMA20") if "PUMA20" in frame else None
    if puma20 is not None:
        puma = puma20.fillna(puma10) if puma10 is not None else puma20
        vintage = np.where(puma20.notna(), 2020, 2010)
    else:
        puma, vintage = puma10, np.full(len(frame), 2010)
    return puma.str.zfill(5), pd.Series(vintage, index=frame.index, dtype="int16")


def _adjust_income(frame: pd.DataFrame, columns: tuple[str, ...]) -> None:
    factor = frame["ADJINC"] / 1_000_000
    for column in columns:
        frame[column] = frame[column] * factor
    frame["ADJINC"] = factor


def _weeks_band(weeks: pd.Series, source: str) -> pd.Series:
    if source == "WKW":
        return weeks.astype("Int8")
    bands = pd.Series(pd.NA, index=weeks.index, dtype="Int8")
    for code, low, _ in reversed(WEEKS_WORKED_BANDS):
        bands[weeks >= low] = code
    return bands


def read_persons(path: str | Path, state: State, period: SurveyPeriod, dictionary: DataDictionary) -> pd.DataFrame:
    """Read a PUMS person zip into the canonical person table (one row per person record)."""
    path = Path(path)
    raw, chosen, flag_sources = _read_member(path, "p", state, PERSON_COLUMNS, PERSON_ALLOCATION_FLAGS, period)
    persons = pd.DataFrame({name: raw[source] for name, source in chosen.items() if "_code" not in name})
    states_found = set(persons["ST"].dropna().str.zfill(2))
    if states_found != {state.fips}:
        raise DataError(
            f"{path} holds records for state FIPS {sorted(states_found)}, not {state.postal} ({state.fips})",
            "delete the file and rerun to download the right state's file",
        )
    persons["ST"] = state.fips
    for column in ("SPORDER", "PWGTP", *(f"PWGTP{r}" for r in range(1, REPLICATES + 1))):
        persons[column] = persons[column].astype("int32")
    _adjust_income(persons, PERSON_INCOME)

    relationship = chosen["relationship_code"]
    labels = dictionary.labels(relationship)
    householder_codes = [c for c, label in labels.items() if label.lower() == "reference person"]
    group_quarter_codes = [c for c, label in labels.items() if "group quarters" in label.lower()]
    if len(householder_codes) != 1 or not group_quarter_codes:
        raise DataError(
            f"the {dictionary.year} data dictionary does not define the householder and group-quarters "
            f"codes of {relationship}",
            "use the data dictionary published for the same year as the PUMS file",
        )
    codes = raw[relationship]
    puma, puma_vintage = _puma(raw, period)
    derived = {
        "puma": puma,
        "puma_vintage": puma_vintage,
        "relationship": pd.Categorical(codes.map(labels), categories=list(dict.fromkeys(labels.values()))),
        "is_householder": codes.eq(householder_codes[0]),
        "is_group_quarters": codes.isin(group_quarter_codes),
        "weeks_worked_band": _weeks_band(raw[chosen["weeks_worked_code"]], chosen["weeks_worked_code"]),
        **{f"alloc_{name}": raw[source].eq(1) for name, source in flag_sources.items()},
    }
    persons = pd.concat([persons, pd.DataFrame(derived, index=persons.index)], axis=1)
    serial_gq = persons["SERIALNO"].str.contains("GQ", na=False)
    if (serial_gq != persons["is_group_quarters"]).any():
        log.warning(
            "%d records disagree between SERIALNO 'GQ' and %s group-quarters codes",
            int((serial_gq != persons["is_group_quarters"]).sum()), relationship,
        )
    persons.attrs.update(
        state=state.postal, year=period.year, survey=period.survey, source=str(path),
        relationship_source=relationship, weeks_worked_source=chosen["weeks_worked_code"],
    )
    log.info("read %d person records from %s (%s %s)", len(persons), path.name, period.survey, period.label)
    return persons


def read_housing(path: str | Path, state: State, period: SurveyPeriod) -> pd.DataFrame:
    """Read a PUMS housing zip into the canonical housing table (occupied housing units only)."""
    path = Path(path)
    raw, chosen, flag_sources = _read_member(path, "h", state, HOUSING_COLUMNS, HOUSING_ALLOCATION_FLAGS, period)
    housing = pd.DataFrame(
        {name: raw[source] for name, source in chosen.items()}
        | {f"alloc_{name}": raw[source].eq(1) for name, source in flag_sources.items()}
    )
    _adjust_income(housing, HOUSING_INCOME)
    occupied = housing["TYPEHUGQ"].eq(1) & housing["NP"].gt(0)
    housing = housing.loc[occupied].reset_index(drop=True)
    weights = ["WGTP", *(f"WGTP{r}" for r in range(1, REPLICATES + 1))]
    housing[weights] = housing[weights].astype("int32")
    log.info("read %d occupied housing units from %s", len(housing), path.name)
    return housing
