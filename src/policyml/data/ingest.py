"""The fetch stage: Census files for a state-year, from a mirror, the cache or the Census Bureau.

``load_persons`` returns the canonical person table (see :mod:`policyml.data.schema`); the data
dictionary of the year is fetched the same way and used to check and decode the columns.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..core.config import Settings
from ..core.errors import DataError
from ..core.period import ONE_YEAR, SurveyPeriod
from ..core.resources import PROJECT_ROOT, file_sha256
from ..core.states import State
from . import fetch
from .dictionary import DataDictionary
from .schema import read_housing, read_persons

log = logging.getLogger(__name__)

DICTIONARY_URL = "https://www2.census.gov/programs-surveys/acs/tech_docs/pums/data_dict/{name}"


def dictionary_name(period: SurveyPeriod) -> str:
    label = period.year if period.survey == ONE_YEAR else period.label
    return f"PUMS_Data_Dictionary_{label}.csv"


def _download_options(settings: Settings) -> dict:
    data = settings.data
    return {"timeout": (10, data["timeout_seconds"]), "retries": data["retries"]}


def load_dictionary(settings: Settings) -> DataDictionary:
    """The data dictionary of the run's survey period: mirrors, then cache, then download."""
    period = settings.period
    relpath = f"dictionary/{dictionary_name(period)}"
    for mirror in settings.mirrors():
        path = mirror.find(relpath)
        if path is not None:
            return DataDictionary.read(path, period.year)
    cached = fetch.cache_dir(settings.data["cache_dir"]) / relpath
    if not cached.is_file():
        if not settings.data["download"]:
            raise DataError(
                f"no {relpath} in the embedded data, the mirrors or {cached.parent}",
                "set data.download=true (needs internet) or add a mirror that holds it",
            )
        fetch.download(DICTIONARY_URL.format(name=dictionary_name(period)), cached, **_download_options(settings))
    try:
        return DataDictionary.read(cached, period.year)
    except DataError:
        cached.unlink(missing_ok=True)
        raise


def locate(settings: Settings, state: State, kind: str) -> Path:
    return fetch.locate_pums_zip(
        state, settings.period.year, settings.period.survey, kind,
        mirrors=settings.mirrors(),
        cache=fetch.cache_dir(settings.data["cache_dir"]),
        base_url=settings.data["base_url"],
        allow_download=settings.data["download"],
        **_download_options(settings),
    )


def source_record(path: Path) -> dict:
    """Which file was read: its name, where it was found (relative to the project when inside it),
    size and sha256, for the run's settings."""
    path = Path(path).resolve()
    try:
        where = str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        where = str(path)
    return {"file": path.name, "path": where, "bytes": path.stat().st_size,
            "sha256": file_sha256(path)}


def fetch_persons(settings: Settings, state: State,
                  dictionary: DataDictionary | None = None) -> tuple[pd.DataFrame, dict]:
    """The canonical person table of ``state`` and the :func:`source_record` of the file read."""
    dictionary = dictionary or load_dictionary(settings)
    path = locate(settings, state, "p")
    return read_persons(path, state, settings.period, dictionary), source_record(path)


def load_persons(settings: Settings, state: State, dictionary: DataDictionary | None = None) -> pd.DataFrame:
    return fetch_persons(settings, state, dictionary)[0]


def load_housing(settings: Settings, state: State) -> pd.DataFrame:
    return read_housing(locate(settings, state, "h"), state, settings.period)
