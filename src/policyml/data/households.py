"""Persons -> households: one row per occupied housing unit, survey-correct.

Census facts honoured here (ACS PUMS documentation, Accuracy of the Data and the data dictionary):

* A household is an occupied housing unit; its record is its householder's ("Reference person").
  Group-quarters residents (dorms, prisons, nursing homes) belong to no household and are dropped.
* The weight of an occupied unit is its householder's person weight, replicate weights included
  (ACS estimation methodology since 2006), so WGTP and WGTP1-80 come from PWGTP and PWGTP1-80.
* Household income is HINCP when the housing file is at hand; otherwise the Census definition, the
  sum of the incomes (PINCP) of all members aged 15 and over. Both are ADJINC-adjusted already.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from ..core.errors import DataError
from .dictionary import DataDictionary
from .schema import REPLICATES, WEEKS_WORKED_BANDS

log = logging.getLogger(__name__)

PERSON_WEIGHTS = ["PWGTP", *(f"PWGTP{r}" for r in range(1, REPLICATES + 1))]
HOUSEHOLD_WEIGHTS = ["WGTP", *(f"WGTP{r}" for r in range(1, REPLICATES + 1))]

# householder trait code (PUMS name) -> labelled column, decoded with the year's dictionary
LABELLED_TRAITS = {
    "SEX": "sex",
    "RAC1P": "race",
    "SCHL": "education",
    "ESR": "employment_status",
    "COW": "class_of_worker",
    "MAR": "marital_status",
    "DIS": "disability",
    "NATIVITY": "nativity",
    "CIT": "citizenship",
    "ENG": "english_ability",
    "MIL": "military_service",
}
# ordered traits, from least to most: (where the N/A label goes, whether codes run high-to-low)
# SCHL: N/A means "under 3 years old" (lowest); ENG: N/A means "speaks only English" (highest),
# and its codes run from "Very well" (1) to "Not at all" (4).
ORDERED_TRAITS = {"SCHL": ("first", False), "ENG": ("last", True)}
AGE_BANDS = ((15, "15 to 24"), (25, "25 to 34"), (35, "35 to 44"), (45, "45 to 54"), (55, "55 to 64"), (65, "65 and over"))
HISPANIC_LABELS = ("Not Hispanic or Latino", "Hispanic or Latino")
EMPLOYED_CODES = (1, 2, 4, 5)  # ESR: civilian or armed forces, employed (at work or with a job)

HOUSEHOLDER_COLUMNS = (
    "SERIALNO ST REGION DIVISION puma puma_vintage AGEP SEX RAC1P HISP NATIVITY CIT ENG MAR DIS MIL "
    "POBP SCHL SCH ESR COW WKHP weeks_worked_band OCCP INDP SOCP NAICSP POVPIP PINCP WAGP SEMP INTP "
    "PAP RETP SSIP SSP OIP PERNP"
).split()


def decode(
    codes: pd.Series, dictionary: DataDictionary, name: str, order: tuple[str, bool] | None = None
) -> pd.Categorical:
    """Codes -> labelled categories; a blank code gets the dictionary's N/A label.

    Unordered traits list categories in code order with N/A first. ``order`` makes an ordered
    categorical: (``"first"`` or ``"last"`` for the N/A label, whether to reverse code order).
    """
    variable = dictionary.variable(name)
    labels = variable.labels()
    categories = list(dict.fromkeys(labels.values()))
    na_label = variable.not_applicable_label
    na_position, reverse = order or ("first", False)
    if reverse:
        categories.reverse()
    values = codes.map(labels)
    if na_label is not None:
        categories = [na_label, *categories] if na_position == "first" else [*categories, na_label]
        values = values.where(codes.notna(), na_label)
    unknown = codes.notna() & codes.map(labels).isna()
    if unknown.any():
        raise DataError(
            f"{name} has codes {sorted(codes[unknown].unique().tolist())[:5]} that the {dictionary.year} "
            "data dictionary does not define",
            "use the data dictionary of the same year as the PUMS file",
        )
    return pd.Categorical(values, categories=categories, ordered=order is not None)


def age_band(age: pd.Series) -> pd.Categorical:
    edges = [low for low, _ in AGE_BANDS] + [np.inf]
    return pd.cut(age, edges, right=False, labels=[label for _, label in AGE_BANDS])


def weeks_worked_labels(bands: pd.Series, na_label: str = "Did not work in the past 12 months") -> pd.Categorical:
    labels = {code: label for code, _, label in WEEKS_WORKED_BANDS}
    values = bands.astype("float").map(labels).fillna(na_label)
    return pd.Categorical(values, categories=[*labels.values(), na_label], ordered=False)


def _composition(members: pd.DataFrame) -> pd.DataFrame:
    age = members["AGEP"]
    adult_income = members["PINCP"].where(age >= 15)
    flags = pd.DataFrame(
        {
            "SERIALNO": members["SERIALNO"],
            "n_persons": 1,
            "n_children": (age < 18).astype(int),
            "n_seniors": (age >= 65).astype(int),
            "n_workers": members["ESR"].isin(EMPLOYED_CODES).astype(int),
            "n_earners": ((age >= 15) & members["PERNP"].fillna(0).ne(0)).astype(int),
            "income_from_persons": adult_income.fillna(0.0),
            "alloc_income_from_persons": (age >= 15) & members["alloc_PINCP"],
        }
    )
    return flags.groupby("SERIALNO", sort=False).agg(
        n_persons=("n_persons", "sum"),
        n_children=("n_children", "sum"),
        n_seniors=("n_seniors", "sum"),
        n_workers=("n_workers", "sum"),
        n_earners=("n_earners", "sum"),
        income_from_persons=("income_from_persons", "sum"),
        alloc_income_from_persons=("alloc_income_from_persons", "any"),
    )


def build_households(
    persons: pd.DataFrame, dictionary: DataDictionary, housing: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The household table: one row per occupied housing unit, with weights, income and traits."""
    members = persons.loc[~persons["is_group_quarters"]]
    householders = members.loc[members["is_householder"]]
    if householders.empty:
        raise DataError(
            "no households: the person file has no householder records outside group quarters",
            "check that the file is a complete PUMS person file",
        )
    if householders["SERIALNO"].duplicated().any():
        raise DataError(
            f"{int(householders['SERIALNO'].duplicated().sum())} housing units have more than one householder",
            "the person file is corrupted: delete it and rerun to download it again",
        )
    orphans = ~members["SERIALNO"].isin(householders["SERIALNO"])
    if orphans.any():
        raise DataError(
            f"{int(orphans.sum())} household members belong to no householder's unit",
            "the person file is truncated or corrupted: delete it and rerun to download it again",
        )

    composition = _composition(members)
    households = householders[HOUSEHOLDER_COLUMNS + [c for c in householders if c.startswith("alloc_")]]
    households = households.set_index("SERIALNO").join(composition)
    weights = householders.set_index("SERIALNO")[PERSON_WEIGHTS]
    weights.columns = HOUSEHOLD_WEIGHTS

    if housing is None:
        income = households.pop("income_from_persons")
        allocated = households.pop("alloc_income_from_persons")
        source = "sum of PINCP of members aged 15+"
    else:
        units = housing.set_index("SERIALNO")
        missing = households.index.difference(units.index)
        if len(missing):
            raise DataError(
                f"{len(missing)} households of the person file have no record in the housing file "
                f"(e.g. {missing[0]})",
                "use person and housing files of the same state, year and survey",
            )
        units = units.loc[households.index]
        gap = (units["HINCP"] - households["income_from_persons"]).abs()
        log.info("HINCP vs sum of members' PINCP: %d of %d households differ by more than $1",
                 int((gap > 1).sum()), len(gap))
        differing = (units["WGTP"] != weights["WGTP"]).sum()
        if differing:
            log.warning("%d households: housing WGTP differs from the householder's PWGTP", int(differing))
        weights = units[HOUSEHOLD_WEIGHTS]
        income, allocated = units["HINCP"], units["alloc_HINCP"]
        households = households.drop(columns=["income_from_persons", "alloc_income_from_persons"])
        source = "HINCP (housing file)"

    labelled = {
        label: decode(households[code], dictionary, code, ORDERED_TRAITS.get(code))
        for code, label in LABELLED_TRAITS.items()
    }
    labelled["hispanic_origin"] = pd.Categorical(
        np.where(households["HISP"].gt(1), HISPANIC_LABELS[1], HISPANIC_LABELS[0]), categories=HISPANIC_LABELS
    )
    labelled["age_band"] = age_band(households["AGEP"])
    labelled["weeks_worked"] = weeks_worked_labels(households["weeks_worked_band"])
    households = pd.concat(
        [
            households,
            pd.DataFrame(labelled, index=households.index),
            pd.DataFrame({"household_income": income, "alloc_household_income": allocated.astype(bool)}),
            weights,
        ],
        axis=1,
    ).copy()  # consolidate the column blocks before adding the index back
    households = households.reset_index()
    households.attrs.update(persons.attrs, household_income_source=source)
    log.info("built %d households (%s) from %d person records", len(households), source, len(persons))
    return households
