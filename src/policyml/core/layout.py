"""Where a run's files go: one pattern per output, and the rule that writes it.

Every file of a state-year run lives under ``results/{state}/{year}/`` (``{year}`` is the period
label: ``2018``, or ``2014-2018`` for a 5-Year file). The rules (``workflow/rules/*.smk``), the
workflow's input functions, the report (:class:`policyml.report.reporting.Results`) and the index
page all take paths from :data:`OUTPUTS`, so a file is named in one place.

Wildcards: ``{unit}`` (households, acsincome), ``{task}``, ``{model}``, ``{stage}`` (the rule
whose benchmark it is). An output's ``defaults`` fill wildcards a reader need not give (the MLP's
history is the ``mlp`` model's).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import ConfigError

#: The folder of one state-year run, relative to the working directory.
STATE_YEAR = "results/{state}/{year}"
#: The page linking several state-years' reports.
INDEX = "results/index.html"


@dataclass(frozen=True)
class Output:
    """A file of a state-year run: its path under ``STATE_YEAR`` and the rule that writes it."""

    pattern: str
    rule: str
    defaults: Mapping[str, str] = field(default_factory=dict)


OUTPUTS: dict[str, Output] = {
    "persons": Output("persons.parquet", "fetch_persons"),
    "housing": Output("housing.parquet", "fetch_housing"),
    "households": Output("households.parquet", "build_households"),
    "data_summary": Output("data_summary.json", "summarize_data"),
    "run_settings": Output("run_settings.json", "record_run_settings"),
    "missing_data": Output("missing_data.csv", "summarize_missing_data"),
    "puma_estimates": Output("puma_estimates.csv", "estimate_pumas"),
    "report": Output("report.html", "render_report"),
    "features": Output("{unit}/features.parquet", "build_features"),
    "feature_spec": Output("{unit}/feature_spec.json", "build_features"),
    "split": Output("{unit}/split.parquet", "split_data"),
    "representativeness": Output("{unit}/representativeness.csv", "check_representativeness"),
    "model": Output("{unit}/models/{task}/{model}.skops", "fit_model, tune_model or fit_mlp"),
    "predictions": Output("{unit}/predictions/{task}/{model}.parquet",
                          "fit_model, tune_model or fit_mlp"),
    "tuning": Output("{unit}/tuning/{task}/{model}.csv", "tune_model"),
    "mlp_history": Output("{unit}/{model}/{task}_history.csv", "fit_mlp", {"model": "mlp"}),
    "mlp_architecture": Output("{unit}/{model}/{task}_architecture.json", "fit_mlp",
                               {"model": "mlp"}),
    "benchmark": Output("{unit}/benchmarks/{stage}/{task}/{model}.tsv", "{stage}"),
    "metrics": Output("{unit}/metrics/{task}.csv", "evaluate_models"),
    "calibration": Output("{unit}/metrics/{task}_calibration.csv", "evaluate_models"),
    "coefficients": Output("{unit}/coefficients/{task}.csv", "tabulate_coefficients"),
    "fairness_groups": Output("{unit}/fairness/{task}_groups.csv", "audit_fairness"),
    "fairness_disparities": Output("{unit}/fairness/{task}_disparities.csv", "audit_fairness"),
    "mitigation": Output("{unit}/fairness/{task}_mitigation.csv", "compare_mitigation",
                         {"task": "classification"}),
    "importance": Output("{unit}/explain/{task}_importance.csv", "explain_models"),
    "shap": Output("{unit}/explain/{task}_shap.parquet", "explain_models"),
    "shap_groups": Output("{unit}/explain/{task}_shap_groups.csv", "explain_models"),
    "scenarios": Output("{unit}/scenarios.csv", "run_scenarios", {"unit": "households"}),
}


def output(name: str) -> Output:
    try:
        return OUTPUTS[name]
    except KeyError:
        raise ConfigError(f"unknown output {name!r}", f"use one of {', '.join(OUTPUTS)}") from None


def _fill(pattern: str, values: Mapping[str, Any]) -> str:
    """``pattern`` with the wildcards named in ``values`` filled in; the others stay as they are."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m[1]]) if m[1] in values else m[0], pattern)


def rule_pattern(name: str, **fixed: Any) -> str:
    """The path of output ``name`` as a rule declares it, ``results/{state}/{year}/...`` with its
    wildcards, less those ``fixed`` here (e.g. ``stage="fit_model"``)."""
    return _fill(f"{STATE_YEAR}/{output(name).pattern}", fixed)


def relative(name: str, **wildcards: Any) -> str:
    """The path of output ``name`` inside a state-year folder, every wildcard filled (its defaults
    where not given); a missing one is a ConfigError naming it."""
    item = output(name)
    path = _fill(item.pattern, {**item.defaults, **wildcards})
    missing = re.findall(r"\{(\w+)\}", path)
    if missing:
        raise ConfigError(f"output {name!r} needs the wildcard {missing[0]!r}",
                          f"give it, e.g. {name}: {missing[0]}=...")
    return path


def state_year_path(name: str, state: str, year: Any, **wildcards: Any) -> str:
    """The path of output ``name`` of one state-year, from the working directory."""
    return f"{_fill(STATE_YEAR, {'state': state, 'year': year})}/{relative(name, **wildcards)}"
