"""The bad-input catalogue: each bad input ends in one clear line, a non-zero exit and no partial output.

Rows already covered elsewhere are not repeated here (README "Bad inputs" table):
unknown state, year 2009 and the 2020 1-Year file (tests/test_workflow.py::
test_workflow_bad_config_fails_before_any_job), a truncated PUMS zip
(test_workflow_corrupted_zip_fails_cleanly), a file without PWGTP
(test_workflow_missing_column_fails_cleanly), no local file with downloads off
(test_workflow_offline_without_file_says_how_to_fix), a download cut short
(tests/test_fetch.py::test_download_short_body_fails_after_retries and
test_download_truncated_zip_reports_invalid_zip). The workflow-level rows run Snakemake on the
embedded WY data relabelled as Rhode Island, which has no embedded file; the rows about the
configuration stop before any job, so they run ``snakemake -n``.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_workflow import make_mirror, offline, run_workflow, wy_as_state

from policyml.audit.fairness import audit_task
from policyml.core.errors import OutputError
from policyml.core.outputs import check_output_folder, write_csv
from policyml.data.published import API_KEY_VARIABLE
from policyml.model.modelling import TaskData

slow = pytest.mark.slow  # the rows that run Snakemake


def error_line(result) -> str:
    """The one console line policyml printed for the failure (``policyml: error:`` before any job,
    ``policyml: ERROR:`` from inside a job)."""
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.lower().startswith("policyml: error:")]
    assert len(lines) == 1, result.stderr[-3000:]
    assert "(fix: " in lines[0]
    print(lines[0])  # shown with pytest -s: the README's "Bad inputs" table quotes these lines
    return lines[0]


def result_files(workdir: Path) -> list[Path]:
    """Files under results/, benchmarks aside (Snakemake writes those even for a failed job)."""
    root = workdir / "results"
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and "benchmarks" not in p.parts)


def run_ri(tmp_path: Path, payload: bytes, target: str = "results/RI/2018/data_summary.json"):
    """Run the workflow for RI with ``payload`` as its person zip in a local mirror, downloads off."""
    mirror = make_mirror(tmp_path / "mirror", "csv_pri.zip", payload)
    return run_workflow(tmp_path, {"states": ["RI"], "published": {"source": "offline"},
                                   **offline(tmp_path, mirrors=[str(mirror)])}, target)


# --------------------------------------------------------------------------------------------------
# Bad PUMS files


@slow
def test_bad_input_corrupted_zip_fails_its_crc_check(tmp_path):
    """Check that a zip whose data bytes were altered names the failed CRC check and writes nothing."""
    name, payload = wy_as_state("44", "ri")
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        text = archive.read("psam_p44.csv")
    stored = io.BytesIO()  # uncompressed, so the altered bytes fail the CRC and nothing else
    with zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("psam_p44.csv", text)
    damaged = bytearray(stored.getvalue())
    middle = len(damaged) // 2
    damaged[middle] = ord("7") if damaged[middle] != ord("7") else ord("8")
    result = run_ri(tmp_path, bytes(damaged))
    assert "csv_pri.zip is corrupted: member psam_p44.csv fails its CRC check" in error_line(result)
    assert result_files(tmp_path) == []


@slow
def test_bad_input_renamed_weight_column_is_named(tmp_path):
    """Check that a person file whose PWGTP is spelled PWGT names the missing column and writes nothing."""
    name, payload = wy_as_state("44", "ri", lambda frame: frame.rename(columns={"PWGTP": "PWGT"}))
    result = run_ri(tmp_path, payload)
    assert "lacks required columns PWGTP for 1-Year 2018 PUMS" in error_line(result)
    assert result_files(tmp_path) == []


@slow
def test_bad_input_only_group_quarters_leaves_no_households(tmp_path, person_frame, make_person_zip):
    """Check that a state whose persons all live in group quarters stops at the household step."""
    records = [{"SERIALNO": f"2018GQ{i:07d}", "ST": "44", "RELP": 16 + i % 2, "PINCP": 1000 * i}
               for i in range(40)]
    path = make_person_zip(tmp_path, person_frame(records), fips="44", name="gq.zip")
    result = run_ri(tmp_path, path.read_bytes())
    assert "no households: the person file has no householder records outside group quarters" in error_line(result)
    # the step before it completed (a whole, readable file); the failing step left nothing
    assert result_files(tmp_path) == [tmp_path / "results/RI/2018/persons.parquet"]
    assert len(pd.read_parquet(tmp_path / "results/RI/2018/persons.parquet")) == 40


# --------------------------------------------------------------------------------------------------
# Bad configuration values (stopped before any job)


@slow
@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"split": {"test_size": "a fifth"}}, "config value split.test_size='a fifth' is invalid: 'a fifth' is not of type 'number'"),
        ({"split": {"test_size": -0.2}}, "config value split.test_size=-0.2 is invalid: -0.2 is less than or equal to the minimum of 0"),
        ({"models": {"regression": ["ols", "gbm"]}}, "config value models.regression[1]='gbm' is invalid: 'gbm' is not one of"),
    ],
)
def test_bad_input_malformed_config_value(tmp_path, overrides, message):
    """Check that a string for a number, a negative share and an unknown model stop the run in one line."""
    result = run_workflow(tmp_path, {"states": ["WY"], **overrides}, "-n")
    assert message in error_line(result)
    assert not (tmp_path / "results").exists()


@slow
def test_bad_input_api_source_without_key(tmp_path, monkeypatch):
    """Check that published.source=api without CENSUS_API_KEY stops before any job, naming the variable."""
    monkeypatch.delenv(API_KEY_VARIABLE, raising=False)
    result = run_workflow(tmp_path, {"states": ["WY"], "published": {"source": "api"}}, "-n")
    assert f"published.source=api needs a Census API key in the environment variable {API_KEY_VARIABLE}" in error_line(result)
    assert not (tmp_path / "results").exists()


# --------------------------------------------------------------------------------------------------
# Outputs that cannot be written. Tests run as root, whom chmod does not stop: a file where the
# results folder should be fails for everyone; a read-only folder uses chattr +i as root.


@slow
def test_bad_input_results_is_a_file(tmp_path):
    """Check that a file named results stops the run before any job, and is left as it was."""
    (tmp_path / "results").write_text("not a folder\n")
    result = run_workflow(tmp_path, {"states": ["WY"]}, "results/WY/2018/data_summary.json")
    assert "cannot write results under results: results is a file, not a folder" in error_line(result)
    assert (tmp_path / "results").read_text() == "not a folder\n"


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody can write into: chattr +i for root (immutable), chmod 555 for other users."""
    folder = tmp_path / "results"
    folder.mkdir()
    if os.geteuid() == 0:
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(folder)], capture_output=True).returncode:
            pytest.skip("running as root without chattr +i: cannot make a folder read-only")
        yield folder
        subprocess.run([chattr, "-i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)


@slow
def test_bad_input_read_only_results_folder(tmp_path, read_only_folder):
    """Check that a read-only results folder stops the run before any job, with the reason."""
    result = run_workflow(tmp_path, {"states": ["WY"]}, "results/WY/2018/data_summary.json")
    line = error_line(result)
    assert "cannot write results under results: " in line
    assert "Operation not permitted" in line or "Permission denied" in line
    assert list(read_only_folder.iterdir()) == []


def test_bad_input_output_write_failure_is_an_output_error(read_only_folder):
    """Check that a write into a read-only folder inside a step raises OutputError, not OSError."""
    with pytest.raises(OutputError, match=r"cannot write .*table\.csv: (Operation not permitted|Permission denied)"):
        write_csv(pd.DataFrame({"a": [1]}), read_only_folder / "table.csv")
    with pytest.raises(OutputError, match="cannot write results under"):
        check_output_folder(read_only_folder / "WY" / "2018")


# --------------------------------------------------------------------------------------------------
# Empty demographic groups (unit level: an audit over a group with no test households)


def test_bad_input_empty_group_is_a_row_with_reason():
    """Check that a race group with training but no test households gets a row saying so, not a crash."""
    rng = np.random.default_rng(11)
    n = 120
    race = pd.Categorical(rng.choice(["White", "Black"], n), categories=["White", "Black", "Asian"])
    test = pd.DataFrame({
        "SERIALNO": [f"2018HU{i:07d}" for i in range(n)],
        "race": race,
        "sex": pd.Categorical(rng.choice(["Female", "Male"], n)),
        "low_income": rng.integers(0, 2, n).astype(float),
        "WGTP": rng.uniform(20, 200, n),
    })
    replicates = pd.DataFrame({f"WGTP{r}": test["WGTP"] * rng.uniform(0.5, 1.5, n) for r in range(1, 81)})
    test = pd.concat([test, replicates], axis=1)
    data = TaskData("classification", "low_income", "WGTP", test, test, [], ["race"], [])
    prediction = np.clip(0.3 + 0.4 * test["low_income"] + rng.normal(0, 0.1, n), 0, 1)
    predictions = {"logistic": pd.DataFrame({"SERIALNO": test["SERIALNO"], "set": "test",
                                             "observed": test["low_income"], "prediction": prediction})}
    groups, disparities = audit_task(data, predictions, 0.5, {"min_sample": 30, "cv_threshold": 0.3})

    asian = groups[(groups["group_variable"] == "race") & (groups["group"] == "Asian")]
    assert len(asian) == groups["metric"].nunique()  # one row per metric
    assert (asian["n"] == 0).all() and asian["suppressed"].all() and asian["estimate"].isna().all()
    assert (asian["reason"] == "no sample households in this group").all()
    # the other groups keep their figures: White's selection rate, by hand
    white = test["race"] == "White"
    selected = (prediction >= 0.5) & white
    expected = test.loc[selected, "WGTP"].sum() / test.loc[white, "WGTP"].sum()
    row = groups[(groups["group_variable"] == "race") & (groups["group"] == "White")
                 & (groups["metric"] == "selection_rate")]
    assert row["estimate"].iloc[0] == pytest.approx(expected, rel=1e-12)
    parity = disparities[(disparities["group_variable"] == "race") & (disparities["metric"] == "demographic_parity")]
    assert len(parity) == 1 and np.isfinite(parity["difference"].iloc[0])
