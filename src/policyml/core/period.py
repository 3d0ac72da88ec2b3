"""Survey periods: which PUMS releases policyml reads (a year, 1-Year or 5-Year) and how they are named.

``check_period`` refuses an unsupported year or survey, and the 2020 1-Year file's experimental
weights unless the user opts in, with one message naming the fix.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ConfigError

ONE_YEAR, FIVE_YEAR = "1-Year", "5-Year"
SURVEYS = (ONE_YEAR, FIVE_YEAR)
FIRST_YEAR = 2017  # first year with CSV data dictionaries and psam_* file names
LATEST_YEAR = 2024  # latest release this version knows; raise when the Census Bureau publishes more


@dataclass(frozen=True)
class SurveyPeriod:
    """One PUMS release: a survey year and 1-Year or 5-Year."""

    year: int
    survey: str = ONE_YEAR

    @property
    def label(self) -> str:
        """``2018`` for a 1-Year file, ``2014-2018`` for the 5-Year file ending in 2018."""
        return str(self.year) if self.survey == ONE_YEAR else f"{self.year - 4}-{self.year}"

    @property
    def experimental(self) -> bool:
        return self.year == 2020 and self.survey == ONE_YEAR

    @property
    def puma_vintages(self) -> tuple[int, ...]:
        first = self.year if self.survey == ONE_YEAR else self.year - 4
        return tuple(sorted({2010 if y < 2022 else 2020 for y in range(first, self.year + 1)}))


def check_period(year: int | str, survey: str = ONE_YEAR, allow_experimental: bool = False) -> SurveyPeriod:
    """Return the SurveyPeriod, or raise a ConfigError saying why it cannot be used."""
    if survey not in SURVEYS:
        raise ConfigError(f"unknown survey {survey!r}", f"use one of {', '.join(SURVEYS)}")
    try:
        year = int(year)
    except (TypeError, ValueError):
        raise ConfigError(f"year {year!r} is not a year", "give a four-digit survey year, e.g. year=2018") from None
    if not FIRST_YEAR <= year <= LATEST_YEAR:
        raise ConfigError(
            f"year {year} is not supported: policyml reads {survey} PUMS for {FIRST_YEAR}-{LATEST_YEAR}",
            f"choose a year from {FIRST_YEAR} to {LATEST_YEAR}" + (" (2018 is embedded offline)" if year < FIRST_YEAR else ""),
        )
    period = SurveyPeriod(year, survey)
    if period.experimental and not allow_experimental:
        raise ConfigError(
            "the 2020 1-Year PUMS uses experimental weights (the pandemic cut response rates) and is "
            "not comparable with other years",
            "use survey=5-Year or another year, or opt in with allow_experimental_2020=true",
        )
    return period
