"""The project's setup files agree with each other and with the README."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
# PyPI name -> conda-forge name where they differ
CONDA_NAMES = {"xgboost-cpu": "xgboost", "pypandoc_binary": "pypandoc"}
# conda-only additions: Quarto renders the report; pypandoc from conda-forge ships no pandoc binary
CONDA_EXTRAS = {"quarto", "pandoc"}
# packages the workflow driver and the tests need, not the rules' jobs
DRIVER_ONLY = {"snakemake", "snakemake-executor-plugin-slurm", "pytest", "selenium"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[]", requirement, maxsplit=1)[0].strip().lower()


def _conda_packages(path: Path) -> set[str]:
    spec = yaml.safe_load(path.read_text())
    return {_name(d) for d in spec["dependencies"] if isinstance(d, str)} - {"python", "pip"}


def test_packaging_environment_lists_pyproject_dependencies():
    """Check that environment.yml has exactly pyproject's packages (+ pytest) plus quarto and pandoc."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pip_names = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    expected = {CONDA_NAMES.get(n, n) for n in pip_names} | CONDA_EXTRAS
    assert _conda_packages(REPO / "environment.yml") == expected


def test_packaging_rule_env_mirrors_environment():
    """Check that the rules' conda env has the runtime packages of environment.yml."""
    runtime = _conda_packages(REPO / "environment.yml") - DRIVER_ONLY
    assert _conda_packages(REPO / "workflow" / "envs" / "policyml.yaml") == runtime


def test_packaging_ci_runs_the_readme_test_command():
    """Check that .ci/run calls the test command the README gives."""
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in readme and "make run" in readme
    assert re.search(r"^make test\b", ci, flags=re.MULTILINE)
