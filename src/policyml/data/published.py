"""Published ACS tables to check our PUMS estimates against (B19013: median household income).

Online the figure comes from the Census Data API through the ``census`` package (API key from the
``CENSUS_API_KEY`` environment variable, never from a file); offline from a CSV of the API's group
download kept in a mirror (``published/acs1_{year}_B19013_by_state.csv``, embedded for 2018).
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass

import pandas as pd

from ..core.config import API_KEY_VARIABLE, census_api_key
from ..core.errors import ConfigError, DataError
from ..core.period import ONE_YEAR, SurveyPeriod
from ..core.resources import Mirror
from ..core.states import State

log = logging.getLogger(__name__)

Z90 = 1.645


@dataclass(frozen=True)
class PublishedEstimate:
    table: str
    estimate: float | None
    moe90: float | None
    source: str
    note: str | None = None

    @property
    def se(self) -> float | None:
        return None if self.moe90 is None else self.moe90 / Z90

    def to_dict(self) -> dict:
        return asdict(self) | {"se": self.se}


def _offline_path(table: str, period: SurveyPeriod) -> str:
    dataset = "acs1" if period.survey == ONE_YEAR else "acs5"
    return f"published/{dataset}_{period.year}_{table}_by_state.csv"


def from_mirrors(table: str, state: State, period: SurveyPeriod, mirrors: list[Mirror]) -> PublishedEstimate | None:
    relpath = _offline_path(table, period)
    for mirror in mirrors:
        path = mirror.find(relpath)
        if path is None:
            continue
        frame = pd.read_csv(path, dtype={"state": str})
        row = frame.loc[frame["state"].str.zfill(2) == state.fips]
        if row.empty:
            raise DataError(f"{path} has no row for {state.name}", f"restore the original file {relpath}")
        estimate, moe = (float(row.iloc[0][f"{table}_001{k}"]) for k in ("E", "M"))
        return PublishedEstimate(table, estimate, moe, f"offline copy {relpath}")
    return None


def from_api(table: str, state: State, period: SurveyPeriod, api_key: str, session=None) -> PublishedEstimate:
    """Ask the Census Data API (``census`` package); ``session`` is a requests.Session to use."""
    from census import Census  # imported here: offline runs never need it

    client = Census(api_key, session=session)
    dataset = client.acs1 if period.survey == ONE_YEAR else client.acs5
    fields = (f"{table}_001E", f"{table}_001M")
    failure = None
    try:
        rows = dataset.state(fields, state.fips, year=period.year)
        if rows:
            estimate, moe = (float(rows[0][field]) for field in fields)
        else:
            failure = "the answer had no row"
    except Exception as error:  # network, key, API or malformed answers
        failure = type(error).__name__
    if failure is not None:
        # raised outside the except block so no chained exception (whose text may hold the
        # request URL with the key) travels with it
        raise DataError(
            f"the Census API did not return {table} for {state.name} {period.label} ({failure})",
            f"check the network and the {API_KEY_VARIABLE} key, or use published.source=offline",
        )
    return PublishedEstimate(table, estimate, moe, "Census Data API")


def published_estimate(
    table: str, state: State, period: SurveyPeriod, mirrors: list[Mirror], source: str = "auto",
    session=None,
) -> PublishedEstimate:
    """The published estimate for a state: API when asked or possible, else the offline copy.

    ``source``: ``offline`` (mirrors only), ``api`` (needs CENSUS_API_KEY), ``auto`` (the API when a
    key is set and it answers, else the offline copy). When neither has it, the estimate is None and
    ``note`` says why, so a summary still gets written.
    """
    api_key = census_api_key(source)
    if source in ("api", "auto") and api_key:
        try:
            return from_api(table, state, period, api_key, session)
        except DataError as error:
            if source == "api":
                raise
            log.warning("%s; falling back to the offline copy", error)
    offline = from_mirrors(table, state, period, mirrors)
    if offline is not None:
        return offline
    return PublishedEstimate(
        table, None, None, "unavailable",
        note=f"no offline copy of {table} for {period.survey} {period.label}; set {API_KEY_VARIABLE} to fetch it",
    )
