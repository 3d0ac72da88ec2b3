"""Faults, determinism and secrets, end to end on the embedded WY 2018 data.

* The same small run on 1 and on 8 cores gives byte-identical metrics, identical predictions and
  model files that predict identically.
* A run killed with SIGKILL in the middle of a model rule, then resumed (``--unlock``, then
  ``--rerun-incomplete``), ends with the metrics of an uninterrupted run and no corrupt or
  temporary file under results/.
* With CENSUS_API_KEY set, the summary step asks a local fake of the Census API (the real client
  code, its URLs rewritten to 127.0.0.1) and the key appears in no file the run writes, also when
  the API answers with an error page that echoes the request.

A download cut short is covered by tests/test_fetch.py (test_download_short_body_fails_after_retries,
test_download_truncated_zip_reports_invalid_zip).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest
import yaml

from policyml.core.outputs import write_csv
from policyml.model import models
from policyml.model.modelling import read_task

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"

#: A small run: every kind of rule (fit, tune, MLP, evaluate) in about a minute.
SMALL_RUN = {
    "states": ["WY"],
    "units": ["households"],
    "published": {"source": "offline"},
    "split": {"cv_folds": 3},
    "models": {
        "regression": ["dummy", "ols", "xgboost", "mlp"],
        "classification": ["dummy", "logistic", "random_forest"],
        "tuning": {"n_candidates": 2},
        "mlp": {"epochs": 5},
    },
}
HOUSEHOLDS = "results/WY/2018/households"
TARGETS = [f"{HOUSEHOLDS}/metrics/{task}.csv" for task in ("regression", "classification")] + [
    f"{HOUSEHOLDS}/predictions/{task}/{model}.parquet"
    for task in ("regression", "classification") for model in SMALL_RUN["models"][task]
]


def command(workdir: Path, overrides: dict, *args: str) -> list[str]:
    """The snakemake command line for the repository's workflow in ``workdir``."""
    extra = workdir / "overrides.yaml"
    extra.write_text(yaml.safe_dump(overrides))
    return [str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(REPO / "config" / "config.yaml"), str(extra), *args]


def run(workdir: Path, overrides: dict, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(command(workdir, overrides, *args), capture_output=True, text=True,
                            timeout=timeout, cwd=workdir)
    (workdir / "snakemake_output.txt").write_text(result.stdout + result.stderr)
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[int, Path]:
    """The small run done from scratch with --cores 1 and with --cores 8."""
    done = {}
    for cores in (1, 8):
        workdir = tmp_path_factory.mktemp(f"cores{cores}")
        result = run(workdir, SMALL_RUN, "--cores", str(cores), *TARGETS)
        assert result.returncode == 0, result.stderr[-3000:]
        done[cores] = workdir
    return done


def relative_files(root: Path, pattern: str) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.glob(pattern) if p.is_file())


# --------------------------------------------------------------------------------------------------
# Determinism: --cores 1 and --cores 8


@pytest.mark.slow
def test_resilience_metrics_identical_on_1_and_8_cores(runs):
    """Check that the metric tables of a 1-core and an 8-core run are byte-identical."""
    one, eight = runs[1], runs[8]
    tables = relative_files(one, f"{HOUSEHOLDS}/metrics/*.csv")
    assert len(tables) == 4 and tables == relative_files(eight, f"{HOUSEHOLDS}/metrics/*.csv")
    for table in tables:
        assert (one / table).read_bytes() == (eight / table).read_bytes(), table


@pytest.mark.slow
def test_resilience_predictions_identical_on_1_and_8_cores(runs):
    """Check that every model's predictions are exactly equal on 1 and 8 cores, files byte for byte."""
    one, eight = runs[1], runs[8]
    files = relative_files(one, f"{HOUSEHOLDS}/predictions/*/*.parquet")
    assert len(files) == 7 and files == relative_files(eight, f"{HOUSEHOLDS}/predictions/*/*.parquet")
    for path in files:
        pd.testing.assert_frame_equal(pd.read_parquet(one / path), pd.read_parquet(eight / path), check_exact=True)
        assert (one / path).read_bytes() == (eight / path).read_bytes(), path


@pytest.mark.slow
def test_resilience_model_files_identical_on_1_and_8_cores(runs):
    """Check that the saved models predict identically on 1 and 8 cores, and their files are
    byte-identical but for what records the run rather than the model: the n_jobs setting (it
    follows the cores a job got) and the MLP history's seconds per epoch."""
    one, eight = runs[1], runs[8]
    files = relative_files(one, f"{HOUSEHOLDS}/models/*/*")
    assert len(files) == 7 and files == relative_files(eight, f"{HOUSEHOLDS}/models/*/*")
    root = one / HOUSEHOLDS
    data = {task: read_task(root / "features.parquet", root / "split.parquet", root / "feature_spec.json", task)
            for task in ("regression", "classification")}
    differs: dict[str, int] = {}
    for path in files:
        task = path.parent.name
        first = models.load_model(one / path, within=one / "results")
        second = models.load_model(eight / path, within=eight / "results")
        X = data[task].test[data[task].columns]
        np.testing.assert_array_equal(models.predict(first, task, X), models.predict(second, task, X))
        if (one / path).read_bytes() == (eight / path).read_bytes():
            continue
        differs[path.stem] = differs.get(path.stem, 0) + 1
        if "model__n_jobs" in first.get_params():
            first.set_params(model__n_jobs=1)
            second.set_params(model__n_jobs=1)
        if hasattr(first.named_steps["model"], "history_"):
            second.named_steps["model"].history_.seconds = first.named_steps["model"].history_.seconds
        assert models._model_bytes(first) == models._model_bytes(second), path
    assert set(differs) <= {"random_forest", "xgboost", "mlp"}
    assert {"dummy", "ols", "logistic"} <= {path.stem for path in files} - set(differs)


# --------------------------------------------------------------------------------------------------
# Killed mid-rule, then resumed


def wait_for_model_rule(workdir: Path, process: subprocess.Popen, timeout: float = 400) -> list[Path]:
    """Wait until a tuning or MLP rule has started (its log exists); return Snakemake's markers of
    outputs being written (.snakemake/incomplete)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before a model rule started"
        started = [*workdir.glob("logs/**/tune_model/**/*.log"), *workdir.glob("logs/**/fit_mlp/**/*.log")]
        if started:
            time.sleep(1.5)  # into the rule's work, past its start-up
            return list((workdir / ".snakemake" / "incomplete").glob("*"))
        time.sleep(0.2)
    raise AssertionError("no model rule started in time")


def check_readable(results: Path) -> None:
    """Every output under results/ opens with its reader; no temporary file is left."""
    for path in results.rglob("*"):
        if not path.is_file():
            continue
        assert not path.name.startswith("."), f"leftover temporary file {path}"
        if path.suffix == ".parquet":
            pd.read_parquet(path)
        elif path.suffix in (".csv", ".tsv"):
            pd.read_csv(path, sep="\t" if path.suffix == ".tsv" else ",")
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.parent.parent.name == "models":
            models.load_model(path, within=results)
        else:
            raise AssertionError(f"unexpected output {path}")


@pytest.mark.slow
def test_resilience_killed_run_resumes_to_same_metrics(runs, tmp_path):
    """Check that a run killed mid-rule and resumed with --rerun-incomplete ends like an uninterrupted one."""
    with open(tmp_path / "killed_output.txt", "w") as output:
        process = subprocess.Popen(command(tmp_path, SMALL_RUN, "--cores", "2", *TARGETS), cwd=tmp_path,
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            incomplete = wait_for_model_rule(tmp_path, process)
        finally:
            os.killpg(process.pid, signal.SIGKILL)  # snakemake and its jobs: one process group
            process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert incomplete, "the kill did not land while outputs were being written"

    unlock = run(tmp_path, SMALL_RUN, "--unlock")  # SIGKILL leaves Snakemake's lock behind
    assert unlock.returncode == 0, unlock.stderr[-3000:]
    resumed = run(tmp_path, SMALL_RUN, "--cores", "2", "--rerun-incomplete", *TARGETS)
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    for table in relative_files(runs[1], f"{HOUSEHOLDS}/metrics/*.csv"):
        assert (tmp_path / table).read_bytes() == (runs[1] / table).read_bytes(), table
    check_readable(tmp_path / "results")
    assert list((tmp_path / ".snakemake" / "incomplete").glob("*")) == []


def test_atomic_path_removes_temporary_files_of_killed_writers(tmp_path):
    """Check that rewriting an output removes its temporaries left by a killed writer, and only those."""
    stale = tmp_path / ".table.csv.k1ll3d_x.part"
    other = tmp_path / ".table.csv.bak.k1ll3d_x.part"  # a temporary of another output, table.csv.bak
    stale.write_text("half a ta")
    other.write_text("half a ba")
    write_csv(pd.DataFrame({"a": [1]}), tmp_path / "table.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "table.csv"]


# --------------------------------------------------------------------------------------------------
# The Census API key stays out of every file

#: Imported by every Python process of the run (PYTHONPATH): sends the census client's requests for
#: api.census.gov to the local fake instead.
SITECUSTOMIZE = '''
import os
if os.environ.get("FAKE_CENSUS_API"):
    import requests
    _request = requests.Session.request
    def request(self, method, url, *args, **kwargs):
        url = url.replace("https://api.census.gov", os.environ["FAKE_CENSUS_API"])
        return _request(self, method, url, *args, **kwargs)
    requests.Session.request = request
'''


@pytest.fixture
def census_api_by_state():
    """The fake Census API of tests/test_published.py; for Vermont it answers 500 with an error page
    that echoes the request, key included."""
    from test_published import FakeCensusAPI

    class ByState(FakeCensusAPI):
        def reply(self, raw_path: str) -> tuple[int, bytes]:
            query = parse_qs(urlsplit(raw_path).query)
            if query.get("for") == ["state:50"]:
                with self._lock:
                    self.requests.append((urlsplit(raw_path).path, query))
                return 500, f"There was an error while running your query: {raw_path}".encode()
            return super().reply(raw_path)

    api = ByState()
    api.start()
    yield api
    api.close()


@pytest.mark.slow
def test_resilience_census_key_written_nowhere(tmp_path, monkeypatch, census_api_by_state):
    """Check that the API key reaches the API but no file of the run, log or error message."""
    key = f"policyml-test-key-{secrets.token_hex(12)}"
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE)
    workdir = tmp_path / "run"
    workdir.mkdir()
    monkeypatch.setenv("CENSUS_API_KEY", key)
    monkeypatch.setenv("FAKE_CENSUS_API", f"http://127.0.0.1:{census_api_by_state.port}")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(hook), os.environ.get("PYTHONPATH")) if p))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")

    summaries = [f"results/{state}/2018/data_summary.json" for state in ("WY", "VT")]
    result = run(workdir, {"states": ["WY", "VT"], "published": {"source": "auto"}}, "--cores", "2", *summaries)
    assert result.returncode == 0, result.stderr[-3000:]

    # the key went to the API with the requests of both states
    asked = [query for path, query in census_api_by_state.requests if path == "/data/2018/acs/acs1"]
    assert {q["for"][0] for q in asked} == {"state:56", "state:50"}
    assert all(q["key"] == [key] for q in asked)
    wy = json.loads((workdir / summaries[0]).read_text())
    vt = json.loads((workdir / summaries[1]).read_text())
    assert wy["published_median_household_income"]["source"] == "Census Data API"
    assert vt["published_median_household_income"]["source"].startswith("offline copy")
    assert "falling back to the offline copy" in (workdir / "logs/VT/2018/summarize_data.log").read_text()

    # ... and appears in nothing the run wrote: results, logs, Snakemake's own records, the console
    written = [p for p in workdir.rglob("*") if p.is_file()]
    assert len(written) > 20
    leaks = [p for p in written if key.encode() in p.read_bytes()]
    assert leaks == []
    assert key not in result.stdout + result.stderr
