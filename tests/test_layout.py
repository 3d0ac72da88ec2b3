"""Tests for policyml.core.layout: every output path named once and used by rules, report and index."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policyml.core import layout
from policyml.core.errors import ConfigError

RULES = Path(__file__).resolve().parents[1] / "workflow" / "rules"


def test_layout_relative_fills_defaults_and_names_a_missing_wildcard():
    """Check that readers get the defaults (the MLP's history) and a clear error for a missing wildcard."""
    assert layout.relative("mlp_history", unit="households", task="regression") == \
        "households/mlp/regression_history.csv"
    assert layout.relative("mitigation", unit="households") == "households/fairness/classification_mitigation.csv"
    with pytest.raises(ConfigError, match="output 'metrics' needs the wildcard 'task'"):
        layout.relative("metrics", unit="households")
    with pytest.raises(ConfigError, match="unknown output 'metric'"):
        layout.relative("metric")


def test_layout_rule_pattern_keeps_wildcards_unless_fixed():
    """Check the path a rule declares: wildcards kept, the fixed ones filled."""
    assert layout.rule_pattern("metrics") == "results/{state}/{year}/{unit}/metrics/{task}.csv"
    assert layout.rule_pattern("benchmark", stage="tune_model") == \
        "results/{state}/{year}/{unit}/benchmarks/tune_model/{task}/{model}.tsv"
    assert layout.state_year_path("report", "NM", "2014-2018") == "results/NM/2014-2018/report.html"


def test_layout_every_output_is_declared_by_a_rule_through_the_layout():
    """Check that each output's path reaches the rules through output_path(...), never as a literal."""
    rules = "\n".join(path.read_text() for path in sorted(RULES.glob("*.smk")))
    for name in layout.OUTPUTS:
        assert f'output_path("{name}"' in rules, name
    # per-rule benchmark files are Snakemake's bookkeeping (benchmarks/rule_benchmarks.py globs them);
    # the fitting rules' ones, which the report reads, come from the layout too
    literals = [p for p in re.findall(r'"results/\{state\}[^"]*"', rules) if "/benchmarks/" not in p]
    assert literals == [], literals
