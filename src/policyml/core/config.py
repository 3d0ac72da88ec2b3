"""The run configuration: validated against config/config.schema.yaml, then resolved.

``load_settings`` is called by the Snakefile before any job starts, so a bad state, year or value
stops the run with one line naming the problem and the fix.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from . import catalogue
from .errors import ConfigError
from .period import SurveyPeriod, check_period
from .resources import PROJECT_ROOT, Mirror, embedded
from .states import State, resolve_state

SCHEMA_PATH = PROJECT_ROOT / "config" / "config.schema.yaml"

API_KEY_VARIABLE = "CENSUS_API_KEY"


def census_api_key(source: str) -> str:
    """The Census API key from the environment ("" when unset); a ConfigError when
    ``published.source`` is ``api`` and there is none."""
    key = os.environ.get(API_KEY_VARIABLE, "").strip()
    if source == "api" and not key:
        raise ConfigError(
            f"published.source=api needs a Census API key in the environment variable {API_KEY_VARIABLE}",
            f"export {API_KEY_VARIABLE}=<your key> (free at api.census.gov/data/key_signup.html) "
            "or use published.source=offline",
        )
    return key


def _coerce(schema: dict, value: Any) -> Any:
    """Command-line values arrive as text inside nested --config dicts ("false", "30"): type them."""
    if not isinstance(value, str):
        return value
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    if "boolean" in types and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if "null" in types and value.lower() in ("null", "none", ""):
        return None
    for kind, cast in (("integer", int), ("number", float)):
        if kind in types:
            try:
                return cast(value)
            except ValueError:
                pass
    return value


def _with_defaults(schema: dict, value: Any) -> Any:
    """Fill in the schema's defaults and type text values, recursively, keeping given values."""
    if schema.get("type") != "object" or not isinstance(value, dict):
        return _coerce(schema, value)
    filled = dict(value)
    for key, sub in schema.get("properties", {}).items():
        if key not in filled and "default" in sub:
            filled[key] = sub["default"]
        if key in filled:
            filled[key] = _with_defaults(sub, filled[key])
    return filled


def _with_catalogue(schema: dict) -> dict:
    """The schema with the model names of :mod:`policyml.core.catalogue` as the allowed values of
    ``models.<task>`` and ``scenarios.model.<task>`` (the catalogue is their one owner)."""
    models = schema_at(schema, ["models"]).get("properties", {})
    scenario_models = schema_at(schema, ["scenarios", "model"]).get("properties", {})
    for task in catalogue.TASKS:
        allowed = list(catalogue.configurable_models(task))
        if task in models:
            models[task].setdefault("items", {})["enum"] = allowed
        if task in scenario_models:
            scenario_models[task]["enum"] = allowed
    return schema


def schema_default(*path: str, schema_path: str | Path = SCHEMA_PATH) -> Any:
    """The schema's default of the setting at ``path`` (e.g. ``"models", "mlp"``), nested defaults
    filled in: code that needs a setting's default reads it here, never writes it again."""
    node = schema_at(yaml.safe_load(Path(schema_path).read_text()), path)
    return _with_defaults(node, node.get("default", {} if node.get("type") == "object" else None))


def validate_config(config: dict, schema_path: str | Path = SCHEMA_PATH) -> dict:
    """Return the config with defaults filled in, or raise a ConfigError for the first bad key."""
    schema = _with_catalogue(yaml.safe_load(Path(schema_path).read_text()))
    filled = _with_defaults(schema, dict(config))
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(filled), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path).lstrip(".") or "config"
        if error.validator == "additionalProperties":
            known = ", ".join(sorted(schema_at(schema, error.path).get("properties", {})))
            raise ConfigError(f"config: {error.message}", f"known keys here: {known}")
        if error.validator == "enum":
            fix = f"use one of: {', '.join(map(str, error.validator_value))}"
        else:
            fix = f"see config/config.schema.yaml for what {where} accepts"
        raise ConfigError(f"config value {where}={error.instance!r} is invalid: {error.message}", fix)
    return filled


def schema_at(schema: dict, path) -> dict:
    for key in path:
        schema = schema.get("properties", {}).get(key, {})
    return schema


#: the config sections passed on as they are (validated, defaults filled in)
SECTIONS = ("data", "published", "estimates", "targets", "features", "split", "models",
            "fairness", "explain", "scenarios")


@dataclass(frozen=True)
class Settings:
    """A validated configuration, with states and survey period resolved."""

    states: tuple[State, ...]
    period: SurveyPeriod
    units: tuple[str, ...]
    housing_file: bool
    seed: int
    data: dict = field(default_factory=dict)
    published: dict = field(default_factory=dict)
    estimates: dict = field(default_factory=dict)
    targets: dict = field(default_factory=dict)
    features: dict = field(default_factory=dict)
    split: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    fairness: dict = field(default_factory=dict)
    explain: dict = field(default_factory=dict)
    scenarios: dict = field(default_factory=dict)

    @property
    def state_years(self) -> list[tuple[str, str]]:
        """(state postal code, period label) for every state-year the run produces."""
        return [(state.postal, self.period.label) for state in self.states]

    def as_config(self) -> dict:
        """The validated config as the rules receive it (``RUN_CONFIG``), states as postal codes;
        ``load_settings(settings.as_config())`` gives these settings back."""
        return {
            "states": [state.postal for state in self.states],
            "year": self.period.year,
            "survey": self.period.survey,
            "allow_experimental_2020": self.period.experimental,
            "housing_file": self.housing_file,
            "seed": self.seed,
            **{section: getattr(self, section) for section in SECTIONS},
            "units": list(self.units),
        }

    def mirrors(self) -> list[Mirror]:
        """The embedded data first, then the configured local mirrors."""
        return [embedded(), *(Mirror(path) for path in self.data["mirrors"])]


def _state_list(value) -> list:
    if isinstance(value, (str, int)):
        return [v for v in str(value).split(",") if v.strip()]
    return list(value)


def load_settings(config: dict, schema_path: str | Path = SCHEMA_PATH) -> Settings:
    filled = validate_config(config, schema_path)
    states = tuple(dict.fromkeys(resolve_state(s) for s in _state_list(filled["states"])))
    if not states:
        raise ConfigError("config value states is empty", "name at least one state, e.g. states=[NM]")
    period = check_period(filled["year"], filled["survey"], filled["allow_experimental_2020"])
    census_api_key(filled["published"]["source"])  # before any job runs, not when the summary step asks
    return Settings(
        states=states,
        period=period,
        units=tuple(dict.fromkeys(filled["units"])),
        housing_file=filled["housing_file"],
        seed=filled["seed"],
        **{section: filled[section] for section in SECTIONS},
    )
