"""Targets and model features, from a declarative spec in the config, behind a leakage guard.

The config lists features by name (``features.numeric``, ``features.categorical``,
``features.interactions``); each name is a *derived feature* of :data:`CATALOG` (documented there,
with the household columns it is computed from) or a household column itself. Before anything is
built, :func:`check_no_leakage` refuses any feature computed from income: the targets are income,
so a model fed wages or the poverty ratio would "predict" what it was given.

Protected attributes (race, Hispanic origin, sex, age, disability) are always carried in the
feature table for the fairness audit, and enter the model only with ``include_protected: true``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from ..core.errors import ConfigError, DataError
from ..data.dictionary import DataDictionary
from ..data.schema import WEEKS_WORKED_BANDS

# Income and everything computed from it: never a feature (and never inside one).
INCOME_DERIVED = {
    "WAGP": "wages", "SEMP": "self-employment income", "INTP": "interest and dividends",
    "PAP": "public assistance income", "RETP": "retirement income", "SSIP": "SSI income",
    "SSP": "Social Security income", "OIP": "other income", "PERNP": "total earnings",
    "PINCP": "total person income", "POVPIP": "income-to-poverty ratio", "FINCP": "family income",
    "HINCP": "household income", "household_income": "household income",
    "alloc_household_income": "income allocation flag", "n_earners": "members with earnings (PERNP)",
    "log_income": "target", "low_income": "target", "income_bracket": "income bracket (target strata)",
    **{f"alloc_{c}": "income allocation flag" for c in ("PINCP", "WAGP", "SEMP", "PERNP")},
}

PROTECTED = ("race", "hispanic_origin", "sex", "age", "age_band", "disability", "nativity")

EDUCATION_LEVELS = (
    (15, "Less than high school"),
    (17, "High school diploma or GED"),
    (19, "Some college, no degree"),
    (20, "Associate's degree"),
    (21, "Bachelor's degree"),
    (24, "Graduate or professional degree"),
)
OCCUPATION_GROUPS = {
    "MGR": "Management", "BUS": "Business operations", "FIN": "Financial specialists",
    "CMM": "Computer and mathematical", "ENG": "Architecture and engineering",
    "SCI": "Life, physical and social science", "CMS": "Community and social service", "LGL": "Legal",
    "EDU": "Education and library", "ENT": "Arts, design, entertainment, sports and media",
    "MED": "Healthcare practitioners and technical", "HLS": "Healthcare support",
    "PRT": "Protective service", "EAT": "Food preparation and serving",
    "CLN": "Building and grounds cleaning", "PRS": "Personal care and service", "SAL": "Sales",
    "OFF": "Office and administrative support", "FFF": "Farming, fishing and forestry",
    "CON": "Construction", "EXT": "Extraction", "RPR": "Installation, maintenance and repair",
    "PRD": "Production", "TRN": "Transportation and material moving", "MIL": "Military",
}
INDUSTRY_SECTORS = {
    "AGR": "Agriculture, forestry, fishing and hunting", "EXT": "Mining, quarrying, oil and gas",
    "UTL": "Utilities", "CON": "Construction", "MFG": "Manufacturing", "WHL": "Wholesale trade",
    "RET": "Retail trade", "TRN": "Transportation and warehousing", "INF": "Information",
    "FIN": "Finance, insurance and real estate", "PRF": "Professional, scientific and management",
    "EDU": "Educational services", "MED": "Health care", "SCA": "Social assistance",
    "ENT": "Arts, entertainment, accommodation and food", "SRV": "Other services",
    "ADM": "Public administration", "MIL": "Military",
}
NOT_WORKING = "No job in the last 5 years"
INCOME_BRACKETS = (
    (25_000, "Under $25,000"), (50_000, "$25,000-$49,999"), (75_000, "$50,000-$74,999"),
    (100_000, "$75,000-$99,999"), (150_000, "$100,000-$149,999"), (np.inf, "$150,000 or more"),
)


def education_level(schl: pd.Series) -> pd.Categorical:
    edges = [-np.inf] + [top + 0.5 for top, _ in EDUCATION_LEVELS]
    return pd.cut(schl, edges, labels=[label for _, label in EDUCATION_LEVELS], ordered=True)


def weeks_worked_midpoint(bands: pd.Series) -> pd.Series:
    """Weeks worked as a number: the middle of the WKW band, 0 for householders who did not work."""
    tops = [52, 49, 47, 39, 26, 13]
    middle = {code: (low + top) / 2 for (code, low, _), top in zip(WEEKS_WORKED_BANDS, tops)}
    return bands.astype("float").map(middle).fillna(0.0)


def group_by_label_prefix(codes: pd.Series, labels: dict[int, str], names: dict[str, str]) -> pd.Categorical:
    """Occupation/industry groups from the dictionary's label prefixes ("MGR-Chief Executives").

    A label without a prefix belongs to the group of the code before it (the dictionary lists
    codes in order); the "unemployed, last worked 5+ years ago" code gets its own group.
    """
    mapping, current = {}, None
    for code in sorted(labels):
        prefix = labels[code].split("-", 1)[0]
        if prefix in names:
            current = names[prefix]
        elif labels[code].lower().startswith("unemployed"):
            mapping[code] = NOT_WORKING
            continue
        mapping[code] = current
    values = codes.map(mapping).fillna(NOT_WORKING)
    return pd.Categorical(values, categories=[*dict.fromkeys(names.values()), NOT_WORKING])


@dataclass(frozen=True)
class Derived:
    """A feature the catalog can build: its kind, the household columns it reads, and how."""

    kind: str  # "numeric" or "categorical"
    sources: tuple[str, ...]
    build: Callable[[pd.DataFrame, DataDictionary], object]
    description: str


CATALOG: dict[str, Derived] = {
    "age": Derived("numeric", ("AGEP",), lambda h, d: h["AGEP"].astype(float), "householder's age (protected)"),
    "age_band": Derived("categorical", ("AGEP",), lambda h, d: h["age_band"], "householder's age band (protected)"),
    "race": Derived("categorical", ("RAC1P",), lambda h, d: h["race"], "householder's race (protected)"),
    "hispanic_origin": Derived("categorical", ("HISP",), lambda h, d: h["hispanic_origin"], "Hispanic origin (protected)"),
    "sex": Derived("categorical", ("SEX",), lambda h, d: h["sex"], "householder's sex (protected)"),
    "disability": Derived("categorical", ("DIS",), lambda h, d: h["disability"], "disability status (protected)"),
    "education_rank": Derived("numeric", ("SCHL",), lambda h, d: h["SCHL"].astype(float),
                              "educational attainment as its ordinal code 1-24"),
    "education_level": Derived("categorical", ("SCHL",), lambda h, d: education_level(h["SCHL"]),
                               "educational attainment in six levels"),
    "hours_worked": Derived("numeric", ("WKHP",), lambda h, d: h["WKHP"].fillna(0.0),
                            "usual hours worked per week (0 when not working)"),
    "weeks_worked": Derived("numeric", ("weeks_worked_band",), lambda h, d: weeks_worked_midpoint(h["weeks_worked_band"]),
                            "weeks worked in the past 12 months, band midpoint (0 when not working)"),
    "employment_status": Derived("categorical", ("ESR",), lambda h, d: h["employment_status"], "employment status"),
    "class_of_worker": Derived("categorical", ("COW",), lambda h, d: h["class_of_worker"], "class of worker"),
    "occupation_group": Derived("categorical", ("OCCP",),
                                lambda h, d: group_by_label_prefix(h["OCCP"], d.labels("OCCP"), OCCUPATION_GROUPS),
                                "occupation major group (SOC)"),
    "industry_sector": Derived("categorical", ("INDP",),
                               lambda h, d: group_by_label_prefix(h["INDP"], d.labels("INDP"), INDUSTRY_SECTORS),
                               "industry sector (NAICS)"),
    "nativity": Derived("categorical", ("NATIVITY",), lambda h, d: h["nativity"], "native or foreign born"),
    "citizenship": Derived("categorical", ("CIT",), lambda h, d: h["citizenship"], "citizenship status"),
    "english_ability": Derived("categorical", ("ENG",), lambda h, d: h["english_ability"], "ability to speak English"),
    "marital_status": Derived("categorical", ("MAR",), lambda h, d: h["marital_status"], "marital status"),
    "military_service": Derived("categorical", ("MIL",), lambda h, d: h["military_service"], "military service"),
    "puma": Derived("categorical", ("puma",), lambda h, d: h["puma"].astype("category"), "Public Use Microdata Area"),
    **{
        name: Derived("numeric", (name,), (lambda column: lambda h, d: h[column].astype(float))(name), text)
        for name, text in {
            "n_persons": "household size", "n_children": "members under 18",
            "n_seniors": "members 65 and over", "n_workers": "employed members",
        }.items()
    },
}


@dataclass(frozen=True)
class FeatureSpec:
    """Which features the models see, and which columns are kept for the audit."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    interactions: tuple[tuple[str, str], ...] = ()
    protected: tuple[str, ...] = PROTECTED
    include_protected: bool = False
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)

    @classmethod
    def from_config(cls, features: dict) -> "FeatureSpec":
        spec = cls(
            numeric=tuple(features["numeric"]),
            categorical=tuple(features["categorical"]),
            interactions=tuple(tuple(pair) for pair in features.get("interactions", ())),
            protected=tuple(features.get("protected", PROTECTED)),
            include_protected=bool(features.get("include_protected", False)),
        )
        object.__setattr__(spec, "sources", spec._resolve_sources())
        check_no_leakage(spec)
        return spec

    def _resolve_sources(self) -> dict[str, tuple[str, ...]]:
        sources = {}
        for name in (*self.numeric, *self.categorical, *self.protected):
            sources[name] = CATALOG[name].sources if name in CATALOG else (name,)
        for left, right in self.interactions:
            for name in (left, right):
                if name not in sources:
                    sources[name] = CATALOG[name].sources if name in CATALOG else (name,)
            sources[interaction_name(left, right)] = (*sources[left], *sources[right])
        return sources

    def kind(self, name: str) -> str:
        if name in CATALOG:
            return CATALOG[name].kind
        return "categorical" if name in self.categorical else "numeric"

    def in_model(self, name: str) -> bool:
        """Protected attributes reach the model only when include_protected is set."""
        return self.include_protected or name not in self.protected


def interaction_name(left: str, right: str) -> str:
    return f"{left}_x_{right}"


def check_no_leakage(spec: FeatureSpec) -> None:
    """Refuse any model feature computed from income (directly, derived or inside an interaction)."""
    model_inputs = [*spec.numeric, *spec.categorical, *(interaction_name(a, b) for a, b in spec.interactions)]
    if spec.include_protected:
        model_inputs += list(spec.protected)
    for name in model_inputs:
        leaked = [s for s in spec.sources.get(name, (name,)) if s in INCOME_DERIVED] or (
            [name] if name in INCOME_DERIVED else []
        )
        if leaked:
            raise ConfigError(
                f"feature {name!r} is computed from {', '.join(f'{s} ({INCOME_DERIVED[s]})' for s in leaked)}, "
                "which leaks the income target into the model",
                "remove it from features.numeric/categorical/interactions; income and anything derived "
                "from it can never be a feature",
            )
    unknown = [n for n in (*spec.numeric, *spec.categorical) if n not in CATALOG and not n.isupper()]
    if unknown:
        raise ConfigError(
            f"unknown features {', '.join(unknown)}",
            f"use derived features ({', '.join(sorted(CATALOG))}) or PUMS household columns (upper case)",
        )


# --------------------------------------------------------------------------------------------------
# Targets


def income_bracket(income: pd.Series) -> pd.Categorical:
    edges = [-np.inf] + [top for top, _ in INCOME_BRACKETS]
    return pd.cut(income, edges, right=False, labels=[label for _, label in INCOME_BRACKETS], ordered=True)


def build_targets(households: pd.DataFrame, targets: dict) -> pd.DataFrame:
    """Regression, classification and stratification targets.

    ``log_income``: natural log of household income. Zero and negative incomes (losses) have no
    logarithm: with ``nonpositive_income: drop`` (default) they get NaN and are left out of the
    regression (kept in the classification and the audit); with ``floor`` they are set to
    ``income_floor`` dollars first. ``low_income``: the householder's family income-to-poverty
    ratio (POVPIP, percent) below ``low_income_threshold`` (default 200, i.e. under twice the
    poverty line, a common eligibility line for assistance programs).
    """
    income = households["household_income"].astype(float)
    if targets["nonpositive_income"] == "floor":
        log_income = np.log(income.clip(lower=targets["income_floor"]))
    else:
        log_income = np.log(income.where(income > 0))
    low_income = (households["POVPIP"] < targets["low_income_threshold"]).astype("float")
    low_income[households["POVPIP"].isna()] = np.nan
    return pd.DataFrame(
        {
            "household_income": income,
            "log_income": log_income,
            "low_income": low_income,
            "income_bracket": income_bracket(income),
        },
        index=households.index,
    )


# --------------------------------------------------------------------------------------------------
# The feature table


@dataclass(frozen=True)
class FeatureTable:
    """Features, targets, weights and audit columns, one row per household."""

    frame: pd.DataFrame
    numeric: list[str]  # model inputs
    categorical: list[str]  # model inputs
    protected: list[str]  # audit columns (in the model only with include_protected)
    descriptions: dict[str, str]

    def spec_record(self, spec: FeatureSpec | None = None, targets: dict | None = None) -> dict:
        """What feature_spec.json records: unit, targets, weights, model inputs, provenance, guard.

        ``spec`` is the household feature spec; person mode (ACSIncome) has a fixed feature set.
        ``targets`` (the config's targets section) is recorded as ``target_settings``, so readers
        (the report) know the low-income line without inferring it from the data.
        """
        if spec is None:
            return {
                "unit": "acsincome", "weight": "PWGTP", "targets": {"classification": "income_over_50k"},
                "numeric": self.numeric, "categorical": self.categorical, "protected": self.protected,
                "include_protected": True, "interactions": [], "descriptions": self.descriptions,
                "sources": {c: [c] for c in self.numeric + self.categorical}, "never_features": INCOME_DERIVED,
            }
        return {
            "unit": "households",
            "weight": "WGTP",
            "targets": {"regression": "log_income", "classification": "low_income"},
            "numeric": self.numeric,
            "categorical": self.categorical,
            "protected": self.protected,
            "include_protected": spec.include_protected,
            "interactions": [list(pair) for pair in spec.interactions],
            "descriptions": self.descriptions,
            "sources": {k: list(v) for k, v in spec.sources.items()},
            "never_features": INCOME_DERIVED,
            **({"target_settings": dict(targets)} if targets is not None else {}),
        }


def _base_column(households: pd.DataFrame, dictionary: DataDictionary, name: str):
    if name in CATALOG:
        return CATALOG[name].build(households, dictionary)
    if name not in households:
        raise DataError(
            f"feature {name!r} is neither a derived feature nor a household column",
            f"use one of {', '.join(sorted(CATALOG))} or a column of households.parquet",
        )
    return households[name]


def build_feature_table(
    households: pd.DataFrame, dictionary: DataDictionary, spec: FeatureSpec, targets: dict
) -> FeatureTable:
    check_no_leakage(spec)
    base_names = list(dict.fromkeys([*spec.numeric, *spec.categorical, *spec.protected,
                                     *(n for pair in spec.interactions for n in pair)]))
    columns = {name: _base_column(households, dictionary, name) for name in base_names}
    numeric = [n for n in spec.numeric if spec.in_model(n)]
    categorical = [n for n in spec.categorical if spec.in_model(n)]
    if spec.include_protected:
        numeric += [n for n in spec.protected if spec.kind(n) == "numeric" and n not in numeric]
        categorical += [n for n in spec.protected if spec.kind(n) == "categorical" and n not in categorical]
    descriptions = {n: CATALOG[n].description if n in CATALOG else n for n in base_names}

    for left, right in spec.interactions:
        if not (spec.in_model(left) and spec.in_model(right)):
            continue  # an interaction with a protected attribute follows include_protected
        kinds = (spec.kind(left), spec.kind(right))
        if kinds == ("numeric", "numeric"):
            name = interaction_name(left, right)
            columns[name] = pd.Series(columns[left], index=households.index).astype(float) * pd.Series(
                columns[right], index=households.index
            ).astype(float)
            numeric.append(name)
            descriptions[name] = f"{descriptions[left]} × {descriptions[right]}"
        elif "numeric" in kinds:
            number, category = (left, right) if kinds[0] == "numeric" else (right, left)
            values = pd.Series(columns[number], index=households.index).astype(float)
            levels = pd.Series(columns[category], index=households.index).astype("category")
            # one column per level but the first (the reference): with the main effect, one column
            # per level would be collinear (they would sum to the number itself)
            reference, *others = levels.cat.categories
            for level in others:
                name = f"{interaction_name(number, category)}[{level}]"
                columns[name] = values.where(levels == level, 0.0)
                numeric.append(name)
                descriptions[name] = (f"{descriptions[number]} for {category} = {level} "
                                      f"(difference in slope from {reference})")
        else:
            raise ConfigError(
                f"interaction {left} × {right} joins two categorical features",
                "interact a numeric feature with a numeric or a categorical one",
            )

    frame = pd.concat(
        [
            households[["SERIALNO", "puma"]].rename(columns={"puma": "puma_code"}),
            pd.DataFrame(columns, index=households.index),
            build_targets(households, targets),
            households[[c for c in households if c.startswith("WGTP")]],
        ],
        axis=1,
    )
    frame.attrs.update(households.attrs)
    return FeatureTable(frame, numeric, categorical, list(spec.protected), descriptions)


# --------------------------------------------------------------------------------------------------
# Person mode: the folktables ACSIncome task

#: ACSIncome's features (Ding et al., 2021, "Retiring Adult"), named as in the PUMS. RELP is the
#: relationship code (RELSHIPP's codes from 2019 on). SEX, RAC1P and AGEP are protected attributes
#: that the benchmark itself uses as features; person mode keeps them in for comparability.
ACSINCOME_NUMERIC = ("AGEP", "SCHL", "WKHP")
ACSINCOME_CATEGORICAL = ("COW", "MAR", "OCCP", "POBP", "RELP", "SEX", "RAC1P")
ACSINCOME_THRESHOLD = 50_000


def build_acsincome_table(persons: pd.DataFrame, dictionary: DataDictionary) -> FeatureTable:
    """The folktables ACSIncome task on person records: is the person's income above $50,000?

    Filters as in folktables: age over 16, income over $100, usual hours worked over 0, person
    weight at least 1. Income and the $50,000 line are in the file's own dollars (PINCP before
    ADJINC), as folktables uses them. One row per person; ``SERIALNO`` holds the person id
    ``<SERIALNO>-<SPORDER>``. Weights are PWGTP and its replicates.
    """
    from ..data.households import HISPANIC_LABELS, LABELLED_TRAITS, age_band, decode

    raw_income = persons["PINCP"] / persons["ADJINC"]
    keep = (persons["AGEP"] > 16) & (raw_income > 100) & (persons["WKHP"] > 0) & (persons["PWGTP"] >= 1)
    people = persons.loc[keep].reset_index(drop=True)  # group-quarters residents included, as in folktables
    if people.empty:
        raise DataError("no person passes the ACSIncome filters (age > 16, income > $100, hours > 0)",
                        "check that the person file is complete")
    raw_income = people["PINCP"] / people["ADJINC"]
    codes = {c: people[c].astype(float) for c in ACSINCOME_NUMERIC + ACSINCOME_CATEGORICAL if c != "RELP"}
    codes["RELP"] = pd.Series(people["relationship"].cat.codes, dtype=float)
    labels = {label: decode(people[code], dictionary, code) for code, label in LABELLED_TRAITS.items()
              if label in ("sex", "race", "disability")}
    frame = pd.concat(
        [
            pd.DataFrame({
                "SERIALNO": people["SERIALNO"] + "-" + people["SPORDER"].astype(str).str.zfill(2),
                "puma_code": people["puma"],
            }),
            pd.DataFrame(codes),
            pd.DataFrame(labels),
            pd.DataFrame({
                "hispanic_origin": pd.Categorical(
                    np.where(people["HISP"].gt(1), HISPANIC_LABELS[1], HISPANIC_LABELS[0]), categories=HISPANIC_LABELS),
                "age_band": age_band(people["AGEP"]),
                "person_income": people["PINCP"],
                "income_over_50k": (raw_income > ACSINCOME_THRESHOLD).astype(float),
                "income_bracket": income_bracket(people["PINCP"]),
            }),
            people[[c for c in people if c.startswith("PWGTP")]],
        ],
        axis=1,
    )
    frame.attrs.update(persons.attrs)
    descriptions = {c: dictionary.variable(c).description for c in ACSINCOME_NUMERIC + ACSINCOME_CATEGORICAL
                    if dictionary.has(c)}
    descriptions["RELP"] = "relationship to the reference person (code)"
    return FeatureTable(frame, list(ACSINCOME_NUMERIC), list(ACSINCOME_CATEGORICAL),
                        ["race", "hispanic_origin", "sex", "age_band", "disability"], descriptions)
