"""Per-state data summaries: headline household estimates and the missing-data table.

All weighted figures go through :mod:`policyml.core.survey` (successive difference replication).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..core.survey import SurveyDesign, reliability_options
from .published import PublishedEstimate

# variables whose missingness we report: canonical column -> readable name
MISSINGNESS_VARIABLES = {
    "AGEP": "age",
    "SEX": "sex",
    "RAC1P": "race",
    "HISP": "Hispanic origin",
    "SCHL": "educational attainment",
    "ESR": "employment status",
    "COW": "class of worker",
    "WKHP": "usual hours worked",
    "weeks_worked_band": "weeks worked",
    "OCCP": "occupation",
    "INDP": "industry",
    "DIS": "disability",
    "CIT": "citizenship",
    "ENG": "English ability",
    "MAR": "marital status",
    "household_income": "household income",
}
GROUP_VARIABLES = ("race", "hispanic_origin", "sex", "age_band")


def design_for(households: pd.DataFrame, estimates: dict | None = None) -> SurveyDesign:
    return SurveyDesign.from_frame(households, "WGTP", **reliability_options(estimates))


def compare_with_published(ours, published: PublishedEstimate) -> dict:
    """How far our estimate is from a published figure.

    ``within_two_se`` is the check the project promises: the published value lies within two of
    *our* standard errors. ``z`` scales the difference by the SE of the difference (both sampling
    errors; the PUMS is a subsample of the sample behind the published table, so this slightly
    overstates that SE) for readers who want a test statistic.
    """
    if published.estimate is None:
        return {"difference": None, "difference_in_our_se": None, "within_two_se": None,
                "difference_se": None, "z": None, "note": published.note}
    difference = ours.estimate - published.estimate
    difference_se = math.sqrt(ours.se**2 + (published.se or 0.0) ** 2)
    in_our_se = difference / ours.se if ours.se else math.inf
    return {
        "difference": difference,
        "difference_in_our_se": in_our_se,
        "within_two_se": abs(in_our_se) <= 2,
        "difference_se": difference_se,
        "z": difference / difference_se if difference_se else None,
        "note": "PUMS is a subsample of the ACS and published medians interpolate within income "
        "brackets, so a PUMS median differs a little from the published table",
    }


def data_summary(
    persons: pd.DataFrame, households: pd.DataFrame, published: PublishedEstimate, estimates: dict | None = None
) -> dict:
    design = design_for(households, estimates)
    median_income = design.median(households["household_income"])
    return {
        "state": households.attrs.get("state"),
        "year": households.attrs.get("year"),
        "survey": households.attrs.get("survey"),
        "persons": {
            "records": len(persons),
            "in_group_quarters": int(persons["is_group_quarters"].sum()),
            "weighted": int(persons["PWGTP"].sum()),
        },
        "households": {
            "sample": len(households),
            "weighted": design.total().to_dict(),
        },
        "household_income_source": households.attrs.get("household_income_source"),
        "median_household_income": median_income.to_dict(),
        "mean_household_income": design.mean(households["household_income"]).to_dict(),
        "published_median_household_income": published.to_dict(),
        "comparison_with_published": compare_with_published(median_income, published),
    }


def missingness_status(households: pd.DataFrame) -> dict[str, pd.Series]:
    """Per variable: 'not applicable' (blank by design), 'allocated' (imputed by the Census Bureau) or 'reported'."""
    status = {}
    for column in MISSINGNESS_VARIABLES:
        flag = households.get(f"alloc_{column}", pd.Series(False, index=households.index)).astype(bool)
        blank = households[column].isna()
        status[column] = pd.Series(
            np.select([blank, flag], ["not applicable", "allocated"], "reported"), index=households.index
        )
    return status


def missing_data_summary(households: pd.DataFrame, estimates: dict | None = None) -> pd.DataFrame:
    """Weighted shares of not-applicable, allocated and reported values, overall and by group.

    Every demographic group appears, an empty one with n = 0 and no estimate rather than dropped;
    small or noisy cells carry the survey module's reliability flag and reason.
    """
    design = design_for(households, estimates)
    status = missingness_status(households)
    groups = [("all", "All households", np.ones(len(households), dtype=bool))]
    for group_variable in GROUP_VARIABLES:
        column = households[group_variable]
        for level in column.cat.categories:
            groups.append((group_variable, str(level), (column == level).to_numpy()))
    rows = []
    for group_variable, group, mask in groups:
        n = int(mask.sum())
        domain = design.domain(mask, name=f"{group_variable}={group}") if n else None
        for column, readable in MISSINGNESS_VARIABLES.items():
            row = {"variable": column, "label": readable, "group_variable": group_variable, "group": group, "n": n}
            for kind in ("not applicable", "allocated", "reported"):
                key = kind.replace(" ", "_")
                if domain is None:
                    row |= {f"share_{key}": np.nan}
                    continue
                share = domain.proportion(status[column].to_numpy() == kind)
                row[f"share_{key}"] = share.estimate
                if kind == "allocated":
                    row |= {"allocated_se": share.se, "allocated_moe90": share.moe90,
                            "allocated_reliable": share.reliable, "allocated_reason": share.reason}
            if domain is None:
                row |= {"allocated_reliable": False, "allocated_reason": "no sample households in this group"}
            rows.append(row)
    return pd.DataFrame(rows)


def headline(summary: dict) -> str:
    """One line a user reads at the end of a run: households and median income, with uncertainty."""
    households, median = summary["households"], summary["median_household_income"]
    published = summary["published_median_household_income"]
    text = (
        f"{summary['state']} {summary['year']} {summary['survey']}: {households['sample']:,} sample households "
        f"representing {households['weighted']['estimate']:,.0f} (SE {households['weighted']['se']:,.0f}); "
        f"weighted median household income ${median['estimate']:,.0f} (SE ${median['se']:,.0f}, "
        f"90% MOE ±${median['moe90']:,.0f})"
    )
    if published["estimate"] is not None:
        text += f"; published {published['table']} ${published['estimate']:,.0f} (90% MOE ±${published['moe90']:,.0f})"
    return text
