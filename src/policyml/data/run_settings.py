"""The settings of one state-year run, written once: ``results/{state}/{year}/run_settings.json``.

The validated configuration (defaults from ``config/config.schema.yaml`` filled in) of the run,
for one state: the state, the survey period and its label, the person file read (with its
sha256), the seed, every threshold and option of every stage, and the versions of the packages
that computed it. The report and the index read the run's facts from here (never a module
constant in place of a setting); the rules get the same values through their params.

Nothing here depends on the time or the machine beyond what was read, so the same inputs give
the same file.
"""

from __future__ import annotations

import platform
from importlib import metadata
from typing import Any, Mapping

from ..core.period import SurveyPeriod
from ..core.states import resolve_state

#: config keys that ``period`` above already states
PERIOD_KEYS = ("year", "survey", "allow_experimental_2020")
#: the distributions whose versions a run records (the computation's own stack)
PACKAGES = ("policyml", "numpy", "scipy", "pandas", "pyarrow", "scikit-learn", "xgboost-cpu",
            "fairlearn", "shap", "geopandas", "plotnine", "snakemake")


def period_title(period: SurveyPeriod) -> str:
    """How the report names the data: ``2018 ACS 1-Year PUMS`` or ``2014–2018 ACS 5-Year PUMS``."""
    label = period.label.replace("-", "\u2013")
    return f"{label} ACS {period.survey} PUMS"


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def run_settings(config: Mapping[str, Any], state: str, source: Mapping[str, Any]) -> dict[str, Any]:
    """The run settings of ``state``: ``config`` is the validated run config (``RUN_CONFIG`` of the
    workflow), ``source`` the record of the person file read (``ingest.source_record``)."""
    resolved = resolve_state(state)
    period = SurveyPeriod(int(config["year"]), config["survey"])
    return {
        "state": {"postal": resolved.postal, "fips": resolved.fips, "name": resolved.name},
        "period": {"year": period.year, "survey": period.survey, "label": period.label,
                   "title": period_title(period), "puma_vintages": list(period.puma_vintages),
                   "experimental_2020_weights": period.experimental},
        "source": dict(source),
        **{key: value for key, value in config.items() if key not in PERIOD_KEYS},
        "versions": package_versions(),
    }


def settings_rows(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The settings as (setting, value) rows, dotted keys for nested values, for a table."""
    rows: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and value:
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping)
                                                               for v in value):
            for number, inner in enumerate(value):
                walk(f"{prefix}[{number}]", inner)
        else:
            rows.append((prefix, _shown(value)))

    walk("", settings)
    return rows


def _shown(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        if not value:
            return "(none)"
        return ", ".join(f"({_shown(v)})" if isinstance(v, (list, tuple)) else _shown(v)
                         for v in value)
    if isinstance(value, Mapping):
        return "(none)"
    return str(value)
