"""Everything the teaching report shows: loading a run's files, formatting, tables, figures, prose.

``report/report.qmd`` stays prose plus short chunks that call this module, so every number, table
and figure of the report is produced by tested code from the run's own files:

Loading
    :class:`Results` reads the files of one state-year (``results/{state}/{year}``) by name
    (:data:`policyml.core.layout.OUTPUTS`); a missing file is a :class:`~policyml.core.errors.DataError` naming the file and
    the Snakemake rule that writes it.
Estimates
    Weighted figures the pipeline does not already store (income by group, by PUMA, gaps between
    groups) go through :mod:`policyml.core.survey`, with SDR replicate standard errors. Groups with
    fewer than :data:`~policyml.audit.fairness.SUPPRESS_BELOW` sample households are suppressed and
    noisy ones flagged, as in the fairness audit.
Formatting
    ``fmt_*`` helpers turn numbers into text (dollars, percents, margins of error); tables are
    Markdown (:func:`markdown_table`) with labels instead of codes and escaped data-derived text.
Figures
    plotnine ``ggplot`` objects with one theme (:func:`theme_report`), dollar and percent axes,
    error bars of 90% confidence intervals; PUMA maps are ``geom_map`` plots that fall back to the
    state outline (with the reason) when a state's PUMA boundaries are not available.
Words
    Sentences whose wording depends on the results (``*_sentence`` helpers): a gap whose 90%
    interval covers zero is said to be not distinguishable from zero.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotnine as p9
from mizani.labels import label_dollar, label_percent

from .. import nn
from ..audit.fairness import CROSS, OVERALL, SUPPRESS_BELOW
from ..core import catalogue, layout
from ..core.errors import ConfigError, DataError
from ..core.resources import PROJECT_ROOT, Mirror, default_resources_dir, embedded
from ..core.survey import Z90, Estimate, SurveyDesign, reliability_options
from ..data.run_settings import settings_rows
from ..model.features import build_targets, education_level
from ..model.selection import (
    LOWER_IS_BETTER,
    PRIMARY_METRIC,
    ModelChoice,
    distinguishable,
    select_model,
)

# --------------------------------------------------------------------------------------------------
# Labels
# --------------------------------------------------------------------------------------------------

MODEL_LABELS = {name: model.label for name, model in catalogue.MODELS.items()}

METRIC_LABELS = {
    "rmse": "RMSE (log income)",
    "mae": "MAE (log income)",
    "r2": "R²",
    "bias": "Bias (log income)",
    "mae_dollars": "MAE (dollars)",
    "roc_auc": "ROC AUC",
    "precision": "Precision",
    "recall": "Recall",
    "f1": "F1",
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "false_positive_rate": "False positive rate",
    "false_negative_rate": "False negative rate",
    "selection_rate": "Selection rate",
    "brier": "Brier score",
    "demographic_parity": "Demographic parity difference",
    "equalized_odds": "Equalized odds difference",
    "demographic_parity_difference": "Demographic parity difference",
    "equalized_odds_difference": "Equalized odds difference",
    "false_negative_rate_difference": "False negative rate difference",
}

#: How each metric is shown: "dollars", "percent" (a share) or "number".
METRIC_KINDS = {
    "mae_dollars": "dollars",
    "precision": "percent",
    "recall": "percent",
    "accuracy": "percent",
    "balanced_accuracy": "percent",
    "false_positive_rate": "percent",
    "false_negative_rate": "percent",
    "selection_rate": "percent",
    "demographic_parity": "points",
    "equalized_odds": "points",
    "demographic_parity_difference": "points",
    "equalized_odds_difference": "points",
    "false_negative_rate_difference": "points",
    "false_positive_rate_difference": "points",
}


GROUP_LABELS = {
    "race": "Race",
    "hispanic_origin": "Hispanic origin",
    "sex": "Sex",
    "age_band": "Age band",
    "disability": "Disability",
    "nativity": "Nativity",
    "puma_code": "PUMA",
    "education_level": "Education",
    "employment": "Employment",
    f"race{CROSS}sex": "Race × sex",
    "all": "All households",
    "overall": "All households",
}

TASK_LABELS = {name: task.label for name, task in catalogue.TASKS.items()}


#: Shorter names for the longest Census labels (figures only; tables keep the full label).
SHORT_LABELS = {
    "American Indian and Alaska Native tribes specified; or American Indian or Alaska Native, "
    "not specified and no other races": "AIAN, tribe specified or not specified",
    "Native Hawaiian and Other Pacific Islander alone": "NHPI alone",
    "Black or African American alone": "Black alone",
}

#: The demographic groupings of the exploratory section, householder traits.
EXPLORE_GROUPS = ("race", "hispanic_origin", "sex", "age_band", "education_level")

#: Employment status (ESR) in three groups.
EMPLOYMENT_GROUPS = {
    1: "Employed", 2: "Employed", 4: "Employed", 5: "Employed", 3: "Unemployed", 6: "Not in labor force",
}


def group_text(name: str) -> str:
    """A grouping's name inside a sentence: ``"race"``, ``"Hispanic origin"``, ``"age band"``."""
    label = label_of(name, GROUP_LABELS)
    return label if label.startswith("Hispanic") else label.lower()


def label_of(name: Any, labels: Mapping[str, str] | None = None) -> str:
    """The readable label of a code (model, metric, group variable), else the code itself."""
    for table in (labels,) if labels is not None else (MODEL_LABELS, METRIC_LABELS, GROUP_LABELS, TASK_LABELS):
        if name in table:
            return table[name]
    return str(name)


def short_label(text: Any, width: int = 28) -> str:
    """A figure label: the short form of a long Census label, wrapped onto lines of ``width``."""
    text = SHORT_LABELS.get(str(text), str(text))
    return "\n".join(textwrap.wrap(text, width)) or text


# --------------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------------

MISSING = "–"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, (float, np.floating)) and not math.isfinite(value)) or value is pd.NA


def fmt_number(value: Any, digits: int = 0) -> str:
    """``1234.5`` -> ``"1,235"``; missing or infinite -> ``"–"``."""
    if _missing(value):
        return MISSING
    return f"{float(value):,.{digits}f}"


def fmt_dollars(value: Any, digits: int = 0) -> str:
    """``45791.98`` -> ``"$45,792"``, ``-1377`` -> ``"-$1,377"``; missing -> ``"–"``."""
    if _missing(value):
        return MISSING
    value = float(value)
    sign = "-" if value < 0 and round(abs(value), digits) > 0 else ""
    return f"{sign}${abs(value):,.{digits}f}"


def fmt_percent(value: Any, digits: int = 1) -> str:
    """A share as a percent: ``0.3842`` -> ``"38.4%"``; missing -> ``"–"``."""
    if _missing(value):
        return MISSING
    return f"{100 * float(value):.{digits}f}%"


def fmt_points(value: Any, digits: int = 1, signed: bool = False) -> str:
    """A difference of shares in percentage points: ``0.02`` -> ``"2.0 pp"``."""
    if _missing(value):
        return MISSING
    return f"{100 * float(value):{'+' if signed else ''}.{digits}f} pp"


def fmt_value(value: Any, kind: str = "number", digits: int | None = None) -> str:
    """Format by kind: ``"dollars"``, ``"percent"`` (a share), ``"points"`` (a difference of shares)
    or ``"number"``."""
    if kind == "dollars":
        return fmt_dollars(value, 0 if digits is None else digits)
    if kind == "percent":
        return fmt_percent(value, 1 if digits is None else digits)
    if kind == "points":
        return fmt_points(value, 1 if digits is None else digits)
    if kind == "number":
        return fmt_number(value, 3 if digits is None else digits)
    raise ConfigError(f"unknown number kind {kind!r}", "use 'dollars', 'percent', 'points' or 'number'")


def _fmt_spread(value: Any, kind: str, digits: int | None) -> str:
    """A margin or standard error: percentage points for shares, else like the value."""
    if kind in ("percent", "points"):
        return fmt_points(value, 1 if digits is None else digits)
    return fmt_value(value, kind, digits)


def _fmt_with_spread(value: Any, spread: Any, kind: str, digits: int | None, prefix: str, name: str) -> str:
    if _missing(value):
        return MISSING
    if _missing(spread):
        return f"{fmt_value(value, kind, digits)} ({name} n/a)"
    return f"{fmt_value(value, kind, digits)} ({prefix}{_fmt_spread(spread, kind, digits)})"


def fmt_moe(value: Any, moe: Any, kind: str = "number", digits: int | None = None) -> str:
    """An estimate with its 90% margin of error: ``"$45,792 (±$1,541)"``, ``"38.4% (±2.0 pp)"``."""
    return _fmt_with_spread(value, moe, kind, digits, "±", "MOE")


def fmt_se(value: Any, se: Any, kind: str = "number", digits: int | None = None) -> str:
    """An estimate with its standard error: ``"$45,792 (SE $936)"``."""
    return _fmt_with_spread(value, se, kind, digits, "SE ", "SE")


def fmt_change(value: Any, kind: str = "number", digits: int | None = None) -> str:
    """A signed change: ``"+$1,200"``, ``"-2.0 pp"``, ``"+0.015"``."""
    if _missing(value):
        return MISSING
    if kind in ("percent", "points"):
        return fmt_points(value, 1 if digits is None else digits, signed=True)
    text = fmt_value(abs(float(value)), kind, digits)
    return ("-" if float(value) < 0 else "+") + text


def fmt_large(value: float) -> str:
    """``2.4e9`` -> ``"2.4 billion"``; smaller numbers with thousands separators."""
    for size, name in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(value) >= size:
            return f"{value / size:.1f} {name}"
    return fmt_number(value)


_NUMERIC_CELL = re.compile(r"^(\\?\$|[-+−–]|\d|\.\d)")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#$~^])")
_MATH_DOLLAR = re.compile(r"(?<!\\)\$(?=[\d+\-.,])")


def escape_markdown(text: Any) -> str:
    """Escape Markdown (and raw-HTML) syntax in data-derived text so it shows literally."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def md(text: str) -> str:
    """Prose for Markdown: escape dollar signs of amounts so ``$1,200 ... $3`` is never math."""
    return _MATH_DOLLAR.sub(r"\\$", text)


def code_block(text: str) -> str:
    """Text shown verbatim in the report (a fenced code block)."""
    fence = "`" * 3
    return f"{fence}\n{text}\n{fence}"


def say(*paragraphs: str) -> Any:
    """Paragraphs of report prose as a Markdown display object (amounts escaped, see :func:`md`)."""
    from IPython.display import Markdown

    return Markdown("\n\n".join(p if p.startswith("`" * 3) else md(p) for p in paragraphs if p))


def note(text: str) -> Any:
    """An italic remark in place of a figure or table that this run cannot show (and why)."""
    from IPython.display import Markdown

    return Markdown(f"*{md(text)}*")


def markdown_table(frame: pd.DataFrame, align: Sequence[str] | None = None) -> Any:
    """A DataFrame as a Markdown table (an IPython ``Markdown`` object), every cell escaped.

    Cells should already be formatted text; ``align`` gives "left"/"right"/"center" per column
    (default: right for columns of numbers and formatted amounts, left for text).
    """
    from IPython.display import Markdown

    if frame.empty:
        return Markdown("*No rows to show.*")
    cells = frame.astype(object).map(lambda v: MISSING if _missing(v) else escape_markdown(v))
    cells.columns = [escape_markdown(c) for c in frame.columns]
    if align is None:  # numbers (and formatted amounts) right, text left
        def numeric(value: Any) -> bool:
            return str(value) in ("", MISSING) or bool(_NUMERIC_CELL.match(str(value)))

        align = ["right" if i and cells[c].map(numeric).all() else "left" for i, c in enumerate(cells.columns)]
    return Markdown(cells.to_markdown(index=False, colalign=align, disable_numparse=True))


def gap_sentence(what: str, estimate: float, se: float, kind: str = "dollars", unit: str | None = None) -> str:
    """``"<what> is $4,500 (90% CI $2,100 to $6,900), statistically distinguishable from zero."``

    With a gap whose 90% interval covers zero, the sentence says it is not distinguishable from
    zero (at the 90% level), so the same template reads right for every state.
    """
    low, high = estimate - Z90 * se, estimate + Z90 * se
    points = kind in ("percent", "points")
    amount = fmt_points(estimate) if points else fmt_value(estimate, kind)
    bounds = (fmt_points(low), fmt_points(high)) if points else (fmt_value(low, kind), fmt_value(high, kind))
    interval = f"90% CI {bounds[0]} to {bounds[1]}" if not _missing(se) else "no standard error available"
    verdict = (
        "statistically distinguishable from zero at the 90% level"
        if distinguishable(estimate, se)
        else "**not** statistically distinguishable from zero at the 90% level: the sample cannot tell "
        "this gap apart from no gap"
    )
    return f"{what} is {amount}{f' {unit}' if unit else ''} ({interval}), {verdict}."


def lower_first(text: str) -> str:
    """``"False negative rate"`` -> ``"false negative rate"``; acronyms (``"MAE (log income)"``) stay."""
    first = text.split(" ", 1)[0]
    return text if first.isupper() or first[:2].isupper() else text[:1].lower() + text[1:]


def list_text(items: Sequence[str], conjunction: str = "and") -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"``."""
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


# --------------------------------------------------------------------------------------------------
# Loading a run's files
# --------------------------------------------------------------------------------------------------


#: Snakemake stages whose benchmark files record a model's fitting cost.
FIT_STAGES = ("fit_model", "tune_model", "fit_mlp")

# CSV columns that hold codes or labels, never numbers (a PUMA code like 00100 must keep its zeros).
_TEXT_COLUMNS = ("group", "puma", "puma_code", "max_group", "min_group", "term", "feature", "value_label")


class Results:
    """The files of one state-year run, read by name from :data:`policyml.core.layout.OUTPUTS`.

    Parameters
    ----------
    root : path
        The run's results folder, e.g. ``results/NM/2018`` (relative paths are taken from the
        current directory, then from the project root).
    unit : str
        The analysis unit folder inside it (``"households"``).
    """

    def __init__(self, root: str | Path, unit: str = "households"):
        root = Path(root)
        if not root.is_absolute() and not root.exists() and (PROJECT_ROOT / root).exists():
            root = PROJECT_ROOT / root
        self.root = root
        self.unit = unit

    def __repr__(self) -> str:
        return f"Results({str(self.root)!r}, unit={self.unit!r})"

    def path(self, name: str, **wildcards: Any) -> Path:
        """The path of output ``name`` (:data:`policyml.core.layout.OUTPUTS`; wildcards: task,
        model, stage)."""
        return self.root / layout.relative(name, **{"unit": self.unit, **wildcards})

    def exists(self, name: str, **wildcards: Any) -> bool:
        return self.path(name, **wildcards).is_file()

    def read(self, name: str, **wildcards: Any) -> Any:
        """Read output ``name``: a DataFrame (csv, tsv, parquet) or a dict (json).

        Raises
        ------
        DataError
            When the file is missing, naming it and the rule to run.
        """
        path = self.path(name, **wildcards)
        if not path.is_file():
            rule = self._output(name).rule.format(**wildcards)
            raise DataError(
                f"the report needs {path}, which does not exist",
                f"run the Snakemake rule {rule} for this state and year (e.g. snakemake --cores 2 {path})",
            )
        suffix = path.suffix
        try:
            if suffix == ".json":
                return json.loads(path.read_text())
            if suffix == ".parquet":
                return pd.read_parquet(path)
            if suffix == ".tsv":
                return pd.read_csv(path, sep="\t")
            return pd.read_csv(path, dtype={c: "str" for c in _TEXT_COLUMNS}, keep_default_na=True)
        except (ValueError, OSError) as error:
            raise DataError(
                f"cannot read {path}: {error}",
                f"rerun the Snakemake rule {self._output(name).rule.format(**wildcards)} to rewrite it",
            ) from error

    @staticmethod
    def _output(name: str) -> layout.Output:
        return layout.output(name)


def data_source(households: pd.DataFrame) -> dict[str, Any]:
    """Where the PUMS file came from: its path, embedded or downloaded, and its checksum status."""
    source = households.attrs.get("source")
    if not source:
        return {"path": None, "origin": "unknown", "checksum": "unknown"}
    path = Path(source)
    resources = default_resources_dir().resolve()
    try:
        relative = path.resolve().relative_to(resources)
    except ValueError:
        shown = path.name
        return {"path": shown, "origin": "downloaded from the Census Bureau (local cache)",
                "checksum": "size and zip integrity checked when downloaded"}
    listed = embedded().checksums().get(relative.as_posix())
    return {
        "path": f"resources/{relative.as_posix()}",
        "origin": "the copy embedded in the project (no download needed)",
        "checksum": (f"sha256 {listed[:12]}… verified against resources/SHA256SUMS" if listed
                     else "not listed in SHA256SUMS"),
    }


# --------------------------------------------------------------------------------------------------
# Survey estimates for the report (through policyml.core.survey)
# --------------------------------------------------------------------------------------------------


def householder_groups(households: pd.DataFrame) -> pd.DataFrame:
    """The householder traits the report groups by, as labelled columns (one row per household)."""
    groups = pd.DataFrame(index=households.index)
    for column in ("race", "hispanic_origin", "sex", "age_band", "disability"):
        if column in households:
            groups[column] = households[column]
    groups["education_level"] = education_level(households["SCHL"])
    codes = pd.to_numeric(households["ESR"], errors="coerce")
    groups["employment"] = pd.Categorical(
        codes.map(EMPLOYMENT_GROUPS), categories=["Employed", "Unemployed", "Not in labor force"]
    )
    return groups


def _design(households: pd.DataFrame, estimates: Mapping[str, Any] | None) -> SurveyDesign:
    return SurveyDesign.from_frame(households, "WGTP", **reliability_options(estimates))


def _estimate_row(estimate: Estimate, prefix: str) -> dict[str, Any]:
    return {
        prefix: estimate.estimate,
        f"{prefix}_se": estimate.se,
        f"{prefix}_moe90": estimate.moe90,
        f"{prefix}_cv": estimate.cv,
        f"{prefix}_reliable": estimate.reliable,
        f"{prefix}_reason": estimate.reason,
    }


def group_income_table(
    households: pd.DataFrame,
    groups: Sequence[str] = EXPLORE_GROUPS,
    estimates: Mapping[str, Any] | None = None,
    value: str = "household_income",
) -> pd.DataFrame:
    """Weighted median household income by householder group, with SDR SEs.

    Every level of every grouping gets a row: groups with fewer than ``SUPPRESS_BELOW`` sample
    households are ``suppressed`` (no estimate), others flagged unreliable with the reason.

    Returns
    -------
    DataFrame
        group_variable, group, n, median_income, se, moe90, cv, reliable, suppressed, reason.
    """
    design = _design(households, estimates)
    traits = householder_groups(households)
    income = households[value]
    rows = []
    for variable in groups:
        column = traits[variable]
        for level in column.cat.categories:
            mask = (column == level).fillna(False).to_numpy()
            n = int(mask.sum())
            row = {"group_variable": variable, "group": str(level), "n": n}
            if n < SUPPRESS_BELOW:
                rows.append(row | {"median_income": np.nan, "se": np.nan, "moe90": np.nan, "cv": np.nan,
                                   "reliable": False, "suppressed": True,
                                   "reason": f"suppressed: only {n} sample households (< {SUPPRESS_BELOW})"})
                continue
            median = design.domain(mask, name=f"{variable}={level}").median(income)
            rows.append(row | {"median_income": median.estimate, "se": median.se, "moe90": median.moe90,
                               "cv": median.cv, "reliable": median.reliable, "suppressed": False,
                               "reason": median.reason})
    return pd.DataFrame(rows)


def income_by_education_employment(
    households: pd.DataFrame, estimates: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Weighted median household income by the householder's education level and employment.

    Returns the columns of :func:`group_income_table` with ``education_level`` and ``employment``
    in place of group_variable/group.
    """
    design = _design(households, estimates)
    traits = householder_groups(households)
    rows = []
    for education in traits["education_level"].cat.categories:
        for employment in traits["employment"].cat.categories:
            mask = ((traits["education_level"] == education) & (traits["employment"] == employment)).fillna(False)
            mask = mask.to_numpy()
            n = int(mask.sum())
            row = {"education_level": str(education), "employment": str(employment), "n": n}
            if n < SUPPRESS_BELOW:
                rows.append(row | {"median_income": np.nan, "se": np.nan, "moe90": np.nan, "reliable": False,
                                   "suppressed": True, "reason": f"suppressed: only {n} sample households"})
                continue
            median = design.domain(mask).median(households["household_income"])
            rows.append(row | {"median_income": median.estimate, "se": median.se, "moe90": median.moe90,
                               "reliable": median.reliable, "suppressed": False, "reason": median.reason})
    return pd.DataFrame(rows)


def domain_difference(
    households: pd.DataFrame,
    first: Any,
    second: Any,
    value: str = "household_income",
    statistic: str = "median",
    estimates: Mapping[str, Any] | None = None,
) -> Estimate:
    """``statistic(value | first) - statistic(value | second)`` with its SDR SE.

    ``first`` and ``second`` are boolean masks of households. The SE comes from the 80 paired
    replicate differences (the two estimates share replicate weights), not from adding variances.
    Reliability is judged by sample size and a defined SE only (a CV says nothing about a gap).
    """
    design = _design(households, estimates)
    values = households[value]
    pick = {"median": SurveyDesign.median, "mean": SurveyDesign.mean}
    if statistic not in pick:
        raise ConfigError(f"unknown statistic {statistic!r}", "use 'median' or 'mean'")
    one = pick[statistic](design.domain(np.asarray(first, dtype=bool), "first group"), values)
    two = pick[statistic](design.domain(np.asarray(second, dtype=bool), "second group"), values)
    values81 = np.concatenate([[one.estimate - two.estimate], one.replicates - two.replicates])
    return Estimate.from_replicates(values81, min(one.n, two.n), cv_threshold=math.inf, min_n=design.min_n)


def puma_estimates(
    households: pd.DataFrame,
    estimates: Mapping[str, Any] | None = None,
    targets: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Weighted household estimates per PUMA with SDR replicate SEs, for the report's maps.

    Parameters
    ----------
    households : DataFrame
        ``households.parquet``: puma, puma_vintage, household_income, POVPIP, WGTP, WGTP1..80.
    estimates : dict, optional
        The config's ``estimates`` section (cv_threshold, min_sample).
    targets : dict, optional
        The config's ``targets`` section; its ``low_income_threshold`` (default 200) defines the
        low-income flag exactly as the classification target (:func:`policyml.model.features.build_targets`).

    Returns
    -------
    DataFrame
        One row per PUMA: puma, puma_vintage, n, households, households_se, median_income,
        median_income_se, median_income_moe90, median_income_cv, median_income_reliable,
        low_income_share, low_income_share_se, low_income_share_moe90, low_income_share_cv,
        low_income_share_reliable, reliable (both estimates reliable), reason.
    """
    for column in ("puma", "household_income", "POVPIP"):
        if column not in households:
            raise DataError(f"households table lacks the column {column!r}", "rerun build_households")
    settings = {"nonpositive_income": "drop", "income_floor": 1000, "low_income_threshold": 200, **(targets or {})}
    low_income = build_targets(households, settings)["low_income"]
    design = _design(households, estimates)
    vintage = households["puma_vintage"].iloc[0] if "puma_vintage" in households and len(households) else pd.NA
    rows = []
    for puma in sorted(households["puma"].astype(str).unique()):
        mask = (households["puma"].astype(str) == puma).to_numpy()
        domain = design.domain(mask, name=f"PUMA {puma}")
        count = domain.total()
        median = domain.median(households["household_income"])
        share = domain.proportion(low_income)
        reasons = [f"{what}: {e.reason}" for what, e in (("median income", median), ("low-income share", share))
                   if e.reason]
        rows.append({
            "puma": puma,
            "puma_vintage": vintage,
            "n": domain.n,
            "households": count.estimate,
            "households_se": count.se,
            **{k: v for k, v in _estimate_row(median, "median_income").items() if not k.endswith("_reason")},
            **{k: v for k, v in _estimate_row(share, "low_income_share").items() if not k.endswith("_reason")},
            "reliable": median.reliable and share.reliable,
            "reason": "; ".join(reasons) or None,
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# Figures: theme and exploratory plots
# --------------------------------------------------------------------------------------------------

FIGURE_SIZE = (7.5, 4.5)
PALETTE = ("#1b6ca8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f", "#2e4057", "#b5651d")


def theme_report(figure_size: tuple[float, float] = FIGURE_SIZE) -> p9.theme:
    """The one theme of the report's figures: minimal, readable, legend at the bottom."""
    return p9.theme_minimal(base_size=10) + p9.theme(
        figure_size=figure_size,
        dpi=110,
        legend_position="bottom",
        plot_title=p9.element_text(weight="bold", size=11),
        plot_caption=p9.element_text(size=8, color="#555555", ha="left"),
        plot_caption_position="plot",
        strip_text=p9.element_text(weight="bold"),
        panel_grid_minor=p9.element_blank(),
    )


def dollars_axis() -> dict[str, Any]:
    return {"labels": label_dollar(big_mark=",", precision=0)}


def income_histogram(households: pd.DataFrame, summary: Mapping[str, Any], bins: int = 60) -> p9.ggplot:
    """Weighted distribution of household income, with the weighted median marked.

    Incomes above the weighted 99th percentile are left out of the picture (not the estimates) so
    the bulk of the distribution stays readable; the caption says how many.
    """
    design = _design(households, None)
    top = design.quantile(households["household_income"], 0.99).estimate
    shown = households.loc[households["household_income"].between(-np.inf, top), ["household_income", "WGTP"]]
    median = summary["median_household_income"]["estimate"]
    left_out = len(households) - len(shown)
    counts, _ = np.histogram(shown["household_income"], bins=bins, weights=shown["WGTP"])
    year = summary.get("year", "survey-year")
    return (
        p9.ggplot(shown, p9.aes(x="household_income", weight="WGTP"))
        + p9.geom_histogram(bins=bins, fill=PALETTE[0], color="white", size=0.2)
        + p9.geom_vline(xintercept=median, color=PALETTE[1], linetype="dashed", size=0.8)
        + p9.annotate("label", x=median, y=float(counts.max()), label=f"weighted median {fmt_dollars(median)}",
                      ha="left", va="top", color=PALETTE[1], size=9, label_size=0, fill="white")
        + p9.scale_x_continuous(**dollars_axis())
        + p9.scale_y_continuous(labels=label_dollar(prefix="", big_mark=",", precision=0))
        + p9.labs(x=f"Household income ({year} dollars, ADJINC-adjusted)", y="Households (weighted)",
                  caption=f"{left_out} sample households above the weighted 99th percentile "
                          f"({fmt_dollars(top)}) are not drawn.")
        + theme_report()
    )


UNRELIABLE = "unreliable (CV > threshold or small n)"


def _interval_frame(table: pd.DataFrame, estimate: str, moe: str) -> pd.DataFrame:
    frame = table.loc[table[estimate].notna()].copy()
    frame["low"] = frame[estimate] - frame[moe].fillna(0)
    frame["high"] = frame[estimate] + frame[moe].fillna(0)
    frame["reliability"] = np.where(frame["reliable"].astype(bool), "reliable", UNRELIABLE)
    return frame


def wrap(text: str, width: int = 110) -> str:
    """Wrap a figure caption onto lines of ``width`` characters."""
    return "\n".join(textwrap.wrap(text, width))


def _suppressed_caption(table: pd.DataFrame, label_column: str = "group") -> str:
    hidden = table.loc[table.get("suppressed", pd.Series(False, index=table.index)).astype(bool)]
    if hidden.empty:
        return ""
    names = list_text([short_label(g, 200) for g in hidden[label_column]])
    return f"Not shown (fewer than {SUPPRESS_BELOW} sample households): {names}. "


RELIABILITY_SHAPES = {"reliable": "o", UNRELIABLE: "D"}
RELIABILITY_FILLS = {"reliable": PALETTE[0], UNRELIABLE: "white"}


def group_estimate_plot(
    table: pd.DataFrame,
    estimate: str = "median_income",
    moe: str = "moe90",
    kind: str = "dollars",
    x_label: str = "Median household income (90% confidence interval)",
    reference: float | None = None,
    facet: str = "group_variable",
) -> p9.ggplot:
    """Estimates by group with 90% intervals, one panel per grouping; hollow diamonds are unreliable.

    ``table`` has group_variable, group, the estimate and MOE columns, reliable and (optionally)
    suppressed; suppressed groups are named in the caption instead of drawn.
    """
    frame = _interval_frame(table, estimate, moe)
    panels = [label_of(v, GROUP_LABELS) for v in dict.fromkeys(table[facet])]
    frame["panel"] = pd.Categorical(frame[facet].map(lambda v: label_of(v, GROUP_LABELS)), categories=panels)
    frame["label"] = frame["group"].map(short_label)
    order = list(dict.fromkeys(frame["label"][::-1]))
    frame["label"] = pd.Categorical(frame["label"], categories=order)
    caption = wrap(_suppressed_caption(table) + "Hollow diamonds: unreliable estimates (CV above the threshold "
                   "or too few sample households).")
    axis = dollars_axis() if kind == "dollars" else {"labels": label_percent()} if kind == "percent" else {}
    n_rows = max(len(frame), 1)
    plot = (
        p9.ggplot(frame, p9.aes(y="label"))
        + p9.geom_errorbarh(p9.aes(xmin="low", xmax="high"), height=0.3, color="#555555")
        + p9.geom_point(p9.aes(x=estimate, shape="reliability", fill="reliability"), size=2.6, color=PALETTE[0])
        + p9.scale_shape_manual(values=RELIABILITY_SHAPES)
        + p9.scale_fill_manual(values=RELIABILITY_FILLS)
        + p9.scale_x_continuous(**axis)
        + p9.facet_grid(rows="panel", scales="free_y", space="free_y")
        + p9.labs(x=x_label, y="", caption=caption, shape="", fill="")
        + theme_report((7.5, min(2.2 + 0.28 * n_rows, 16)))
        + p9.theme(strip_text_y=p9.element_text(angle=0, ha="left", weight="bold"))
    )
    if reference is not None:
        plot += p9.geom_vline(xintercept=reference, linetype="dotted", color=PALETTE[1])
    return plot


def education_employment_plot(table: pd.DataFrame) -> p9.ggplot:
    """Median income by education level, one line per employment group, with 90% intervals."""
    frame = _interval_frame(table, "median_income", "moe90")
    levels = list(dict.fromkeys(table["education_level"]))
    frame["education"] = pd.Categorical(frame["education_level"].map(lambda s: short_label(s, 12)),
                                        categories=[short_label(s, 12) for s in levels])
    dodge = p9.position_dodge(width=0.4)
    cells = table.assign(group=table["education_level"] + " / " + table["employment"])
    return (
        p9.ggplot(frame, p9.aes(x="education", y="median_income", color="employment", group="employment"))
        + p9.geom_line(position=dodge, alpha=0.6)
        + p9.geom_errorbar(p9.aes(ymin="low", ymax="high"), width=0.2, position=dodge)
        + p9.geom_point(p9.aes(shape="reliability"), size=2.4, position=dodge, fill="white")
        + p9.scale_shape_manual(values=RELIABILITY_SHAPES)
        + p9.scale_color_manual(values=PALETTE[:3])
        + p9.scale_y_continuous(**dollars_axis())
        + p9.labs(x="Householder's education", y="Median household income", shape="", color="Householder",
                  caption=wrap(_suppressed_caption(cells) + "Bars: 90% confidence intervals; diamonds: unreliable "
                               "estimates.", 120))
        + theme_report((8, 4.8))
        + p9.theme(legend_position="right")
    )


def missing_data_table(missing: pd.DataFrame) -> pd.DataFrame:
    """Shares of allocated (Census-imputed) and not-applicable values for all households."""
    overall = missing.loc[missing["group_variable"] == "all"]
    ordered = overall.sort_values("share_allocated", ascending=False)
    return pd.DataFrame({
        "Variable": ordered["label"].str.capitalize(),
        "Allocated (imputed) share": [fmt_moe(v, m, "percent")
                                      for v, m in zip(ordered["share_allocated"], ordered["allocated_moe90"])],
        "Not applicable (blank by design)": ordered["share_not_applicable"].map(fmt_percent),
        "Reliable": np.where(ordered["allocated_reliable"].astype(bool), "yes",
                             "no: " + ordered["allocated_reason"].fillna("")),
    })


def allocation_by_group(missing: pd.DataFrame, variable: str = "household_income") -> pd.DataFrame:
    """One variable's allocation share by demographic group, ready for :func:`group_estimate_plot`."""
    rows = missing.loc[(missing["variable"] == variable) & (missing["group_variable"] != "all")].copy()
    rows["suppressed"] = rows["n"] < SUPPRESS_BELOW
    rows.loc[rows["suppressed"], "share_allocated"] = np.nan
    return rows.rename(columns={"share_allocated": "estimate", "allocated_moe90": "moe90",
                                "allocated_reliable": "reliable"})


def representativeness_table(
    representativeness: pd.DataFrame,
    group_variables: Sequence[str] = ("income_bracket", "race", "hispanic_origin", "sex", "age_band"),
) -> pd.DataFrame:
    """Weighted shares of each group in the training and test sets, side by side."""
    frame = representativeness.loc[representativeness["group_variable"].isin(group_variables)]
    def wide_by_set(values: str) -> pd.DataFrame:
        return frame.pivot_table(index=["group_variable", "group"], columns="set", values=values, aggfunc="first",
                                 sort=False)

    wide, se, n = wide_by_set("share"), wide_by_set("se"), wide_by_set("n")
    rows = []
    for (variable, group), shares in wide.iterrows():
        rows.append({
            "Grouping": label_of(variable, GROUP_LABELS | {"income_bracket": "Income bracket"}),
            "Group": group,
            "All": fmt_percent(shares.get("all")),
            "Training": fmt_se(shares.get("train"), se.loc[(variable, group)].get("train"), "percent"),
            "Test": fmt_se(shares.get("test"), se.loc[(variable, group)].get("test"), "percent"),
            "Test n": fmt_number(n.loc[(variable, group)].get("test")),
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# Maps
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MapGeography:
    """What a PUMA map draws: the polygons (None when unavailable, with the reason) and the outline."""

    state_name: str
    shapes: Any  # GeoDataFrame with puma, puma_name, geometry, or None
    reason: str | None
    outline: Any  # GeoDataFrame


def map_geography(
    state: str, vintage: int | None, mirrors: str | Path | Iterable[str | Path | Mirror] = ()
) -> MapGeography:
    """PUMA shapes of ``state`` for a PUMA ``vintage`` (from the embedded data and ``mirrors``).

    Both layers are projected to the state's UTM zone so a map keeps its true shape. When no
    mirror holds the shapes, ``shapes`` is None and ``reason`` says why.
    """
    from ..core.states import resolve_state
    from ..data.geography import puma_shapes, state_outline

    info = resolve_state(state)
    if isinstance(mirrors, (str, Path)):
        mirrors = [mirrors]
    sources = [embedded(), *(m if isinstance(m, Mirror) else Mirror(m) for m in mirrors)]
    outline = state_outline(info)
    crs = outline.estimate_utm_crs()
    if vintage is None or pd.isna(vintage):
        shapes = None
        reason = f"the PUMA vintage of the {info.name} data is unknown; the maps show the state outline instead"
    else:
        shapes, reason = puma_shapes(info, int(vintage), sources)
    return MapGeography(info.name, None if shapes is None else shapes.to_crs(crs), reason, outline.to_crs(crs))


def puma_map(
    geography: MapGeography,
    values: pd.DataFrame,
    column: str,
    title: str,
    kind: str = "dollars",
    reliable: str | None = "reliable",
    puma_column: str = "puma",
    fallback: bool = True,
) -> p9.ggplot | None:
    """A PUMA choropleth of ``values[column]``; unreliable PUMAs are washed out and outlined.

    When the PUMA shapes are not available (``geography.shapes is None``) it returns the state
    outline with the reason in the caption, or None with ``fallback=False`` (so a report that
    draws several maps shows the outline once).
    """
    if geography.shapes is None:
        return outline_map(geography) if fallback else None
    table = values[[puma_column, column] + ([reliable] if reliable else [])].rename(columns={puma_column: "puma"})
    table["puma"] = table["puma"].astype(str).str.zfill(5)
    data = geography.shapes.merge(table, on="puma", how="left")
    missing = data[column].isna()
    unreliable = data.loc[~data[reliable].fillna(True).astype(bool)] if reliable else data.iloc[0:0]
    labels = {"dollars": label_dollar(big_mark=",", precision=0), "percent": label_percent()}.get(kind)
    caption = []
    if len(unreliable):
        caption.append(f"Washed out with dashed border: {len(unreliable)} PUMA(s) whose estimate is unreliable.")
    if missing.any():
        caption.append(f"Grey: {int(missing.sum())} PUMA(s) without an estimate.")
    plot = (
        p9.ggplot()
        + p9.geom_map(data.loc[~missing], p9.aes(fill=column), color="white", size=0.3)
        + p9.scale_fill_continuous(cmap_name="viridis", **({"labels": labels} if labels else {}))
        + p9.coord_fixed()
        + p9.labs(title=title, caption=wrap(" ".join(caption), 90), fill="")
        + theme_report((6.5, 5.5))
        + p9.theme(axis_text=p9.element_blank(), axis_title=p9.element_blank(), panel_grid=p9.element_blank(),
                   legend_position="right")
    )
    if missing.any():
        plot += p9.geom_map(data.loc[missing], fill="#cccccc", color="white", size=0.3)
    if len(unreliable):
        plot += p9.geom_map(unreliable, fill="white", alpha=0.55, color="black", linetype="dashed", size=0.5)
    return plot


def outline_map(geography: MapGeography) -> p9.ggplot:
    """The state outline with the reason PUMA boundaries are missing, in place of a choropleth."""
    reason = geography.reason or "PUMA boundaries are not available"
    return (
        p9.ggplot()
        + p9.geom_map(geography.outline, fill="#eeeeee", color="#333333", size=0.5)
        + p9.coord_fixed()
        + p9.labs(title=f"{geography.state_name}: no PUMA map",
                  caption="\n".join(textwrap.wrap(f"No PUMA map: {reason}.", 90)))
        + theme_report((6.5, 5.0))
        + p9.theme(axis_text=p9.element_blank(), axis_title=p9.element_blank(), panel_grid=p9.element_blank())
    )


def puma_table(values: pd.DataFrame, geography: MapGeography | None = None) -> pd.DataFrame:
    """PUMA estimates as a readable table (names from the shapes when available)."""
    names = {}
    if geography is not None and geography.shapes is not None:
        names = dict(zip(geography.shapes["puma"], geography.shapes["puma_name"]))
    frame = values.sort_values("median_income", ascending=False)
    return pd.DataFrame({
        "PUMA": [f"{p} {names.get(p, '')}".strip() for p in frame["puma"]],
        "Sample households": frame["n"].map(fmt_number),
        "Median income": [fmt_moe(v, m, "dollars")
                          for v, m in zip(frame["median_income"], frame["median_income_moe90"])],
        "Low-income share": [fmt_moe(v, m, "percent")
                             for v, m in zip(frame["low_income_share"], frame["low_income_share_moe90"])],
        "Reliable": np.where(frame["reliable"].astype(bool), "yes", "no: " + frame["reason"].fillna("").astype(str)),
    })


def puma_error_values(groups: pd.DataFrame, model: str, metric: str = "mae") -> pd.DataFrame:
    """A model's test metric by PUMA from the fairness audit (``group_variable == "puma_code"``)."""
    rows = groups.loc[(groups["group_variable"] == "puma_code") & (groups["model"] == model)
                      & (groups["metric"] == metric) & (groups["group"] != OVERALL)]
    return pd.DataFrame({
        "puma": rows["group"].astype(str).str.zfill(5),
        metric: rows["estimate"].where(~rows["suppressed"].astype(bool)),
        "se": rows["se"],
        "n": rows["n"],
        "reliable": rows["reliable"].astype(bool),
    })


# --------------------------------------------------------------------------------------------------
# Features and coefficients
# --------------------------------------------------------------------------------------------------


def feature_table(spec: Mapping[str, Any]) -> pd.DataFrame:
    """The model's inputs and the audit-only attributes, with descriptions and their role."""
    descriptions = spec.get("descriptions", {})
    interaction_columns = {name for name in spec["numeric"] if "_x_" in name}
    rows = []
    for name in spec["numeric"]:
        if name not in interaction_columns:
            rows.append((name, "numeric", descriptions.get(name, name), "model input"))
    for name in spec["categorical"]:
        rows.append((name, "categorical", descriptions.get(name, name), "model input"))
    for left, right in spec.get("interactions", []):
        protected = [n for n in (left, right) if n in spec["protected"]]
        used = not protected or spec.get("include_protected", False)
        role = "model input" if used else f"left out: uses the protected attribute {list_text(protected)}"
        description = f"{descriptions.get(left, left)} × {descriptions.get(right, right)}"
        rows.append((f"{left} × {right}", "interaction", description, role))
    for name in spec["protected"]:
        role = "model input" if spec.get("include_protected", False) else "audit only (kept out of the models)"
        rows.append((name, "protected", descriptions.get(name, name), role))
    return pd.DataFrame(rows, columns=["Feature", "Kind", "Description", "Role"])


def term_label(term: str, spec: Mapping[str, Any]) -> str:
    """A coefficient in words: ``education_level_Bachelor's degree`` -> ``Education level: Bachelor's degree``."""
    if term == "(intercept)":
        return "Intercept"
    match = re.fullmatch(r"(.+)_x_(.+)\[(.+)\]", term)
    if match:
        return f"{match.group(1).replace('_', ' ')} × {match.group(2).replace('_', ' ')} = {match.group(3)}"
    if term in spec.get("numeric", []) or term in spec.get("descriptions", {}):
        return spec.get("descriptions", {}).get(term, term).split(" (")[0].capitalize()
    columns = sorted(spec.get("categorical", []) + spec.get("protected", []), key=len, reverse=True)
    for column in columns:
        if term.startswith(column + "_"):
            return f"{column.replace('_', ' ').capitalize()}: {term[len(column) + 1:]}"
    return term.replace("_", " ")


def coefficient_table(coefficients: pd.DataFrame, spec: Mapping[str, Any], task: str, top: int = 12) -> pd.DataFrame:
    """The ``top`` coefficients by |coefficient / SE| with 90% CIs, in words a reader can use.

    Regression (log income): ``exp(b) - 1`` is the percent difference in predicted income.
    Classification (log-odds): ``exp(b)`` is the odds ratio. Numeric terms are per standard
    deviation (the models standardise numeric inputs).
    """
    separated = coefficients["note"].fillna("").str.contains("separation")
    estimated = coefficients.loc[coefficients["kind"].isin(["numeric", "level"]) & coefficients["se"].gt(0)
                                 & ~separated].copy()
    estimated["z"] = (estimated["coefficient"] / estimated["se"]).abs()
    chosen = estimated.sort_values("z", ascending=False).head(top)
    if task == "regression":
        effect_name = "Predicted income difference (90% CI)"
        effect = [f"{100 * math.expm1(b):+.1f}% ({100 * math.expm1(lo):+.1f}% to {100 * math.expm1(hi):+.1f}%)"
                  for b, lo, hi in zip(chosen["coefficient"], chosen["ci90_low"], chosen["ci90_high"])]
    else:
        effect_name = "Odds ratio of low income (90% CI)"
        effect = [f"{math.exp(b):.2f} ({math.exp(lo):.2f} to {math.exp(hi):.2f})"
                  for b, lo, hi in zip(chosen["coefficient"], chosen["ci90_low"], chosen["ci90_high"])]
    return pd.DataFrame({
        "Term": [term_label(t, spec) + (" (per SD)" if k == "numeric" else "")
                 for t, k in zip(chosen["term"], chosen["kind"])],
        "Coefficient (SE)": [fmt_se(b, s, "number") for b, s in zip(chosen["coefficient"], chosen["se"])],
        effect_name: effect,
        "Distinguishable from 0": ["yes" if distinguishable(b, s) else "no"
                                   for b, s in zip(chosen["coefficient"], chosen["se"])],
    })


# --------------------------------------------------------------------------------------------------
# Models: metrics, selection, tuning, costs
# --------------------------------------------------------------------------------------------------


def model_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """The rows of a metrics table that describe models themselves (not differences)."""
    return metrics.loc[metrics["baseline"].isna()]


def metrics_table(metrics: pd.DataFrame, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Models × metrics, each cell "estimate (±90% MOE)"; undefined metrics say so."""
    rows = model_rows(metrics)
    names = list(names) if names is not None else list(dict.fromkeys(rows["metric"]))
    table = []
    for model in dict.fromkeys(rows["model"]):
        record = {"Model": label_of(model, MODEL_LABELS)}
        for name in names:
            hit = rows.loc[(rows["model"] == model) & (rows["metric"] == name)]
            if hit.empty:
                record[label_of(name, METRIC_LABELS)] = MISSING
                continue
            row = hit.iloc[0]
            kind = METRIC_KINDS.get(name, "number")
            record[label_of(name, METRIC_LABELS)] = fmt_moe(row["estimate"], row["moe90"], kind)
        table.append(record)
    return pd.DataFrame(table)


def differences_table(metrics: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Each model minus the baseline model, per metric, with the 90% interval and a verdict."""
    rows = metrics.loc[metrics["baseline"].notna() & metrics["metric"].isin(names)]
    table = []
    for _, row in rows.iterrows():
        kind = METRIC_KINDS.get(row["metric"], "number")
        low, high = row["estimate"] - row["moe90"], row["estimate"] + row["moe90"]
        spread = (fmt_change(low, kind), fmt_change(high, kind))
        table.append({
            "Model": label_of(row["model"], MODEL_LABELS),
            "Compared with": label_of(row["baseline"], MODEL_LABELS),
            "Metric": label_of(row["metric"], METRIC_LABELS),
            "Difference": fmt_change(row["estimate"], kind),
            "90% CI": f"{spread[0]} to {spread[1]}" if not _missing(row["moe90"]) else MISSING,
            "Distinguishable": "yes" if distinguishable(row["estimate"], row["se"]) else "no",
        })
    return pd.DataFrame(table)


def metric_plot(metrics: pd.DataFrame, names: Sequence[str]) -> p9.ggplot:
    """Test metrics of every model with 90% intervals, one panel per metric."""
    rows = model_rows(metrics)
    frame = rows.loc[rows["metric"].isin(names) & rows["estimate"].notna()].copy()
    models = [label_of(m, MODEL_LABELS) for m in dict.fromkeys(rows["model"])]
    frame["model_label"] = pd.Categorical(frame["model"].map(lambda m: label_of(m, MODEL_LABELS)),
                                          categories=models[::-1])
    frame["metric_label"] = pd.Categorical(frame["metric"].map(lambda m: label_of(m, METRIC_LABELS)),
                                           categories=[label_of(m, METRIC_LABELS) for m in names])
    frame["low"] = frame["estimate"] - frame["moe90"].fillna(0)
    frame["high"] = frame["estimate"] + frame["moe90"].fillna(0)
    return (
        p9.ggplot(frame, p9.aes(y="model_label"))
        + p9.geom_errorbarh(p9.aes(xmin="low", xmax="high"), height=0.3, color="#555555")
        + p9.geom_point(p9.aes(x="estimate"), size=2.6, color=PALETTE[0])
        + p9.facet_wrap("metric_label", scales="free_x")
        + p9.labs(x="Test-set estimate (90% confidence interval from replicate weights)", y="")
        + theme_report((8, 3.2))
    )


def choice_sentence(choice: ModelChoice) -> str:
    """The recommendation of :func:`policyml.model.selection.select_model` and its evidence, in words."""
    metric = label_of(choice.metric, METRIC_LABELS)
    best, baseline = label_of(choice.best, MODEL_LABELS), label_of(choice.baseline, MODEL_LABELS)
    if choice.best == choice.baseline:
        return (f"For the {TASK_LABELS[choice.task]}, the interpretable baseline, {baseline}, has the best test "
                f"{metric}; it is the recommended model.")
    gap = gap_sentence(f"The {metric} difference between {best} and {baseline}", choice.difference, choice.se,
                       "number")
    if choice.chosen == choice.best:
        return (f"For the {TASK_LABELS[choice.task]}, {best} has the best test {metric}. {gap} The gain is real "
                f"enough to justify the less interpretable model, paired with the explanations of Section 8.")
    return (f"For the {TASK_LABELS[choice.task]}, {best} has the best test {metric}, but {gap[0].lower() + gap[1:]} "
            f"With no demonstrable gain, the recommendation is the interpretable {baseline}, whose coefficients "
            f"can be published and checked.")


def metric_value(metrics: pd.DataFrame, model: str, metric: str, baseline: str | None = None) -> pd.Series:
    """One row of a metrics table (a model's metric, or its difference from ``baseline``)."""
    rows = metrics.loc[(metrics["model"] == model) & (metrics["metric"] == metric)]
    rows = rows.loc[rows["baseline"].isna()] if baseline is None else rows.loc[rows["baseline"] == baseline]
    if rows.empty:
        raise DataError(f"no {metric} row for model {model!r}" + (f" against {baseline!r}" if baseline else ""),
                        "rerun evaluate_models with this model")
    return rows.iloc[0]


def versus_baseline_sentence(metrics: pd.DataFrame, model: str, task: str) -> str:
    """A model's primary metric minus the baseline's, with its paired 90% interval, in words."""
    metric = PRIMARY_METRIC[task]
    rows = metrics.loc[(metrics["model"] == model) & metrics["baseline"].notna() & (metrics["metric"] == metric)]
    if rows.empty:
        return f"The {label_of(model, MODEL_LABELS)} has no comparison with the baseline for the {TASK_LABELS[task]}."
    row = rows.iloc[0]
    return gap_sentence(f"For the {TASK_LABELS[task]}, the {label_of(metric, METRIC_LABELS)} of the "
                        f"{label_of(model, MODEL_LABELS)} minus that of the {label_of(row['baseline'], MODEL_LABELS)}",
                        row["estimate"], row["se"], "number")


def beats_baseline(metrics: pd.DataFrame, model: str, task: str) -> bool:
    """True when ``model`` is better than the task's baseline on the primary metric, beyond sampling error."""
    metric = PRIMARY_METRIC[task]
    rows = metrics.loc[(metrics["model"] == model) & metrics["baseline"].notna() & (metrics["metric"] == metric)]
    if rows.empty:
        return False
    difference, se = rows["estimate"].iloc[0], rows["se"].iloc[0]
    better = difference < 0 if metric in LOWER_IS_BETTER else difference > 0
    return better and distinguishable(difference, se)


def calibration_plot(calibration: pd.DataFrame, task: str, models: Sequence[str] | None = None) -> p9.ggplot:
    """Mean prediction against the observed mean, per bin of the prediction, one line per model."""
    observed = "observed_rate" if task == "classification" else "mean_observed"
    frame = calibration.loc[calibration["mean_predicted"].notna() & calibration[observed].notna()].copy()
    if models is not None:
        frame = frame.loc[frame["model"].isin(models)]
    frame["Model"] = frame["model"].map(lambda m: label_of(m, MODEL_LABELS))
    low = float(min(frame["mean_predicted"].min(), frame[observed].min()))
    high = float(max(frame["mean_predicted"].max(), frame[observed].max()))
    axis = {"labels": label_percent()} if task == "classification" else {}
    what = "low-income rate" if task == "classification" else "log income"
    return (
        p9.ggplot(frame, p9.aes(x="mean_predicted", y=observed, color="Model"))
        + p9.annotate("segment", x=low, y=low, xend=high, yend=high, linetype="dashed", color="#999999")
        + p9.geom_line()
        + p9.geom_point(p9.aes(size="weight_share"), show_legend=False)
        + p9.scale_color_manual(values=PALETTE)
        + p9.scale_x_continuous(**axis)
        + p9.scale_y_continuous(**axis)
        + p9.labs(x=f"Mean predicted {what} (bin)", y=f"Observed {what} (weighted)", color="",
                  caption="Dashed line: perfect calibration. Point size: share of test households in the bin.")
        + theme_report((7.5, 5))
        + p9.theme(legend_position="right")
    )


def tuning_frame(tuning: pd.DataFrame, task: str) -> tuple[pd.DataFrame, list[str]]:
    """Long table of (hyperparameter, value, CV score) for numeric hyperparameters, and the
    hyperparameters left out of the picture (non-numeric values such as ``"sqrt"`` or None)."""
    start = list(tuning.columns).index("n_resources") + 1
    stop = list(tuning.columns).index("params")
    names = list(tuning.columns[start:stop])
    score = -tuning["mean_test_score"]  # scikit-learn maximises: scores are negated losses
    rounds = sorted(tuning["iteration"].unique())
    resources = tuning.groupby("iteration")["n_resources"].first()
    round_label = {i: f"round {k + 1}: {int(resources[i]):,} households" for k, i in enumerate(rounds)}
    rows, skipped = [], []
    for name in names:
        values = pd.to_numeric(tuning[name], errors="coerce")
        if values.notna().sum() < 2:
            skipped.append(name)
            continue
        if values.isna().any():
            skipped.append(f"{name} (candidates with a non-numeric value: {int(values.isna().sum())})")
        rows.append(pd.DataFrame({"hyperparameter": name.replace("model__", ""), "value": values, "score": score,
                                  "round": tuning["iteration"].map(round_label)}).dropna())
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["hyperparameter", "value", "score", "round"]), skipped


TUNING_SCORES = {"regression": "CV RMSE of log income (lower is better)",
                 "classification": "CV log loss (lower is better)"}


def tuning_plot(tuning: pd.DataFrame, task: str, model: str) -> p9.ggplot:
    """Each candidate's cross-validated score against each numeric hyperparameter, by halving round."""
    frame, skipped = tuning_frame(tuning, task)
    caption = ("Successive halving: every round keeps the best third of the candidates and gives them three times "
               "the data.")
    if skipped:
        caption += " Not drawn: " + "; ".join(skipped) + "."
    return (
        p9.ggplot(frame, p9.aes(x="value", y="score", color="round"))
        + p9.geom_point(size=2, alpha=0.8)
        + p9.facet_wrap("hyperparameter", scales="free_x")
        + p9.scale_color_manual(values=PALETTE)
        + p9.labs(x="Hyperparameter value", y=TUNING_SCORES[task], title=label_of(model, MODEL_LABELS), color="",
                  caption="\n".join(textwrap.wrap(caption, 110)))
        + theme_report((8, 4.8))
    )


def best_candidate(tuning: pd.DataFrame) -> dict[str, Any]:
    """The winning candidate's hyperparameters and its CV score (from the last round)."""
    last = tuning.loc[tuning["iteration"] == tuning["iteration"].max()]
    best = last.sort_values("rank_test_score").iloc[0]
    params = {k.replace("model__", ""): v for k, v in json.loads(best["params"]).items()}
    return {"params": params, "score": -float(best["mean_test_score"]), "candidates": int(len(tuning)),
            "rounds": int(tuning["iteration"].nunique()), "first_round": int((tuning["iteration"] == 0).sum())}


def model_costs(results: Results, task: str, models: Sequence[str]) -> pd.DataFrame:
    """Wall time, CPU time and peak memory of fitting (or tuning) each model, from Snakemake benchmarks."""
    rows = []
    for model in models:
        for stage in FIT_STAGES:
            if results.exists("benchmark", stage=stage, task=task, model=model):
                bench = results.read("benchmark", stage=stage, task=task, model=model).iloc[0]
                rows.append({"model": model, "stage": stage, "seconds": float(bench["s"]),
                             "cpu_seconds": float(bench.get("cpu_time", np.nan)),
                             "max_rss_mb": float(bench["max_rss"]) if str(bench["max_rss"]) != "-" else np.nan})
                break
        else:
            rows.append({"model": model, "stage": "not benchmarked", "seconds": np.nan, "cpu_seconds": np.nan,
                         "max_rss_mb": np.nan})
    return pd.DataFrame(rows)


def costs_table(costs: pd.DataFrame) -> pd.DataFrame:
    stage_labels = {"fit_model": "fit", "tune_model": "tune + fit", "fit_mlp": "train (gradient descent)"}
    return pd.DataFrame({
        "Model": costs["model"].map(lambda m: label_of(m, MODEL_LABELS)),
        "Step": costs["stage"].map(lambda s: stage_labels.get(s, s)),
        "Wall time (s)": costs["seconds"].map(lambda v: fmt_number(v, 1)),
        "CPU time (s)": costs["cpu_seconds"].map(lambda v: fmt_number(v, 1)),
        "Peak memory (MB)": costs["max_rss_mb"].map(fmt_number),
    })


def best_params_table(best: Mapping[tuple[str, str], Mapping[str, Any]]) -> pd.DataFrame:
    """The winning hyperparameters of each tuned model (from :func:`best_candidate`)."""
    def shown(value: Any) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    return pd.DataFrame([
        {"Task": task, "Model": label_of(model, MODEL_LABELS), "CV score": fmt_number(b["score"], 4),
         "Chosen settings": ", ".join(f"{k} = {shown(v)}" for k, v in b["params"].items())}
        for (task, model), b in best.items()])


def halving_sentence(best: Mapping[tuple[str, str], Mapping[str, Any]]) -> str:
    """How the successive-halving searches ran (from :func:`best_candidate` of each tuned model)."""
    if not best:
        return "No tuned model (random forest, boosted trees) was among this run's models, so there is nothing to tune."
    first = next(iter(best.values()))
    return (f"Each search started with {first['first_round']} random candidates and ran {first['rounds']} rounds "
            f"({first['candidates']} candidate fits per fold in all), scored by the weighted cross-validated RMSE of "
            "log income (regression) or log loss (classification).")


def tuning_cost_sentence(costs: pd.DataFrame, baseline: str) -> str:
    """CPU time of tuning the tree models against fitting the linear baseline."""
    cost = costs.set_index("model")["cpu_seconds"]
    if not cost.index.isin(["random_forest", "xgboost"]).any():
        return ("This run tuned no model; fitting the linear baseline took "
                f"{fmt_number(float(cost.get(baseline, math.nan)), 1)} CPU seconds.")
    tuned = float(cost[cost.index.isin(["random_forest", "xgboost"])].sum())
    linear = float(cost.get(baseline, math.nan))
    text = (f"Tuning the tree models took {fmt_number(tuned, 0)} CPU seconds for this state, against "
            f"{fmt_number(linear, 1)} for fitting the {label_of(baseline, MODEL_LABELS)}")
    if linear > 0:
        text += f": about {tuned / linear:.0f} times as much"
    return text + "."


# --------------------------------------------------------------------------------------------------
# Fairness
# --------------------------------------------------------------------------------------------------

AUDIT_GROUPINGS = ("race", "hispanic_origin", "sex", "age_band", "disability")


def fairness_frame(
    groups: pd.DataFrame, model: str, metric: str, groupings: Sequence[str] = AUDIT_GROUPINGS
) -> pd.DataFrame:
    """One model's per-group metric (overall rows left out), ready for :func:`group_estimate_plot`."""
    rows = groups.loc[(groups["model"] == model) & (groups["metric"] == metric)
                      & groups["group_variable"].isin(groupings) & (groups["group"] != OVERALL)].copy()
    rows.loc[rows["suppressed"].astype(bool), "estimate"] = np.nan
    rows["reliable"] = rows["reliable"].fillna(False).astype(bool)
    return rows


def overall_value(groups: pd.DataFrame, model: str, metric: str) -> float:
    rows = groups.loc[(groups["model"] == model) & (groups["metric"] == metric) & (groups["group"] == OVERALL)]
    return float(rows["estimate"].iloc[0]) if len(rows) else math.nan


def _short_reason(reason: Any, width: int = 80) -> str:
    if _missing(reason) or not str(reason):
        return ""
    text = str(reason).replace("fewer than min_n sample households in", "few sample households in")
    return textwrap.shorten(text, width, placeholder=" …")


def disparities_table(disparities: pd.DataFrame, model: str, metrics: Sequence[str],
                      groupings: Sequence[str] = (*AUDIT_GROUPINGS, f"race{CROSS}sex")) -> pd.DataFrame:
    """Largest-minus-smallest group value per grouping and metric, with 90% intervals."""
    rows = disparities.loc[(disparities["model"] == model) & disparities["metric"].isin(metrics)
                           & disparities["group_variable"].isin(groupings)]
    table = []
    for _, row in rows.iterrows():
        kind = METRIC_KINDS.get(row["metric"], "number")
        if _missing(row["difference"]):
            table.append({"Grouping": label_of(row["group_variable"], GROUP_LABELS),
                          "Metric": label_of(row["metric"], METRIC_LABELS), "Gap (90% MOE)": MISSING,
                          "Highest": MISSING, "Lowest": MISSING, "Distinguishable": "n/a",
                          "Note": _short_reason(row["reason"])})
            continue
        group_kind = "percent" if kind in ("percent", "points") else kind
        gap_kind = "points" if kind == "percent" else kind
        gap = fmt_moe(row["difference"], row["difference_moe90"], gap_kind)
        table.append({
            "Grouping": label_of(row["group_variable"], GROUP_LABELS),
            "Metric": label_of(row["metric"], METRIC_LABELS),
            "Gap (90% MOE)": gap,
            "Highest": f"{row['max_group']} ({fmt_value(row['max_estimate'], group_kind)})",
            "Lowest": f"{row['min_group']} ({fmt_value(row['min_estimate'], group_kind)})",
            "Distinguishable": "yes" if distinguishable(row["difference"], row["difference_se"]) else "no",
            "Note": "" if bool(row["reliable"]) else _short_reason(row["reason"]),
        })
    return pd.DataFrame(table)


def disparity_sentence(disparities: pd.DataFrame, model: str, metric: str, grouping: str) -> str:
    """Words for one disparity: which group is highest and lowest, the gap, and whether it is real."""
    rows = disparities.loc[(disparities["model"] == model) & (disparities["metric"] == metric)
                           & (disparities["group_variable"] == grouping)]
    what = f"{lower_first(label_of(metric, METRIC_LABELS))} by {group_text(grouping)}"
    if rows.empty or _missing(rows["difference"].iloc[0]):
        reason = rows["reason"].iloc[0] if len(rows) else "not computed"
        return f"The gap in {what} cannot be estimated here ({reason})."
    row = rows.iloc[0]
    kind = METRIC_KINDS.get(metric, "number")
    group_kind = "percent" if kind in ("percent", "points") else kind
    text = (f"The {what} ranges from {fmt_value(row['min_estimate'], group_kind)} ({row['min_group']}) to "
            f"{fmt_value(row['max_estimate'], group_kind)} ({row['max_group']}). ")
    text += gap_sentence("The gap", row["difference"], row["difference_se"], kind)
    if not bool(row["reliable"]):
        text += f" Read it with care: {_short_reason(row['reason'], 200)}."
    return text


def disparity_is_real(disparities: pd.DataFrame, model: str, metric: str, grouping: str) -> bool:
    """True when the group gap of ``metric`` is distinguishable from zero at the 90% level."""
    rows = disparities.loc[(disparities["model"] == model) & (disparities["metric"] == metric)
                           & (disparities["group_variable"] == grouping)]
    return bool(len(rows)) and distinguishable(rows["difference"].iloc[0], rows["difference_se"].iloc[0])


def suppressed_groups(table: pd.DataFrame, grouping_column: str = "group_variable") -> pd.DataFrame:
    """Groups suppressed or flagged unreliable for their sample size, with the reason."""
    flagged = table.loc[table["suppressed"].astype(bool) | table["reason"].fillna("").str.contains("sample")]
    return flagged[[grouping_column, "group", "n", "reason"]].drop_duplicates([grouping_column, "group"])


def overall_rows(mitigation: pd.DataFrame) -> pd.DataFrame:
    """The whole-test-set rows of the mitigation table (per-group rows, if any, left out)."""
    if "group" not in mitigation:
        return mitigation
    return mitigation.loc[mitigation["group"].isna() | (mitigation["group"] == OVERALL)]


def mitigation_table(mitigation: pd.DataFrame, metrics: Sequence[str] = (
        "accuracy", "false_negative_rate", "false_negative_rate_difference", "equalized_odds_difference"),
) -> pd.DataFrame:
    """Variants (rows) × metrics (columns), each "estimate (SE)"."""
    variant_labels = {"unmitigated": "Unmitigated", "threshold_optimizer": "Threshold optimizer",
                      "exponentiated_gradient": "Exponentiated gradient",
                      "with_protected": "Protected attributes as features"}
    table = []
    for (variant, base), rows in overall_rows(mitigation).groupby(["variant", "base_model"], sort=False):
        record = {"Variant": variant_labels.get(variant, variant), "Base model": label_of(base, MODEL_LABELS)}
        for name in metrics:
            hit = rows.loc[rows["metric"] == name]
            record[label_of(name, METRIC_LABELS)] = (
                fmt_se(hit["estimate"].iloc[0], hit["se"].iloc[0], METRIC_KINDS.get(name, "number"))
                if len(hit) else MISSING)
        table.append(record)
    return pd.DataFrame(table)


def mitigation_sentence(
    mitigation: pd.DataFrame, base_model: str, metric: str = "false_negative_rate_difference"
) -> str:
    """Did the threshold optimizer narrow the gap, and what did it cost in accuracy?"""
    def value(variant: str, name: str) -> tuple[float, float]:
        table = overall_rows(mitigation)
        rows = table.loc[(table["variant"] == variant) & (table["base_model"] == base_model)
                         & (table["metric"] == name)]
        return (float(rows["estimate"].iloc[0]), float(rows["se"].iloc[0])) if len(rows) else (math.nan, math.nan)

    before, before_se = value("unmitigated", metric)
    after, after_se = value("threshold_optimizer", metric)
    if _missing(before) or _missing(after):
        return (f"The mitigation comparison has no {lower_first(label_of(metric, METRIC_LABELS))} for "
                f"{label_of(base_model, MODEL_LABELS)}.")
    acc_before, _ = value("unmitigated", "accuracy")
    acc_after, _ = value("threshold_optimizer", "accuracy")
    overlap = abs(before - after) <= Z90 * (before_se + after_se)
    sensitive = mitigation["sensitive_feature"].dropna()
    sensitive = group_text(sensitive.iloc[0]) if len(sensitive) else "the sensitive attribute"
    direction = "narrow" if after < before else "widen"
    text = (f"For {label_of(base_model, MODEL_LABELS)}, group-specific thresholds {direction} the "
            f"{lower_first(label_of(metric, METRIC_LABELS))} by {sensitive} from {fmt_points(before)} "
            f"(SE {fmt_points(before_se)}) "
            f"to {fmt_points(after)} (SE {fmt_points(after_se)})")
    text += (", but the two 90% intervals overlap, so this sample cannot show the change is real" if overlap
             else ", a change larger than the sampling error")
    if not (_missing(acc_before) or _missing(acc_after)):
        text += f"; accuracy moves from {fmt_percent(acc_before)} to {fmt_percent(acc_after)}"
    return text + "."


def sensitive_feature(mitigation: pd.DataFrame, default: str = "hispanic_origin") -> str:
    """The protected attribute the mitigation comparison targeted (from its file)."""
    values = mitigation["sensitive_feature"].dropna() if "sensitive_feature" in mitigation else pd.Series(dtype=str)
    return str(values.iloc[0]) if len(values) else default


# --------------------------------------------------------------------------------------------------
# Explanations
# --------------------------------------------------------------------------------------------------


def importance_plot(
    importance: pd.DataFrame, method: str, models: Sequence[str] | None = None, top: int = 10
) -> p9.ggplot:
    """Weighted feature importance (``method`` "shap" or "permutation") with ±1.645 SE bars, per model."""
    frame = importance.loc[importance["method"] == method].copy()
    if models is not None:
        frame = frame.loc[frame["model"].isin(models)]
    frame = frame.loc[frame["rank"] <= top]
    if frame.empty:
        raise DataError(f"no {method} importances to plot", "rerun explain_models")
    frame["Model"] = frame["model"].map(lambda m: label_of(m, MODEL_LABELS))
    frame["label"] = frame["feature"].map(lambda f: short_label(f.replace("_", " "), 34))
    order = (frame.groupby("label")["importance"].mean().sort_values().index.tolist())
    frame["label"] = pd.Categorical(frame["label"], categories=order)
    frame["low"] = frame["importance"] - Z90 * frame["se"].fillna(0)
    frame["high"] = frame["importance"] + Z90 * frame["se"].fillna(0)
    metric = "; ".join(dict.fromkeys(frame["metric"].astype(str)))
    return (
        p9.ggplot(frame, p9.aes(y="label"))
        + p9.geom_segment(p9.aes(x=0, xend="importance", yend="label"), color=PALETTE[0], size=2.5, alpha=0.6)
        + p9.geom_errorbarh(p9.aes(xmin="low", xmax="high"), height=0.3, color="#333333")
        + p9.geom_point(p9.aes(x="importance"), color=PALETTE[0], size=2)
        + p9.facet_wrap("Model", scales="free_x")
        + p9.labs(x=metric, y="", caption="Bars: survey-weighted importance on test households; whiskers: 90% "
                                          "intervals (replicate weights).")
        + theme_report((8.5, 0.9 + 0.32 * frame["label"].nunique() + 0.8))
    )


def shap_beeswarm(shap: pd.DataFrame, model: str, seed: int = 0) -> p9.ggplot:
    """Every sampled household's SHAP value per feature, coloured by the feature's value (rank)."""
    frame = shap.loc[shap["model"] == model].copy()
    if frame.empty:
        raise DataError(f"no SHAP values for model {model!r}", "rerun explain_models")
    order = frame.assign(a=frame["shap"].abs() * frame["weight"]).groupby("feature")["a"].sum().sort_values().index
    frame["feature_label"] = pd.Categorical(frame["feature"].map(lambda f: short_label(f.replace("_", " "), 34)),
                                            categories=[short_label(f.replace("_", " "), 34) for f in order])
    frame["value_rank"] = frame.groupby("feature")["value"].rank(pct=True)
    numeric, categorical = frame.loc[frame["value_rank"].notna()], frame.loc[frame["value_rank"].isna()]
    jitter = p9.position_jitter(width=0, height=0.25, random_state=seed)
    plot = (
        p9.ggplot(frame, p9.aes(x="shap", y="feature_label"))
        + p9.geom_vline(xintercept=0, color="#999999")
        + p9.geom_point(categorical, color="#9e9e9e", size=0.8, alpha=0.5, position=jitter)
        + p9.geom_point(numeric, p9.aes(color="value_rank"), size=0.8, alpha=0.6, position=jitter)
        + p9.scale_color_gradient(low=PALETTE[0], high=PALETTE[1], name="Feature value\n(percentile)",
                                  labels=label_percent())
        + p9.labs(x="SHAP value (contribution to the prediction)", y="",
                  title=label_of(model, MODEL_LABELS),
                  caption="Grey: categorical features (no order to colour by).")
        + theme_report((8, 0.9 + 0.38 * frame["feature"].nunique() + 0.8))
        + p9.theme(legend_position="right")
    )
    return plot


def shap_dependence(shap: pd.DataFrame, model: str, feature: str) -> p9.ggplot:
    """SHAP value against the feature's value for one numeric feature."""
    frame = shap.loc[(shap["model"] == model) & (shap["feature"] == feature) & shap["value"].notna()]
    if frame.empty:
        raise DataError(f"no numeric SHAP values of {feature!r} for {model!r}", "pick a numeric feature")
    return (
        p9.ggplot(frame, p9.aes(x="value", y="shap"))
        + p9.geom_hline(yintercept=0, color="#999999")
        + p9.geom_jitter(p9.aes(size="weight"), width=0.15, height=0, alpha=0.35, color=PALETTE[0],
                         random_state=0, show_legend=False)
        + p9.scale_size_continuous(range=(0.4, 2.5))
        + p9.labs(x=feature.replace("_", " "), y="SHAP value",
                  title=f"{label_of(model, MODEL_LABELS)}: {feature.replace('_', ' ')}",
                  caption="Point size: survey weight of the household.")
        + theme_report((7, 4))
    )


def top_numeric_feature(shap: pd.DataFrame, model: str) -> str | None:
    frame = shap.loc[(shap["model"] == model) & shap["value"].notna()]
    plain = frame.loc[~frame["feature"].str.contains("_x_", regex=False)]
    frame = plain if len(plain) else frame
    if frame.empty:
        return None
    return frame.assign(a=frame["shap"].abs() * frame["weight"]).groupby("feature")["a"].sum().idxmax()


def shap_model(shap: pd.DataFrame, preferred: Sequence[str] = ("xgboost", "random_forest")) -> str | None:
    """The tree model whose SHAP values the report shows (None when the run explained no tree model)."""
    models = list(dict.fromkeys(shap["model"])) if len(shap) else []
    for model in preferred:
        if model in models:
            return model
    return models[0] if models else None


def top_features(importance: pd.DataFrame, model: str, method: str, count: int) -> list[str]:
    rows = importance.loc[(importance["model"] == model) & (importance["method"] == method)]
    return rows.sort_values("rank")["feature"].head(count).tolist()


def importance_table(importance: pd.DataFrame, model: str, method: str, top: int = 8) -> pd.DataFrame:
    rows = importance.loc[(importance["model"] == model) & (importance["method"] == method)]
    rows = rows.sort_values("rank").head(top)
    return pd.DataFrame({
        "Rank": rows["rank"].map(lambda r: fmt_number(r)),
        "Feature": rows["description"].fillna(rows["feature"]).astype(str)
                   .str.split(" (interaction column", regex=False).str[0],
        "Importance (90% MOE)": [fmt_moe(v, Z90 * s, "number") for v, s in zip(rows["importance"], rows["se"])],
    })


def shap_groups_table(shap_groups: pd.DataFrame, model: str, grouping: str, features: Sequence[str]) -> pd.DataFrame:
    """Mean |SHAP| of a few features by group: does the model lean on different features for different groups?"""
    rows = shap_groups.loc[(shap_groups["model"] == model) & (shap_groups["group_variable"] == grouping)
                           & shap_groups["feature"].isin(features)]
    table = []
    for group, part in rows.groupby("group", sort=False):
        record = {"Group": group, "n": fmt_number(part["n"].iloc[0])}
        for feature in features:
            hit = part.loc[part["feature"] == feature]
            if hit.empty or bool(hit["suppressed"].iloc[0]):
                record[feature.replace("_", " ")] = "suppressed" if len(hit) else MISSING
                continue
            text = fmt_se(hit["mean_abs_shap"].iloc[0], hit["se"].iloc[0], "number")
            record[feature.replace("_", " ")] = text + ("" if bool(hit["reliable"].iloc[0]) else " †")
        table.append(record)
    return pd.DataFrame(table)


# --------------------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------------------

MEASURE_KINDS = {"median_income": "dollars", "low_income_share": "percent"}
MEASURE_LABELS = {"median_income": "Median predicted income", "low_income_share": "Expected low-income share"}


def scenario_overall(scenarios: pd.DataFrame) -> pd.DataFrame:
    return scenarios.loc[scenarios["group"] == OVERALL]


def scenarios_table(scenarios: pd.DataFrame) -> pd.DataFrame:
    """Overall effect of each scenario on each measure: status quo, scenario, change (90% CI)."""
    table = []
    for _, row in scenario_overall(scenarios).iterrows():
        kind = MEASURE_KINDS.get(row["measure"], "number")
        change = fmt_change(row["change"], kind)
        spread = Z90 * row["change_se"]
        change += f" (±{_fmt_spread(spread, kind, None)})" if not _missing(spread) else ""
        table.append({
            "Scenario": row["description"],
            "Measure": MEASURE_LABELS.get(row["measure"], row["measure"]),
            "Status quo": fmt_se(row["status_quo"], row["status_quo_se"], kind),
            "With scenario": fmt_se(row["scenario_value"], row["scenario_se"], kind),
            "Change (90% MOE)": change,
            "Households affected": fmt_percent(row["households_affected_share"]),
        })
    return pd.DataFrame(table)


def scenario_plot(
    scenarios: pd.DataFrame, measure: str = "median_income", groupings: Sequence[str] = AUDIT_GROUPINGS
) -> p9.ggplot:
    """Change under each scenario by group, with 90% intervals."""
    rows = scenarios.loc[(scenarios["measure"] == measure) & scenarios["group_variable"].isin(groupings)
                         & (scenarios["group"] != OVERALL)].copy()
    rows.loc[rows["suppressed"].astype(bool), "change"] = np.nan
    rows = rows.loc[rows["change"].notna()]
    rows["low"] = rows["change"] - Z90 * rows["change_se"].fillna(0)
    rows["high"] = rows["change"] + Z90 * rows["change_se"].fillna(0)
    rows["label"] = pd.Categorical(rows["group"].map(short_label),
                                   categories=list(dict.fromkeys(rows["group"].map(short_label)))[::-1])
    panels = [label_of(g, GROUP_LABELS) for g in groupings if g in set(rows["group_variable"])]
    rows["panel"] = pd.Categorical(rows["group_variable"].map(lambda g: label_of(g, GROUP_LABELS)), categories=panels)
    rows["Scenario"] = rows["scenario"].str.replace("_", " ")
    kind = MEASURE_KINDS.get(measure, "number")
    axis = dollars_axis() if kind == "dollars" else {"labels": label_percent()}
    dodge = p9.position_dodge(width=0.6)
    n_rows = rows.groupby("panel")["label"].nunique().sum()
    return (
        p9.ggplot(rows, p9.aes(x="label", y="change", color="Scenario"))
        + p9.geom_hline(yintercept=0, color="#999999")
        + p9.geom_errorbar(p9.aes(ymin="low", ymax="high"), width=0.3, position=dodge)
        + p9.geom_point(position=dodge, size=2)
        + p9.coord_flip()
        + p9.facet_wrap("panel", scales="free_y", ncol=1)
        + p9.scale_color_manual(values=PALETTE)
        + p9.scale_y_continuous(**axis)
        + p9.labs(x="", y=f"Change in {MEASURE_LABELS.get(measure, measure).lower()} (90% CI)",
                  caption="Groups with fewer than 10 sample households are not drawn.")
        + theme_report((7.5, min(2.0 + 0.34 * max(n_rows, 1), 14)))
    )


def scenario_sentence(scenarios: pd.DataFrame, measure: str = "low_income_share") -> str:
    """The scenario that moves ``measure`` the most overall, its change and the share of households touched."""
    overall = scenario_overall(scenarios)
    overall = overall.loc[(overall["measure"] == measure) & overall["change"].notna()]
    if overall.empty:
        return "This run has no scenario results to summarise."
    largest = overall.loc[overall["change"].abs().idxmax()]
    kind = MEASURE_KINDS.get(measure, "number")
    return (f"Of the scenarios, *{lower_first(str(largest['description']))}* moves the "
            f"{MEASURE_LABELS.get(measure, measure).lower()} the most: "
            + gap_sentence("the predicted change", largest["change"], largest["change_se"], kind)
            + f" It touches {fmt_percent(largest['households_affected_share'])} of households.")


# --------------------------------------------------------------------------------------------------
# The neural network walk-through (the lecture's numbers, computed with policyml.nn)
# --------------------------------------------------------------------------------------------------

LECTURE_WEIGHTS = (0.36, 0.48, 0.42)
LECTURE_BIAS = 0.10
LECTURE_INPUTS = (1.0, 2.0, 3.0)


def worked_neuron(weights: Sequence[float] = LECTURE_WEIGHTS, bias: float = LECTURE_BIAS,
                  inputs: Sequence[float] = LECTURE_INPUTS) -> dict[str, Any]:
    """The lecture's neuron through :class:`policyml.nn.Dense` and :class:`policyml.nn.Sigmoid`.

    Returns the products ``w_i x_i``, the pre-activation ``z = sum w_i x_i + b`` and the output
    ``sigmoid(z)``.
    """
    layer = nn.Dense(len(weights), 1, rng=np.random.default_rng(0), dtype=np.float64)
    layer.W.value[:, 0] = weights
    layer.b.value[:] = bias
    x = np.asarray(inputs, dtype=np.float64).reshape(1, -1)
    z = float(layer(x)[0, 0])
    return {"products": [w * v for w, v in zip(weights, inputs)], "bias": bias, "z": z,
            "output": float(nn.Sigmoid()(np.array([[z]]))[0, 0])}


def lecture_network(n_inputs: int = 5, hidden: int = 5) -> dict[str, Any]:
    """The lecture's 5-5-1 network built with policyml.nn: parameters per layer and the cost counts."""
    net = nn.Sequential(nn.Dense(n_inputs, hidden, rng=np.random.default_rng(0)), nn.Sigmoid(),
                        nn.Dense(hidden, 1, rng=np.random.default_rng(1)))
    layers = [layer.n_parameters() for layer in net if isinstance(layer, nn.Dense)]
    return {"layers": layers, "total": net.n_parameters(), "cost": nn.cost_per_example(net), "repr": repr(net)}


def backprop_step(learning_rate: float = 0.5, target: float = 1.0, seed: int = 2025) -> dict[str, Any]:
    """One gradient-descent step on the lecture's 3-2-1-1 network (its backpropagation equations).

    Forward pass, MSE loss, backward pass (``policyml.nn``), the gradient of the first weight
    ``w_11^0`` checked by a central finite difference, then ``w := w - lr * dL/dw`` for every
    parameter and the loss again.
    """
    rng = np.random.default_rng(seed)
    net = nn.Sequential(nn.Dense(3, 2, rng=rng, dtype=np.float64), nn.Sigmoid(),
                        nn.Dense(2, 1, rng=rng, dtype=np.float64), nn.Sigmoid(),
                        nn.Dense(1, 1, rng=rng, dtype=np.float64), nn.Sigmoid())
    x = np.asarray([LECTURE_INPUTS], dtype=np.float64)
    y = np.asarray([[target]])
    loss = nn.MSELoss()

    def evaluate() -> float:
        return loss.forward(net.forward(x), y)

    before = evaluate()
    net.zero_grad()
    net.backward(loss.backward())
    first = net[0].W
    gradient = float(first.grad[0, 0])
    step = 1e-6
    original = float(first.value[0, 0])
    first.value[0, 0] = original + step
    up = evaluate()
    first.value[0, 0] = original - step
    down = evaluate()
    first.value[0, 0] = original
    numeric = (up - down) / (2 * step)
    prediction = float(net.forward(x)[0, 0])
    for parameter in net.parameters():
        parameter.value -= learning_rate * parameter.grad
    after = evaluate()
    return {"prediction": prediction, "loss_before": before, "gradient": gradient, "numeric_gradient": numeric,
            "weight_before": original, "weight_after": float(first.value[0, 0]), "loss_after": after,
            "learning_rate": learning_rate, "target": target}


def mlp_history_plot(history: pd.DataFrame, architecture: Mapping[str, Any], task: str) -> p9.ggplot:
    """Training and validation loss per epoch (log scale), the kept epoch marked."""
    frame = history.melt(id_vars="epoch", value_vars=["train_loss", "val_loss"], var_name="set", value_name="loss")
    frame = frame.loc[frame["loss"] > 0]
    frame["set"] = frame["set"].map({"train_loss": "training", "val_loss": "validation"})
    best = architecture.get("best_epoch")
    loss_name = "MSE of log income" if task == "regression" else "log loss"
    plot = (
        p9.ggplot(frame, p9.aes(x="epoch", y="loss", color="set"))
        + p9.geom_line(size=0.9)
        + p9.scale_y_log10()
        + p9.scale_color_manual(values=PALETTE[:2])
        + p9.labs(x="Epoch (one pass over the training households)", y=f"{loss_name} (log scale)", color="",
                  title=label_of(task, TASK_LABELS).capitalize())
        + theme_report((7, 3.8))
    )
    if best is not None:
        plot += p9.geom_vline(xintercept=best, linetype="dashed", color="#555555")
        plot += p9.annotate("text", x=best, y=float(frame["loss"].max()), label=f" kept: epoch {best}", ha="left",
                            va="top", size=8, color="#555555")
    return plot


def training_arithmetic(architecture: Mapping[str, Any], rows: int) -> dict[str, float]:
    """The lecture's "how many calculations?" for our MLP: per example, per epoch, for the whole run."""
    cost = architecture["cost_per_example"]["total"]
    epochs = architecture.get("epochs_run", architecture.get("settings", {}).get("epochs", 0))
    return {"per_example": cost, "rows": rows, "epochs": epochs, "total": float(cost) * rows * epochs}


def mlp_sentence(architecture: Mapping[str, Any], training_rows: int) -> str:
    """The network's size and training run in words (the validation slice is taken from ``training_rows``)."""
    settings = architecture.get("settings", {})
    rows = round(training_rows * (1 - settings.get("validation_fraction", 0.0)))
    arithmetic = training_arithmetic(architecture, rows)
    hidden = list_text([str(size) for size in settings.get("hidden_layer_sizes", [])]) or "no"
    stopped = "stopped early" if architecture.get("stopped_early") else "all epochs"
    return (f"The income network has {architecture['n_inputs']} inputs (the one-hot coded features), {hidden} hidden "
            f"{settings.get('activation', '')} neurons and one output: **{fmt_number(architecture['n_parameters'])} "
            "parameters**, trained by `policyml.nn`, our NumPy gradient-descent core. It ran "
            f"{arithmetic['epochs']} epochs (best at epoch {architecture.get('best_epoch')}, {stopped}) over about "
            f"{fmt_number(rows)} training households: {fmt_number(arithmetic['per_example'])} multiply-adds per "
            f"household and pass, about {fmt_large(arithmetic['total'])} in all.")


def network_insight(metrics: Mapping[str, pd.DataFrame], architecture: Mapping[str, Any] | None) -> str:
    """The Policy Insight of the network walk-through, worded for what the run's network achieved."""
    if architecture is None:
        return ("This run did not train the network, and nothing was lost by that unless a network would have beaten "
                "the linear baseline clearly. Even a small network has thousands of parameters, none of which means "
                "anything on its own; large language models have billions. Treating such a model as a black box is a "
                "choice: it can be audited like any other, for error by group, calibration and drift.")
    better = [TASK_LABELS[task] for task in metrics if beats_baseline(metrics[task], "mlp", task)]
    text = (f"Even this small network has {fmt_number(architecture['n_parameters'])} parameters and no single one "
            "means anything on its own; large language models have billions. ")
    if better:
        text += (f"Here the network beats the linear baseline for the {list_text(better)}: that gain has to be "
                 "weighed against the loss of explainability, and the network audited like any other model, for "
                 "error by group, calibration and drift.")
    else:
        text += ("Here it does not beat the linear baseline beyond sampling error on either task, so the linear "
                 "model's transparency wins; a network that did better would still have to be audited like any other "
                 "model, for error by group, calibration and drift.")
    return text + " Treating it as a black box is a choice, not a necessity."


# --------------------------------------------------------------------------------------------------
# Packages
# --------------------------------------------------------------------------------------------------

PACKAGES = {
    "pandas": "tables of households, joins and group summaries",
    "scikit-learn": "pipelines, linear models, random forests, successive-halving tuning",
    "xgboost-cpu": "gradient-boosted trees (the xgboost module without GPU libraries)",
    "fairlearn": "per-group metrics (MetricFrame) and bias mitigation",
    "shap": "SHAP values: how much each feature moves each prediction",
    "geopandas": "PUMA boundaries and maps",
    "plotnine": "the figures (a grammar of graphics, like R's ggplot2)",
    "snakemake": "the reproducible workflow that produced every file this report reads",
    "numpy": "our own neural-network core (policyml.nn) and the survey estimators",
}


def package_table() -> pd.DataFrame:
    """The packages the analysis uses, their installed versions and what they do here."""
    from importlib.metadata import PackageNotFoundError, version

    rows = []
    for name, role in PACKAGES.items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        rows.append({"Package": name, "Version": installed, "Used for": role})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# Small facts the prose quotes
# --------------------------------------------------------------------------------------------------


def weighted_share(households: pd.DataFrame, condition: Any, estimates: Mapping[str, Any] | None = None) -> Estimate:
    """Weighted share of households where ``condition`` holds (NaN entries excluded), with its SE."""
    return _design(households, estimates).proportion(condition)


def low_income_threshold(spec: Mapping[str, Any], households: pd.DataFrame, features: pd.DataFrame) -> float:
    """The low-income line (percent of poverty) the run used.

    Read from the feature spec record when it carries ``low_income_threshold``; otherwise the
    smallest income-to-poverty ratio (POVPIP) among households the run did not flag low-income,
    which is the threshold up to the 1-point resolution of POVPIP.
    """
    for record in (spec, spec.get("target_settings", {}), spec.get("targets", {})):
        if isinstance(record, Mapping) and "low_income_threshold" in record:
            return float(record["low_income_threshold"])
    ratio = households.set_index("SERIALNO")["POVPIP"]
    flags = features.set_index("SERIALNO")["low_income"]
    not_low = ratio.reindex(flags.index)[flags == 0]
    if not_low.dropna().empty:
        raise DataError("no household is above the low-income line, so the line cannot be read off the data",
                        "record low_income_threshold in feature_spec.json (rerun build_features)")
    return float(not_low.min())


def low_income_flag(households: pd.DataFrame, threshold: float) -> pd.Series:
    """1.0 below ``threshold`` percent of poverty, 0.0 above, NaN without a poverty ratio (as the target)."""
    return build_targets(households, {"nonpositive_income": "drop", "income_floor": 1000,
                                      "low_income_threshold": threshold})["low_income"]


def adjinc_factor(persons: pd.DataFrame) -> float:
    """The ADJINC income adjustment factor of a one-year file (as a multiplier, e.g. 1.013097)."""
    values = pd.to_numeric(persons["ADJINC"], errors="coerce").dropna().unique()
    if len(values) == 0:
        raise DataError("the person file has no ADJINC values", "rerun fetch_persons")
    factor = float(values[0])
    return factor / 1_000_000 if factor > 100 else factor


def headline_table(summary: Mapping[str, Any]) -> pd.DataFrame:
    """The headline estimates of data_summary.json with their uncertainty, and the published figure."""
    households, median, mean = (summary["households"], summary["median_household_income"],
                                summary["mean_household_income"])
    published = summary["published_median_household_income"]
    rows = [
        ("Sample households (unweighted)", fmt_number(households["sample"]), "", ""),
        ("Households (weighted total)", fmt_number(households["weighted"]["estimate"]),
         fmt_number(households["weighted"]["moe90"]), fmt_percent(households["weighted"]["cv"])),
        ("Median household income", fmt_dollars(median["estimate"]), fmt_dollars(median["moe90"]),
         fmt_percent(median["cv"])),
        ("Mean household income", fmt_dollars(mean["estimate"]), fmt_dollars(mean["moe90"]), fmt_percent(mean["cv"])),
    ]
    if published.get("estimate") is not None:
        rows.append((f"Published median ({published.get('table', 'B19013')})", fmt_dollars(published["estimate"]),
                     fmt_dollars(published.get("moe90")), MISSING))
    return pd.DataFrame(rows, columns=["Estimate", "Value", "90% MOE (±)", "CV"])


def published_sentence(summary: Mapping[str, Any]) -> str:
    """How our median compares with the published table, worded for either outcome."""
    published, comparison = summary["published_median_household_income"], summary["comparison_with_published"]
    median = summary["median_household_income"]
    if published.get("estimate") is None:
        return (f"No published median household income is at hand for this state-year "
                f"({published.get('note') or 'no offline copy and no Census API key'}), so the check against the "
                "official table is skipped.")
    difference = comparison["difference"]
    text = (f"The Census Bureau's published median ({published.get('table', 'B19013')}) is "
            f"{fmt_moe(published['estimate'], published.get('moe90'), 'dollars')}; ours is "
            f"{fmt_dollars(abs(difference))} {'lower' if difference < 0 else 'higher'}, "
            f"{abs(comparison['difference_in_our_se']):.1f} of our standard errors. ")
    if comparison.get("within_two_se"):
        text += ("That is within two standard errors: the microdata reproduce the official figure as closely as "
                 "sampling error allows.")
    else:
        text += ("That is more than two standard errors, larger than sampling error alone explains: "
                 f"{comparison.get('note', 'check the household construction')}.")
    return text + f" (The median itself has a coefficient of variation of {fmt_percent(median['cv'])}.)"


def allocation_sentence(missing: pd.DataFrame, variable: str = "household_income",
                        groupings: Sequence[str] = ("race", "hispanic_origin", "sex", "age_band")) -> str:
    """Which reported groups have the highest and lowest allocation rates of ``variable``."""
    rows = missing.loc[(missing["variable"] == variable) & missing["group_variable"].isin(groupings)
                       & (missing["n"] >= SUPPRESS_BELOW) & missing["allocated_reliable"].astype(bool)]
    overall = missing.loc[(missing["variable"] == variable) & (missing["group_variable"] == "all")]
    if rows.empty or overall.empty:
        return "Allocation rates by group are too noisy to compare here."
    high, low = rows.loc[rows["share_allocated"].idxmax()], rows.loc[rows["share_allocated"].idxmin()]
    label = overall["label"].iloc[0]
    text = (f"Overall, the Census Bureau allocated (imputed) {label} for "
            f"{fmt_moe(overall['share_allocated'].iloc[0], overall['allocated_moe90'].iloc[0], 'percent')} "
            "of households. "
            f"Among groups with reliable estimates, the rate is highest for {high['group']} "
            f"({fmt_moe(high['share_allocated'], high['allocated_moe90'], 'percent')}, "
            f"by {group_text(high['group_variable'])}) "
            f"and lowest for {low['group']} ({fmt_moe(low['share_allocated'], low['allocated_moe90'], 'percent')}, "
            f"by {group_text(low['group_variable'])}). ")
    apart = (high["share_allocated"] - high["allocated_moe90"]) > (low["share_allocated"] + low["allocated_moe90"])
    text += ("Their 90% intervals do not overlap: imputation touches some groups more than others." if apart
             else "Their 90% intervals overlap, so this sample shows no clear difference in imputation between groups.")
    return text


def allocation_insight(missing: pd.DataFrame, variable: str = "household_income") -> str:
    """One sentence on whether imputation of ``variable`` falls unevenly on groups."""
    rows = missing.loc[(missing["variable"] == variable) & (missing["group_variable"] != "all")
                       & (missing["n"] >= SUPPRESS_BELOW) & missing["allocated_reliable"].astype(bool)]
    if len(rows) < 2:
        return "Imputation rates by group are too noisy here to say whether they differ."
    high, low = rows.loc[rows["share_allocated"].idxmax()], rows.loc[rows["share_allocated"].idxmin()]
    apart = (high["share_allocated"] - high["allocated_moe90"]) > (low["share_allocated"] + low["allocated_moe90"])
    if apart:
        return (f"Imputation is uneven: income was imputed for {fmt_percent(high['share_allocated'])} of "
                f"{high['group']} householders but {fmt_percent(low['share_allocated'])} of {low['group']} "
                "householders, so part of what a model learns about the first group comes from the imputation model.")
    return "Imputation rates do not differ measurably between groups here, which removes one source of uneven error."


def train_test_gap(representativeness: pd.DataFrame) -> pd.Series:
    """The group whose weighted share differs most between the training and test sets."""
    rows = representativeness.loc[representativeness["set"] == "all"].dropna(subset=["train_minus_test"])
    return rows.loc[rows["train_minus_test"].abs().idxmax()]


def split_counts(split: pd.DataFrame) -> dict[str, int]:
    counts = split["set"].value_counts()
    return {"train": int(counts.get("train", 0)), "test": int(counts.get("test", 0)),
            "folds": int(split.loc[split["set"] == "train", "fold"].nunique())}


def split_balance_sentence(representativeness: pd.DataFrame) -> str:
    """The group whose training and test shares differ most, judged against the test share's 90% margin."""
    gap = train_test_gap(representativeness)
    test = representativeness.loc[(representativeness["set"] == "test")
                                  & (representativeness["group_variable"] == gap["group_variable"])
                                  & (representativeness["group"] == gap["group"])]
    margin = Z90 * float(test["se"].iloc[0]) if len(test) else math.nan
    text = (f"The largest difference between the weighted training and test shares of any group is "
            f"{fmt_points(abs(gap['train_minus_test']))} ({group_text(gap['group_variable'])}: {gap['group']}), ")
    if _missing(margin) or abs(gap["train_minus_test"]) <= margin:
        return (text + f"within the test share's 90% margin (±{fmt_points(margin)}): the two parts describe the "
                "same population.")
    return (text + f"more than the test share's 90% margin (±{fmt_points(margin)}): read the test metrics for this "
            "group with some care.")


def group_gap(households: pd.DataFrame, variable: str, first: str, second: str,
              estimates: Mapping[str, Any] | None = None) -> Estimate | None:
    """Median income of ``first`` minus that of ``second`` (groups of a householder trait), or None
    when either group has fewer than ``SUPPRESS_BELOW`` sample households."""
    traits = householder_groups(households)
    one = (traits[variable] == first).fillna(False).to_numpy()
    two = (traits[variable] == second).fillna(False).to_numpy()
    if min(one.sum(), two.sum()) < SUPPRESS_BELOW:
        return None
    return domain_difference(households, one, two, estimates=estimates)


def puma_gap(
    households: pd.DataFrame, values: pd.DataFrame, estimates: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The highest and lowest PUMA medians (reliable PUMAs when there are two or more) and their gap."""
    pool = values.loc[values["median_income_reliable"].astype(bool)]
    pool = pool if len(pool) >= 2 else values
    high, low = pool.loc[pool["median_income"].idxmax()], pool.loc[pool["median_income"].idxmin()]
    pumas = households["puma"].astype(str)
    gap = domain_difference(households, (pumas == high["puma"]).to_numpy(), (pumas == low["puma"]).to_numpy(),
                            estimates=estimates)
    return {"high": high, "low": low, "gap": gap, "unreliable": int((~values["reliable"].astype(bool)).sum())}


def uncertainty_advice(fnr: Mapping[str, Any]) -> str:
    """How to say a miss rate to a policymaker: the estimate, its margin, and a natural frequency."""
    in_ten = round(10 * float(fnr["estimate"]))
    return (f"When communicating to policymakers, pair every headline with its uncertainty (\"the model misses about "
            f"{fmt_percent(fnr['estimate'], 0)} of eligible households, give or take {fmt_points(fnr['moe90'], 0)}\"), "
            f"use natural frequencies (\"about {in_ten} in 10\") rather than metrics jargon, and show which groups "
            "the errors fall on.")


# ------------------------------------------------------------------------------ run settings


def run_settings_text(settings: Mapping[str, Any]) -> str:
    """Where the run's data came from and how to reproduce it, from run_settings.json."""
    source = settings.get("source") or {}
    read = (f"The person file read was `{source['file']}` ({source['bytes']:,} bytes, sha256 "
            f"`{source['sha256'][:16]}…`), found at `{source['path']}`." if source.get("sha256")
            else "The run did not record which person file it read.")
    versions = settings.get("versions") or {}
    stack = ", ".join(f"{name} {version}" for name, version in versions.items() if version)
    return (f"{read} These are every setting of this run (`run_settings.json`, written by the rule "
            f"`record_run_settings` from `config/config.yaml`, its schema's defaults and the "
            f"command line). Rerunning with the same settings and the same file gives the same "
            f"numbers. Computed with {stack}.")


def run_settings_table(settings: Mapping[str, Any]) -> pd.DataFrame:
    """Every setting of the run as a two-column table (versions and the file read are in the text)."""
    shown = {k: v for k, v in settings.items() if k not in ("versions", "source")}
    return pd.DataFrame(settings_rows(shown), columns=["Setting", "Value"])
