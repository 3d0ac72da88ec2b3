"""Tests for policyml.data.run_settings: the settings file of a state-year run and its table."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from policyml.core.config import load_settings
from policyml.core.outputs import read_parquet_metadata, write_parquet
from policyml.data.ingest import source_record
from policyml.data.run_settings import period_title, run_settings, settings_rows
from policyml.data.schema import SurveyPeriod

REPO = Path(__file__).resolve().parents[1]


def _run_config(**overrides) -> dict:
    """What record_run_settings receives: the validated config of one state's jobs."""
    config = load_settings({"states": ["VT"], **overrides}).as_config()
    del config["states"]
    return config


def test_run_settings_records_period_source_thresholds_and_versions(tmp_path):
    """Check that run_settings carries the state, the 5-Year label, the file's sha256 and the config's thresholds."""
    zip_path = REPO / "resources/pums/2018/1-Year/csv_pvt.zip"
    config = _run_config(survey="5-Year", estimates={"cv_threshold": 0.25}, models={"threshold": 0.4})
    settings = run_settings(config, "VT", source_record(zip_path))
    assert settings["state"] == {"postal": "VT", "fips": "50", "name": "Vermont"}
    assert settings["period"]["label"] == "2014-2018"
    assert settings["period"]["title"] == "2014\u20132018 ACS 5-Year PUMS"
    assert settings["source"]["path"] == "resources/pums/2018/1-Year/csv_pvt.zip"
    sums = (REPO / "resources/SHA256SUMS").read_text()
    assert f"{settings['source']['sha256']}  pums/2018/1-Year/csv_pvt.zip" in sums
    assert settings["estimates"]["cv_threshold"] == 0.25 and settings["estimates"]["min_sample"] == 30
    assert settings["models"]["threshold"] == 0.4
    assert settings["versions"]["pandas"] == pd.__version__
    assert json.loads(json.dumps(settings)) == settings  # JSON as it is


def test_settings_rows_flatten_nested_settings():
    """Check that nested settings become dotted rows and lists of lists stay readable."""
    rows = dict(settings_rows({"models": {"threshold": 0.5, "tuning": {"factor": 3}},
                               "features": {"interactions": [["a", "b"], ["c", "d"]], "drop": []},
                               "scenarios": {"list": [{"name": "x"}, {"name": "y"}]},
                               "flag": True, "missing": None}))
    assert rows == {"models.threshold": "0.5", "models.tuning.factor": "3",
                    "features.interactions": "(a, b), (c, d)", "features.drop": "(none)",
                    "scenarios.list[0].name": "x", "scenarios.list[1].name": "y",
                    "flag": "true", "missing": "none"}


def test_period_title_names_one_and_five_year_files():
    """Check the report's name for a 1-Year and a 5-Year release."""
    assert period_title(SurveyPeriod(2018)) == "2018 ACS 1-Year PUMS"
    assert period_title(SurveyPeriod(2021, "5-Year")) == "2017\u20132021 ACS 5-Year PUMS"


def test_write_parquet_metadata_round_trips(tmp_path):
    """Check that metadata written with a parquet file is read back, and a plain file has none."""
    frame = pd.DataFrame({"a": [1, 2]})
    write_parquet(frame, tmp_path / "with.parquet", metadata={"source": {"sha256": "ab", "n": 2}})
    write_parquet(frame, tmp_path / "without.parquet")
    assert read_parquet_metadata(tmp_path / "with.parquet") == {"source": {"sha256": "ab", "n": 2}}
    assert read_parquet_metadata(tmp_path / "without.parquet") == {}
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "with.parquet"), frame)
