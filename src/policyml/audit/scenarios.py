"""Policy scenarios: what the fitted models predict when household records are edited.

"What would our models predict if householders without a high-school diploma completed one?"
A scenario answers such a question with associations a predictive model learned, **not causal
effects**: the change is the difference between the model's predictions for edited and for
recorded households, and it inherits every confounder the model absorbed.

One mechanism
    A scenario edits the **household table** (``households.parquet``: the householder's PUMS codes
    SCHL, ESR, WKHP, ``weeks_worked_band`` ... and the composition counts ``n_workers`` ...). The
    feature table is then rebuilt with the pipeline's own builder
    (:func:`policyml.model.features.build_feature_table`), so derived features and interactions
    (``education_level``, ``education_rank_x_hours_worked``,
    ``hours_worked_x_occupation_group[...]``) follow the edit. The labelled copies of edited codes
    (``employment_status`` from ESR, ``education`` from SCHL, ``weeks_worked`` from
    ``weeks_worked_band``) are decoded again with the year's dictionary. Nothing else is derived:
    a householder who starts work does not add to ``n_workers`` unless the scenario says so.
    Before any scenario, the status-quo table is rebuilt the same way and must equal
    ``features.parquet`` column by column (else :class:`~policyml.core.errors.DataError`: rerun
    build_features), so the models see the same inputs they were fitted on.

Declaration (``scenarios.list`` in the config)
    Each scenario has a ``name``, a ``description``, an optional ``note`` and a list of
    ``changes``; each change has an optional ``where`` (one condition or a list, all must hold)
    and ``set`` and/or ``add``::

        - name: high_school_diploma
          description: Householders without a high-school diploma complete one
          changes:
            - where: {column: SCHL, below: 16}
              set: {SCHL: 16}

    Conditions: ``{column: C, below: v}`` (C < v), ``at_least`` (C >= v), ``equals`` (C == v),
    ``in`` (C in a list); a missing value never matches. Every ``where`` is evaluated on the
    **recorded** (status-quo) households, so changes do not select each other's output; changes
    are applied in order. ``set`` gives a column a value: a code, ``null`` (the dictionary's N/A,
    where it has one) or ``"median"``, the weighted (WGTP) median of the column among recorded
    households where it is positive (e.g. the usual hours of householders who worked). ``add``
    adds a number (missing values stay missing). A change may not both set and add a column.

    Only columns that feed a model input can be edited (the spec record's ``sources`` of the model
    inputs), except those of the protected attributes and the PUMA: they define the groups the
    results are reported by. Values must be codes of the year's data dictionary (counts: whole
    numbers >= 0; ``weeks_worked_band``: 1-6). A bad declaration raises
    :class:`~policyml.core.errors.ConfigError` naming the scenario, the key and the allowed values.

Measures
    ``median_income`` (regression model of log household income): the weighted median of the
    predicted income ``exp(prediction)``. ``low_income_share`` (classification model): the
    weighted mean of the predicted probability of low income, i.e. the **expected** share (not
    the share above the classification threshold). Predictions cover every household of the
    feature table, training and test sets alike, weighted to the population: they are population
    estimates of the model's predictions, not an evaluation of the model.

Uncertainty
    Each measure is recomputed under each of the 80 replicate weights (WGTP1..80) through
    :class:`~policyml.core.survey.SurveyDesign`; the change's replicate values are the paired
    differences, so its SE accounts for the correlation between status quo and scenario. This is
    sampling uncertainty **given the fitted model**: model (refitting) uncertainty is not
    included. The change is a signed difference and is not judged by its CV (like ``bias`` in
    :mod:`policyml.audit.fairness`); a row is reliable when status quo, scenario and change are.

Groups
    Overall (``group_variable == group == "All"``) and by each of :data:`policyml.audit.fairness.AUDIT_GROUPS`
    present in the feature table, with every level (also empty ones) and small cells treated as
    :mod:`policyml.audit.fairness` treats them: fewer than ``min_sample`` households flags the row
    unreliable, fewer than 10 suppresses it (values NaN) with the reason; no group is dropped.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import ConfigError, DataError
from ..core.survey import Estimate, SurveyDesign, reliability_options
from ..data.dictionary import DataDictionary
from ..data.households import (
    LABELLED_TRAITS,
    ORDERED_TRAITS,
    decode,
    weeks_worked_labels,
)
from ..data.schema import WEEKS_WORKED_BANDS
from ..model import models
from ..model.features import FeatureSpec, build_feature_table
from . import fairness
from .fairness import AUDIT_GROUPS

#: Columns of :func:`run_scenarios`, in order.
COLUMNS = (
    "scenario",
    "description",
    "group_variable",
    "group",
    "measure",
    "status_quo",
    "status_quo_se",
    "scenario_value",
    "scenario_se",
    "change",
    "change_se",
    "households_affected_share",
    "n",
    "reliable",
    "suppressed",
    "reason",
    "note",
)

#: The measure each task's model gives.
MEASURES = {"regression": "median_income", "classification": "low_income_share"}

MEASURE_NOTES = {
    "median_income": (
        "Measure: weighted median of predicted household income, exp(predicted log income), in "
        "dollars; a median moves only when households cross it, so edits far below it can leave it unchanged"
    ),
    "low_income_share": (
        "Measure: expected low-income share, the weighted mean of the predicted probability of low "
        "income (not the share above the classification threshold)"
    ),
}

CAVEAT = (
    "Associations learned by a predictive model ({model}), not causal effects. Predictions for all "
    "households (training and test sets) weighted to the population. SEs are sampling uncertainty "
    "given the fitted model (80 SDR replicate weights); model uncertainty is not included"
)

#: ``set`` value meaning the weighted median of the column among households where it is positive.
MEDIAN = "median"

OVERALL = fairness.OVERALL

SCENARIO_KEYS = ("name", "description", "note", "changes")
CHANGE_KEYS = ("where", "set", "add")

#: Condition operators of ``where``: name -> (comparison, symbol in notes).
OPERATORS: dict[str, tuple[Callable[[Any, Any], Any], str]] = {
    "below": (operator.lt, "<"),
    "at_least": (operator.ge, ">="),
    "equals": (operator.eq, "=="),
    "in": (lambda column, values: column.isin(values), "in"),
}

#: Household composition counts (not in the data dictionary): whole numbers >= 0.
COUNT_COLUMNS = ("n_persons", "n_children", "n_seniors", "n_workers")

#: Column holding the groups' geography; like the protected attributes, it cannot be edited.
GEOGRAPHY = "puma"


# --------------------------------------------------------------------------------------------------
# Allowed values of a household column
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Codes:
    """The values a household column may hold: integer ranges (None: any number) and N/A."""

    column: str
    ranges: tuple[tuple[float, float], ...] | None
    missing: str | None = None  # label of the N/A value, when the column may be missing

    def allows(self, values: np.ndarray) -> np.ndarray:
        """Elementwise: is each value allowed? (NaN is allowed when the column has an N/A.)"""
        values = np.asarray(values, dtype=np.float64)
        missing = np.isnan(values)
        if self.ranges is None:
            ok = np.isfinite(values)
        else:
            whole = np.isfinite(values) & (values == np.round(np.where(missing, 0, values)))
            inside = np.zeros(values.shape, dtype=bool)
            for low, high in self.ranges:
                inside |= (values >= low) & (values <= high)
            ok = whole & inside
        return ok | (missing & (self.missing is not None))

    def describe(self) -> str:
        if self.ranges is None:
            text = "any finite number"
        else:
            text = "whole numbers " + ", ".join(
                f"{low:g} or more" if math.isinf(high) else (f"{low:g}" if low == high else f"{low:g}-{high:g}")
                for low, high in _merge(self.ranges)
            )
        if self.missing is not None:
            text += f", or null ({self.missing})"
        return text


def _merge(ranges: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Merge touching integer ranges: (1, 1), (2, 24) -> (1, 24)."""
    merged: list[list[float]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return [(low, high) for low, high in merged]


def column_codes(column: str, dictionary: DataDictionary) -> Codes:
    """The allowed values of a household column: its dictionary codes, or a known derived rule."""
    if column in COUNT_COLUMNS:
        return Codes(column, ((0, math.inf),))
    if column == "weeks_worked_band":
        codes = tuple((code, code) for code, _, _ in WEEKS_WORKED_BANDS)
        return Codes(column, codes, "did not work in the past 12 months")
    if dictionary.has(column):
        variable = dictionary.variable(column)
        ranges = tuple(
            (int(v.low), int(v.high))
            for v in variable.values
            if not v.is_blank and v.low.lstrip("-").isdigit() and v.high.lstrip("-").isdigit()
        )
        return Codes(column, ranges or None, variable.not_applicable_label)
    return Codes(column, None)


# --------------------------------------------------------------------------------------------------
# Declaration
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One ``where`` condition: ``column operator value`` on the recorded households."""

    column: str
    operator: str
    value: Any

    def mask(self, households: pd.DataFrame) -> np.ndarray:
        compare, _ = OPERATORS[self.operator]
        result = compare(households[self.column], self.value)
        return np.asarray(pd.Series(result).fillna(False), dtype=bool)

    def __str__(self) -> str:
        value = list(self.value) if self.operator == "in" else self.value
        return f"{self.column} {OPERATORS[self.operator][1]} {_show(value)}"


@dataclass(frozen=True)
class Change:
    """Rows selected by ``where`` (all when empty) get ``set`` values, then ``add`` increments."""

    where: tuple[Condition, ...]
    set: Mapping[str, Any]
    add: Mapping[str, float]


@dataclass(frozen=True)
class Scenario:
    """A named edit of the household table."""

    name: str
    description: str
    changes: tuple[Change, ...]
    note: str | None = None


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return "null" if value is None else str(value)


def _is_number(value: Any) -> bool:
    numeric = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return numeric and math.isfinite(value)


def editable_columns(spec_record: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(columns a scenario may edit, columns it may not because they define the groups).

    Editable: the household columns the model inputs are computed from (``sources`` of the spec
    record). Refused: the sources of the protected attributes and the PUMA.
    """
    sources = spec_record["sources"]
    inputs = {name.split("[", 1)[0] for name in [*spec_record["numeric"], *spec_record["categorical"]]}
    feeding = {source for name in inputs for source in sources.get(name, [name])}
    grouping = {source for name in spec_record["protected"] for source in sources.get(name, [name])}
    grouping.add(GEOGRAPHY)
    return sorted(feeding - grouping), sorted(grouping)


class _Checker:
    """Validates one scenario's declaration; every error names the scenario and the key."""

    def __init__(self, name: str, households: pd.DataFrame, dictionary: DataDictionary,
                 editable: Sequence[str], grouping: Sequence[str]):
        self.name, self.households, self.dictionary = name, households, dictionary
        self.editable, self.grouping = list(editable), list(grouping)

    def fail(self, key: str, problem: str, fix: str) -> ConfigError:
        return ConfigError(f"scenario {self.name!r}, key {key}: {problem}", fix)

    def mapping(self, value: Any, key: str, allowed: Sequence[str]) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"expected a mapping, got {value!r}", f"use a mapping with keys {', '.join(allowed)}")
        unknown = [k for k in value if k not in allowed]
        if unknown:
            raise self.fail(f"{key}.{unknown[0]}" if key else str(unknown[0]),
                            f"unknown key {unknown[0]!r}", f"allowed keys: {', '.join(allowed)}")
        return value

    def condition(self, value: Any, key: str) -> Condition:
        if not isinstance(value, Mapping) or "column" not in value:
            raise self.fail(key, f"a condition must be a mapping with a column, got {value!r}",
                            "write e.g. {column: SCHL, below: 16}")
        operators = [k for k in value if k != "column"]
        unknown = [k for k in operators if k not in OPERATORS]
        if unknown or len(operators) != 1:
            problem = (f"unknown operation {unknown[0]!r}" if unknown
                       else f"a condition needs exactly one operation, got {operators or 'none'}")
            raise self.fail(key, problem, f"use one of {', '.join(OPERATORS)}")
        column, name = value["column"], operators[0]
        if column not in self.households.columns:
            raise self.fail(f"{key}.column", f"unknown column {column!r}",
                            "use a column of households.parquet, e.g. SCHL, ESR, WKHP, n_workers")
        target, where = value[name], f"{key}.{name}"
        numeric = pd.api.types.is_numeric_dtype(self.households[column])
        if name == "in":
            if not isinstance(target, (list, tuple)) or not target:
                raise self.fail(where, f"expected a non-empty list, got {target!r}", "write e.g. in: [3, 6]")
            targets = list(target)
        else:
            targets = [target]
        if name in ("below", "at_least"):
            if not numeric or not _is_number(target):
                raise self.fail(where, f"{name} needs a numeric column and a number, got {column} "
                                       f"({self.households[column].dtype}) and {target!r}",
                                "compare a numeric code column with a number, or use equals / in")
        elif numeric:
            codes = column_codes(column, self.dictionary)
            for item in targets:
                if not _is_number(item) or not codes.allows(np.array([item]))[0]:
                    raise self.fail(where, f"{item!r} is not a {column} value",
                                    f"allowed {column} values: {codes.describe()}")
        else:
            present = set(self.households[column].dropna().astype(str))
            if isinstance(self.households[column].dtype, pd.CategoricalDtype):
                present |= set(map(str, self.households[column].cat.categories))
            for item in targets:
                if str(item) not in present:
                    raise self.fail(where, f"{item!r} is not a {column} value",
                                    f"allowed {column} values: {', '.join(sorted(present))}")
        return Condition(column, name, tuple(targets) if name == "in" else target)

    def edited_column(self, column: Any, key: str) -> Codes:
        if column in self.grouping:
            raise self.fail(key, f"column {column!r} defines the groups the results are reported by "
                                 "(a protected attribute or the PUMA) and cannot be edited",
                            f"edit one of {', '.join(self.editable)}")
        if column not in self.editable:
            raise self.fail(key, f"unknown column {column!r}: no model input is computed from it",
                            f"edit one of {', '.join(self.editable)}")
        return column_codes(column, self.dictionary)

    def change(self, value: Any, key: str) -> Change:
        value = self.mapping(value, key, CHANGE_KEYS)
        if "set" not in value and "add" not in value:
            raise self.fail(key, "a change needs set or add", "write e.g. set: {SCHL: 16} or add: {n_workers: 1}")
        where = value.get("where", [])
        where = [where] if isinstance(where, Mapping) else where
        if not isinstance(where, list):
            raise self.fail(f"{key}.where", f"expected a condition or a list of conditions, got {where!r}",
                            "write e.g. where: {column: SCHL, below: 16}")
        conditions = tuple(self.condition(c, f"{key}.where[{i}]") for i, c in enumerate(where))
        assignments: dict[str, Any] = {}
        for column, target in self._entries(value, "set", key).items():
            codes = self.edited_column(column, f"{key}.set.{column}")
            if target == MEDIAN:
                pass
            elif target is None and codes.missing is None:
                raise self.fail(f"{key}.set.{column}", f"{column} has no N/A value",
                                f"allowed {column} values: {codes.describe()}, or {MEDIAN!r}")
            elif target is not None and not (_is_number(target) and codes.allows(np.array([target]))[0]):
                raise self.fail(f"{key}.set.{column}", f"{target!r} is not a {column} value",
                                f"allowed {column} values: {codes.describe()}, or {MEDIAN!r}")
            assignments[column] = target
        increments: dict[str, float] = {}
        for column, step in self._entries(value, "add", key).items():
            codes = self.edited_column(column, f"{key}.add.{column}")
            if not _is_number(step) or (codes.ranges is not None and not float(step).is_integer()):
                raise self.fail(f"{key}.add.{column}", f"expected a {'whole ' if codes.ranges else ''}number, "
                                                       f"got {step!r}", f"allowed {column} values: {codes.describe()}")
            if column in assignments:
                raise self.fail(f"{key}.add.{column}", f"{column} is both set and added in one change",
                                "split it into two changes")
            increments[column] = step
        return Change(conditions, assignments, increments)

    def _entries(self, value: Mapping[str, Any], name: str, key: str) -> Mapping[str, Any]:
        entries = value.get(name, {})
        if not isinstance(entries, Mapping) or (name in value and not entries):
            raise self.fail(f"{key}.{name}", f"expected a mapping of column -> value, got {entries!r}",
                            f"write e.g. {name}: {{SCHL: 16}}")
        return entries


def parse_scenarios(
    declarations: Any,
    households: pd.DataFrame,
    dictionary: DataDictionary,
    spec_record: Mapping[str, Any],
) -> list[Scenario]:
    """Check the ``scenarios.list`` declarations against the household table and the dictionary.

    Raises
    ------
    ConfigError
        For an unknown key, column or operation, or a value outside the column's codes; the
        message names the scenario and the key, the fix the allowed values.
    """
    if declarations is None:
        return []
    if not isinstance(declarations, list):
        raise ConfigError(f"scenarios.list must be a list of scenarios, got {declarations!r}",
                          "write one mapping per scenario with name, description and changes")
    editable, grouping = editable_columns(spec_record)
    scenarios: list[Scenario] = []
    for index, declaration in enumerate(declarations):
        name = declaration.get("name") if isinstance(declaration, Mapping) else None
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"scenarios.list[{index}] has no name",
                              "give every scenario a name, e.g. high_school_diploma")
        if any(s.name == name for s in scenarios):
            raise ConfigError(f"scenario {name!r} is declared twice", "give every scenario its own name")
        check = _Checker(name, households, dictionary, editable, grouping)
        check.mapping(declaration, "", SCENARIO_KEYS)
        description = declaration.get("description")
        if not isinstance(description, str) or not description.strip():
            raise check.fail("description", "missing or empty", "say in one sentence what the scenario changes")
        note = declaration.get("note")
        if note is not None and not isinstance(note, str):
            raise check.fail("note", f"expected text, got {note!r}", "write the note as one string")
        changes = declaration.get("changes")
        if not isinstance(changes, list) or not changes:
            raise check.fail("changes", f"expected a non-empty list of changes, got {changes!r}",
                             "write e.g. changes: [{where: {column: SCHL, below: 16}, set: {SCHL: 16}}]")
        parsed = tuple(check.change(change, f"changes[{i}]") for i, change in enumerate(changes))
        scenarios.append(Scenario(name, description.strip(), parsed, note))
    return scenarios


# --------------------------------------------------------------------------------------------------
# Applying a scenario
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edited:
    """A scenario applied: the edited households, which rows changed, and what was done."""

    households: pd.DataFrame
    touched: np.ndarray  # rows whose edited columns differ from the recorded values
    steps: tuple[str, ...]  # each change in words, with resolved values ("WKHP = 40 (weighted median ...)")


def weighted_positive_median(households: pd.DataFrame, column: str) -> float:
    """Weighted (WGTP) median of ``column`` among households where it is positive."""
    design = SurveyDesign.from_frame(households, "WGTP")
    positive = households[column].gt(0).fillna(False).to_numpy(dtype=bool)
    domain = design.domain(positive, name=f"{column} > 0")
    return domain.median(households[column]).estimate


def apply_scenario(scenario: Scenario, households: pd.DataFrame, dictionary: DataDictionary) -> Edited:
    """Apply the scenario's changes to a copy of the household table.

    ``where`` conditions are evaluated on the recorded households; changes apply in order; the
    labelled copies of edited codes are decoded again. Raises ConfigError when a change leaves a
    value outside the column's codes (e.g. adding to the top code).
    """
    edited = households.copy()
    steps = []
    for index, change in enumerate(scenario.changes):
        rows = np.ones(len(households), dtype=bool)
        for condition in change.where:
            rows &= condition.mask(households)
        parts = []
        for column, target in change.set.items():
            value, shown = target, _show(target)
            if target == MEDIAN:
                value = weighted_positive_median(households, column)
                shown = f"{_show(value)} (weighted median among households with {column} > 0)"
            elif target is None:
                value = np.nan
            if pd.api.types.is_integer_dtype(edited[column].dtype) and _is_number(value):
                value = int(value)
            edited.loc[rows, column] = value
            parts.append(f"{column} = {shown}")
            _check_result(scenario, f"changes[{index}].set.{column}", edited[column], rows, dictionary)
        for column, step in change.add.items():
            edited.loc[rows, column] = edited.loc[rows, column] + step
            parts.append(f"{column} {'-' if step < 0 else '+'} {_show(abs(step))}")
            _check_result(scenario, f"changes[{index}].add.{column}", edited[column], rows, dictionary)
        where = " and ".join(map(str, change.where)) or "all households"
        steps.append(f"{', '.join(parts)} where {where}")
    columns = list(dict.fromkeys(c for change in scenario.changes for c in (*change.set, *change.add)))
    _decode_again(edited, dictionary, columns)
    touched = np.zeros(len(households), dtype=bool)
    for column in columns:
        before, after = households[column], edited[column]
        same = (before == after).fillna(False) | (before.isna() & after.isna())
        touched |= ~same.to_numpy(dtype=bool)
    return Edited(edited, touched, tuple(steps))


def _check_result(
    scenario: Scenario, key: str, values: pd.Series, rows: np.ndarray, dictionary: DataDictionary
) -> None:
    codes = column_codes(str(values.name), dictionary)
    changed = values[rows].to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~codes.allows(changed)
    if bad.any():
        examples = ", ".join(_show(float(v)) for v in np.unique(changed[bad])[:3])
        raise ConfigError(
            f"scenario {scenario.name!r}, key {key}: gives {int(bad.sum())} households {values.name} "
            f"values outside its codes ({examples})",
            f"allowed {values.name} values: {codes.describe()}; narrow the change's where",
        )


def _decode_again(households: pd.DataFrame, dictionary: DataDictionary, columns: Sequence[str]) -> None:
    """Refresh the labelled copies of edited codes, exactly as policyml.data.households made them."""
    for column in columns:
        if column in LABELLED_TRAITS:
            households[LABELLED_TRAITS[column]] = decode(households[column], dictionary, column,
                                                         ORDERED_TRAITS.get(column))
        elif column == "weeks_worked_band":
            households["weeks_worked"] = weeks_worked_labels(households[column])


# --------------------------------------------------------------------------------------------------
# Features and predictions
# --------------------------------------------------------------------------------------------------


def rebuild_features(households: pd.DataFrame, dictionary: DataDictionary, settings: Any) -> pd.DataFrame:
    """The feature table of (edited) households, built exactly as the build_features step does."""
    spec = FeatureSpec.from_config(settings.features)
    return build_feature_table(households, dictionary, spec, settings.targets).frame


def check_status_quo(rebuilt: pd.DataFrame, features: pd.DataFrame) -> None:
    """The feature table rebuilt from households.parquet must equal features.parquet.

    Raises
    ------
    DataError
        Naming the first difference (columns, rows or values), with the fix: rerun build_features.
    """
    fix = ("rerun the feature step and what follows (snakemake --forcerun build_features) so "
           "features, models and scenarios come from the same households and config")
    if list(rebuilt.columns) != list(features.columns):
        extra = [c for c in rebuilt.columns if c not in features.columns]
        lacking = [c for c in features.columns if c not in rebuilt.columns]
        detail = (f"the rebuilt table has {extra or 'no'} extra and lacks {lacking or 'no'} columns"
                  if extra or lacking else "the columns are in another order")
        raise DataError(
            f"features.parquet does not match the current household table and feature config: {detail}", fix)
    if len(rebuilt) != len(features):
        raise DataError(f"features.parquet has {len(features)} rows but households.parquet gives {len(rebuilt)}", fix)
    for column in rebuilt.columns:
        left = rebuilt[column].reset_index(drop=True)
        right = features[column].reset_index(drop=True)
        if not left.equals(right):
            raise DataError(
                f"features.parquet differs from the feature table rebuilt from households.parquet "
                f"in column {column!r}", fix)


def model_inputs(spec_record: Mapping[str, Any]) -> list[str]:
    return [*spec_record["numeric"], *spec_record["categorical"]]


def predicted_values(pipeline: Any, task: str, frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The measure's per-household value: predicted income (exp of log) or probability."""
    prediction = models.predict(pipeline, task, frame[list(columns)])
    return np.exp(prediction) if task == "regression" else prediction


# --------------------------------------------------------------------------------------------------
# Estimates
# --------------------------------------------------------------------------------------------------


def _estimate(design: SurveyDesign, measure: str, values: np.ndarray) -> Estimate:
    return design.median(values) if measure == "median_income" else design.mean(values)


def _difference(scenario: Estimate, status_quo: Estimate, n: int, min_n: int) -> Estimate:
    """The change, from the paired full-sample and replicate differences (not judged by CV)."""
    values = np.concatenate(([scenario.estimate - status_quo.estimate], scenario.replicates - status_quo.replicates))
    return Estimate.from_replicates(values, n, cv_threshold=math.inf, min_n=min_n)


def _reason(estimates: Mapping[str, Estimate]) -> str | None:
    reasons: list[str] = []
    for label, estimate in estimates.items():
        for part in (estimate.reason or "").split("; "):
            if not part:
                continue
            text = part.replace("sample cases", "sample households")
            text = text if "sample households" in text else f"{label}: {text}"
            if text not in reasons:
                reasons.append(text)
    return "; ".join(reasons) or None


def _groups(features: pd.DataFrame, groups: Sequence[str | tuple[str, ...]]) -> list[tuple[str, str, np.ndarray]]:
    """(grouping, group, row mask): overall first, then every level of each grouping present."""
    result = [(OVERALL, OVERALL, np.ones(len(features), dtype=bool))]
    present = [g for g in groups if all(c in features for c in ((g,) if isinstance(g, str) else g))]
    if not present:
        return result
    for label, columns in fairness.group_specs(features, present):
        keys, levels = fairness.group_keys(features, columns)
        result += [(label, level, keys == level) for level in levels]
    return result


def run_scenarios(
    households: pd.DataFrame,
    features: pd.DataFrame,
    spec_record: Mapping[str, Any],
    pipelines: Mapping[str, Any],
    dictionary: DataDictionary,
    settings: Any,
    groups: Sequence[str | tuple[str, ...]] = AUDIT_GROUPS,
    suppress_below: int = fairness.SUPPRESS_BELOW,
) -> pd.DataFrame:
    """Predicted change in each measure under each declared scenario, overall and by group.

    Parameters
    ----------
    households : pandas.DataFrame
        The household table (households.parquet) the feature table was built from.
    features : pandas.DataFrame
        features.parquet; must equal the table rebuilt from ``households`` (checked).
    spec_record : mapping
        feature_spec.json: model inputs, their source columns, protected attributes, weight.
    pipelines : mapping
        Fitted model pipeline per task: ``"regression"`` (log income -> ``median_income``) and/or
        ``"classification"`` (low-income probability -> ``low_income_share``).
    dictionary : DataDictionary
        The survey year's data dictionary (codes for validation, labels for decoding).
    settings : policyml.core.config.Settings
        Uses ``features`` and ``targets`` (to rebuild features), ``estimates`` (reliability) and
        ``scenarios`` (``list``: the declarations; ``model``: model name per task, for the note).
    groups : sequence
        Group columns and intersections (default :data:`policyml.audit.fairness.AUDIT_GROUPS`); those
        absent from the feature table are skipped.
    suppress_below : int
        Groups with fewer sample households are suppressed (values NaN, with the reason).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`: per scenario and measure, the overall row (group_variable and group
        ``"All"``) then one row per group; see the module docstring for the definitions.
    """
    unknown = [task for task in pipelines if task not in MEASURES]
    if unknown or not pipelines:
        raise ConfigError(f"scenario pipelines must be keyed by task, got {list(pipelines)}",
                          f"pass a fitted pipeline for one or both of {', '.join(MEASURES)}")
    config = settings.scenarios or {}
    scenarios = parse_scenarios(config.get("list", []), households, dictionary, spec_record)
    status_quo_frame = rebuild_features(households, dictionary, settings)
    check_status_quo(status_quo_frame, features)
    if not scenarios:
        return pd.DataFrame(columns=list(COLUMNS))

    columns = model_inputs(spec_record)
    tasks = [task for task in MEASURES if task in pipelines]
    baseline = {task: predicted_values(pipelines[task], task, status_quo_frame, columns) for task in tasks}
    outcomes = []
    for scenario in scenarios:
        edited = apply_scenario(scenario, households, dictionary)
        frame = rebuild_features(edited.households, dictionary, settings)
        values = {task: predicted_values(pipelines[task], task, frame, columns) for task in tasks}
        outcomes.append((scenario, edited, values))

    options = reliability_options(getattr(settings, "estimates", None))
    design = SurveyDesign.from_frame(features, spec_record.get("weight", "WGTP"), **options)
    model_names = config.get("model", {}) or {}
    cases = design.weights > 0
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for grouping, group, mask in _groups(features, groups):
        n = int(np.count_nonzero(mask & cases))
        domain = None
        if n >= max(suppress_below, 1):
            domain = design if grouping == OVERALL else design.domain(mask, name=f"{grouping} = {group}")
        for task in tasks:
            measure = MEASURES[task]
            status_quo = _estimate(domain, measure, baseline[task]) if domain is not None else None
            caveat = CAVEAT.format(model=f"{model_names.get(task, 'model')} {task}")
            for scenario, edited, values in outcomes:
                note = ". ".join(filter(None, [scenario.note, "Changes: " + "; ".join(edited.steps),
                                               MEASURE_NOTES[measure], caveat])) + "."
                labels = {"scenario": scenario.name, "description": scenario.description,
                          "group_variable": grouping, "group": group, "measure": measure}
                if domain is None:
                    reason = fairness.suppressed_row(grouping, group, measure, n, suppress_below)["reason"]
                    row = {**labels, **dict.fromkeys(COLUMNS[5:12], math.nan), "n": n, "reliable": False,
                           "suppressed": True, "reason": reason, "note": note}
                else:
                    scenario_estimate = _estimate(domain, measure, values[task])
                    change = _difference(scenario_estimate, status_quo, n, options["min_n"])
                    parts = {"status quo": status_quo, "scenario": scenario_estimate, "change": change}
                    row = {
                        **labels,
                        "status_quo": status_quo.estimate,
                        "status_quo_se": status_quo.se,
                        "scenario_value": scenario_estimate.estimate,
                        "scenario_se": scenario_estimate.se,
                        "change": change.estimate,
                        "change_se": change.se,
                        "households_affected_share": domain.mean(edited.touched.astype(np.float64)).estimate,
                        "n": n,
                        "reliable": all(e.reliable for e in parts.values()),
                        "suppressed": False,
                        "reason": _reason(parts),
                        "note": note,
                    }
                rows.setdefault((scenario.name, measure), []).append(row)
    ordered = [row for scenario in scenarios for task in tasks for row in rows[scenario.name, MEASURES[task]]]
    return pd.DataFrame(ordered, columns=list(COLUMNS))


__all__ = [
    "COLUMNS",
    "Change",
    "Codes",
    "Condition",
    "Edited",
    "MEASURES",
    "Scenario",
    "apply_scenario",
    "check_status_quo",
    "column_codes",
    "editable_columns",
    "parse_scenarios",
    "rebuild_features",
    "run_scenarios",
    "weighted_positive_median",
]
