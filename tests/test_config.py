"""Tests of policyml.core.config: defaults, state lists, refused values and command-line text values."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from policyml.core.config import load_settings, validate_config
from policyml.core.errors import ConfigError
from policyml.data.schema import SurveyPeriod

CONFIG_YAML = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
TOP_LEVEL_KEYS = (
    "allow_experimental_2020, data, estimates, explain, fairness, features, housing_file, models, "
    "published, scenarios, seed, split, states, survey, targets, units, year"
)


def postals(settings) -> list[str]:
    return [state.postal for state in settings.states]


# --------------------------------------------------------------------------------------------------
# Defaults


def test_load_settings_defaults_to_nm_2018():
    """Check that an empty config runs NM 2018 1-Year from the person file."""
    settings = load_settings({})
    assert postals(settings) == ["NM"]
    assert settings.period == SurveyPeriod(2018, "1-Year")
    assert settings.housing_file is False
    assert settings.seed == 2018
    assert settings.state_years == [("NM", "2018")]


def test_load_settings_default_nested_values():
    """Check that nested sections get their schema defaults."""
    settings = load_settings({})
    assert settings.data == {
        "mirrors": [], "cache_dir": None, "download": True, "base_url": None, "timeout_seconds": 60, "retries": 4,
    }
    assert settings.published == {"source": "auto"}
    assert settings.estimates == {"cv_threshold": 0.30, "min_sample": 30}


def test_load_settings_config_yaml_matches_schema_defaults():
    """Check that config/config.yaml states the same settings as the schema defaults."""
    assert load_settings(yaml.safe_load(CONFIG_YAML.read_text())) == load_settings({})


def test_settings_mirrors_embedded_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Check that the embedded data is searched before configured mirrors."""
    monkeypatch.delenv("POLICYML_RESOURCES", raising=False)
    settings = load_settings({"data": {"mirrors": [str(tmp_path)]}})
    mirrors = settings.mirrors()
    assert mirrors[0].strict and mirrors[0].root.name == "resources"
    assert [m.root for m in mirrors[1:]] == [tmp_path]


# --------------------------------------------------------------------------------------------------
# States


@pytest.mark.parametrize(
    "states, expected",
    [
        (["VT", "WY"], ["VT", "WY"]),
        ("VT,WY", ["VT", "WY"]),
        ("vt, wy", ["VT", "WY"]),
        ("NM", ["NM"]),
        (35, ["NM"]),
        ("35", ["NM"]),
        ([35, "WY"], ["NM", "WY"]),
        ("NM,35", ["NM"]),
    ],
)
def test_load_settings_states_forms(states, expected):
    """Check that states may be a list, a comma string, postal or FIPS codes, deduplicated."""
    settings = load_settings({"states": states})
    assert postals(settings) == expected
    assert settings.state_years == [(postal, "2018") for postal in expected]


def test_load_settings_unknown_state_raises():
    """Check that an unknown state code raises a ConfigError naming it and the accepted forms."""
    with pytest.raises(ConfigError, match=r"unknown state 'XX'.*two-letter postal code"):
        load_settings({"states": ["NM", "XX"]})


def test_load_settings_empty_state_list_raises():
    """Check that an empty list of states is refused."""
    with pytest.raises(ConfigError, match=r"config value states=\[\] is invalid"):
        load_settings({"states": []})


@pytest.mark.parametrize("states", ["", ","])
def test_load_settings_blank_state_string_raises(states):
    """Check that a blank states string is refused like an empty list, not run with no state."""
    with pytest.raises(ConfigError):
        load_settings({"states": states})


# --------------------------------------------------------------------------------------------------
# Years and surveys


def test_load_settings_refuses_2020_one_year():
    """Check that year 2020 (1-Year) is refused unless opted in."""
    with pytest.raises(ConfigError, match=r"experimental.*allow_experimental_2020=true"):
        load_settings({"year": 2020})


def test_load_settings_accepts_2020_with_text_opt_in():
    """Check that allow_experimental_2020 given as the text 'true' opts in."""
    settings = load_settings({"year": 2020, "allow_experimental_2020": "true"})
    assert settings.period == SurveyPeriod(2020, "1-Year")


def test_load_settings_five_year_period():
    """Check that a 5-Year survey sets the period and its label."""
    settings = load_settings({"year": 2022, "survey": "5-Year", "states": "WY"})
    assert settings.period == SurveyPeriod(2022, "5-Year")
    assert settings.state_years == [("WY", "2018-2022")]


def test_load_settings_unsupported_year_raises():
    """Check that a year before 2017 is refused naming the supported range."""
    with pytest.raises(ConfigError, match=r"year 2016 is not supported.*2017-2024"):
        load_settings({"year": 2016})


def test_load_settings_unknown_survey_raises():
    """Check that a survey name outside the enum is refused naming the key."""
    with pytest.raises(ConfigError, match=r"config value survey='3-Year' is invalid"):
        load_settings({"survey": "3-Year"})


# --------------------------------------------------------------------------------------------------
# Unknown keys and bad values


def test_load_settings_unknown_key_lists_known_keys():
    """Check that an unknown top-level key raises a ConfigError listing the known keys."""
    with pytest.raises(ConfigError, match=r"'colour' was unexpected") as caught:
        load_settings({"colour": "red"})
    assert caught.value.hint == f"known keys here: {TOP_LEVEL_KEYS}"


def test_load_settings_unknown_nested_key_lists_section_keys():
    """Check that an unknown key inside data lists the keys of the data section."""
    with pytest.raises(ConfigError, match=r"'mirror' was unexpected.*known keys here: base_url, cache_dir, download, mirrors, retries, timeout_seconds"):
        load_settings({"data": {"mirror": ["../shared/data"]}})


@pytest.mark.parametrize(
    "config, where",
    [
        ({"data": {"retries": 0}}, r"data\.retries=0"),
        ({"data": {"timeout_seconds": 0}}, r"data\.timeout_seconds=0"),
        ({"published": {"source": "web"}}, r"published\.source='web'"),
        ({"estimates": {"min_sample": 0}}, r"estimates\.min_sample=0"),
        ({"seed": -1}, r"seed=-1"),
    ],
)
def test_load_settings_bad_value_names_key(config, where):
    """Check that an invalid nested value raises a ConfigError naming its dotted key."""
    with pytest.raises(ConfigError, match=rf"config value {where} is invalid"):
        load_settings(config)


# --------------------------------------------------------------------------------------------------
# Text values from the command line


@pytest.mark.parametrize("text, expected", [("false", False), ("true", True), ("FALSE", False), ("True", True)])
def test_load_settings_text_booleans_coerced(text, expected):
    """Check that booleans typed as text on the command line become booleans."""
    settings = load_settings({"housing_file": text, "data": {"download": text}})
    assert settings.housing_file is expected
    assert settings.data["download"] is expected


def test_load_settings_text_numbers_coerced():
    """Check that numbers and null typed as text become numbers and None."""
    settings = load_settings(
        {"year": "2019", "seed": "7", "data": {"retries": "2", "timeout_seconds": "2.5", "cache_dir": "null"},
         "estimates": {"cv_threshold": "0.2", "min_sample": "10"}}
    )
    assert settings.period == SurveyPeriod(2019, "1-Year")
    assert settings.seed == 7
    assert (settings.data["retries"], settings.data["timeout_seconds"], settings.data["cache_dir"]) == (2, 2.5, None)
    assert settings.estimates == {"cv_threshold": 0.2, "min_sample": 10}


def test_validate_config_text_not_a_boolean_refused():
    """Check that a text value that is not true/false stays refused for a boolean key."""
    with pytest.raises(ConfigError, match=r"config value housing_file='maybe' is invalid"):
        validate_config({"housing_file": "maybe"})


def test_validate_config_keeps_given_values():
    """Check that defaults fill only missing keys and leave given ones untouched."""
    filled = validate_config({"data": {"retries": 9}, "states": "WY"})
    assert filled["data"]["retries"] == 9
    assert filled["data"]["timeout_seconds"] == 60
    assert filled["states"] == "WY"


def test_settings_as_config_round_trips():
    """Check that the config the rules receive loads back into the same settings."""
    settings = load_settings({"states": ["NM", "wy"], "survey": "5-Year", "models": {"threshold": 0.3}})
    config = settings.as_config()
    assert config["states"] == ["NM", "WY"] and config["models"]["threshold"] == 0.3
    assert load_settings(config) == settings


def test_schema_default_is_what_validation_fills_in():
    """Check that schema_default gives the values a config without the key gets, and that the MLP's defaults come from it."""
    from policyml.core.config import schema_default
    from policyml.model.models import DEFAULT_PARAMS

    filled = validate_config({})
    assert schema_default("models", "mlp") == filled["models"]["mlp"]
    assert schema_default("models", "threshold") == filled["models"]["threshold"] == 0.5
    assert DEFAULT_PARAMS["mlp"]["epochs"] == filled["models"]["mlp"]["epochs"]
    assert DEFAULT_PARAMS["mlp"]["hidden_layer_sizes"] == tuple(filled["models"]["mlp"]["hidden_layer_sizes"])


def test_config_yaml_shows_only_the_schema_defaults():
    """Check that every value in config/config.yaml is the schema's default (the schema owns them; the file only shows them)."""
    shown = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())
    filled = validate_config({})

    def compare(value, default, where):
        if isinstance(value, dict):
            for key, inner in value.items():
                assert key in default, f"{where}{key} has no schema default"
                compare(inner, default[key], f"{where}{key}.")
        else:
            assert value == default, f"config.yaml {where.rstrip('.')}={value!r}, schema default {default!r}"

    compare(shown, filled, "")
