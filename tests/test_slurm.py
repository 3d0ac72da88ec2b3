"""The workflow under a real SLURM cluster (one node on localhost) gives exactly the local run's results.

Two states (VT and WY 2018, embedded) run twice from scratch: once locally (``--cores 2``) and once
through ``--profile workflow/profiles/slurm`` against the cluster of :mod:`slurm_cluster`. Needs
root and the Debian packages slurm-wlm and munge; skipped otherwise. Takes a few minutes.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from slurm_cluster import slurm_cluster, unavailable_reason

from policyml.model.modelling import read_task
from policyml.model.models import load_model

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
PROFILE = REPO / "workflow" / "profiles" / "slurm"
STATES = ("VT", "WY")
TASKS = ("regression", "classification")
MODELS = {"regression": ["dummy", "ols", "xgboost"], "classification": ["dummy", "logistic", "xgboost"]}
# a small run: households only, three models per task, two tuning candidates, no MLP
OVERRIDES = {
    "states": list(STATES),
    "units": ["households"],
    "published": {"source": "offline"},
    "data": {"download": False},
    "models": {**MODELS, "tuning": {"n_candidates": 2}},
}
# explicit targets, so the test does not depend on what else the default target list grows
TARGETS = [f"results/{state}/2018/households/metrics/{task}.csv" for state in STATES for task in TASKS]
# both runs give the tuned models the same number of threads (local: --cores; SLURM: --max-threads)
THREADS = 2
RUN_SECONDS = 900


def start_snakemake(workdir: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    """Start the repository's workflow in ``workdir`` on the small config (output in snakemake.txt)."""
    overrides = workdir / "overrides.yaml"
    overrides.write_text(yaml.safe_dump(OVERRIDES))
    command = [
        "timeout", "-k", "10", str(RUN_SECONDS),
        str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(REPO / "config" / "config.yaml"), str(overrides), *args, *TARGETS,
    ]
    with open(workdir / "snakemake.txt", "w") as output:
        return subprocess.Popen(command, cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT, text=True)


def wait_for_all(processes: dict[str, subprocess.Popen], start: float) -> dict[str, float]:
    """Wait for runs started by :func:`start_snakemake`; each one's seconds from ``start`` to its end.
    A run still going after RUN_SECONDS + 60 s (or when waiting is interrupted) is terminated."""
    seconds: dict[str, float] = {}
    try:
        while len(seconds) < len(processes) and time.monotonic() - start < RUN_SECONDS + 60:
            for name, process in processes.items():
                if name not in seconds and process.poll() is not None:
                    seconds[name] = time.monotonic() - start
            time.sleep(1)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()  # `timeout` passes it on to snakemake, and kills 10 s later
                process.wait(30)
    return seconds


@pytest.fixture(scope="module")
def cluster():
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    with slurm_cluster() as running:
        yield running


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """The local run and the SLURM run, from scratch in two folders, side by side, in one environment."""
    folders = {"local": tmp_path_factory.mktemp("local"), "slurm": tmp_path_factory.mktemp("slurm")}
    start = time.monotonic()
    local = start_snakemake(folders["local"], cluster.env, "--cores", str(THREADS))
    on_slurm = start_snakemake(folders["slurm"], cluster.env, "--profile", str(PROFILE),
                               "--max-threads", str(THREADS), "--slurm-keep-successful-logs")
    processes = {"local": local, "slurm": on_slurm}
    seconds = wait_for_all(processes, start)
    print("\nwall time, side by side: " + ", ".join(f"{name} run {s:.0f} s" for name, s in seconds.items()))
    for name, process in processes.items():
        log = (folders[name] / "snakemake.txt").read_text()
        assert process.returncode == 0, f"{name} run failed:\n{log[-5000:]}\n{cluster.log_tail()}"
    return folders


def relative_files(root: Path, pattern: str) -> list[Path]:
    return sorted(path.relative_to(root) for path in root.glob(pattern))


def test_slurm_every_job_runs_as_a_slurm_job(runs, cluster):
    """Check that each planned job was submitted to SLURM, completed there, and ran this environment's Python."""
    text = (runs["slurm"] / "snakemake.txt").read_text()
    submitted = [line for line in text.splitlines() if "has been submitted with SLURM jobid" in line]
    planned = int(text.split("Job stats:")[1].split("total")[1].split()[0])
    per_state = 4 + sum(len(models) + 1 for models in MODELS.values())  # fetch..split, fits, evaluation
    assert planned == len(submitted) == len(STATES) * per_state
    jobs = cluster.jobs()
    assert len(jobs) == len(submitted)
    assert {job["state"] for job in jobs} == {"COMPLETED"}
    logs = sorted((runs["slurm"] / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert len(logs) == len(submitted)
    for log in logs:
        command = next(line for line in log.read_text().splitlines() if line.strip().startswith("Command:"))
        assert str(Path(sys.prefix) / "lib") in command, command


def test_slurm_metrics_equal_the_local_run(runs):
    """Check that the SLURM run's metrics files equal the local run's, byte for byte."""
    files = relative_files(runs["local"], "results/*/2018/households/metrics/*.csv")
    assert files == relative_files(runs["slurm"], "results/*/2018/households/metrics/*.csv")
    assert {Path(target) for target in TARGETS} <= set(files)  # and the calibration tables
    for name in files:
        local, on_slurm = runs["local"] / name, runs["slurm"] / name
        pd.testing.assert_frame_equal(pd.read_csv(on_slurm), pd.read_csv(local), check_exact=True)
        assert on_slurm.read_bytes() == local.read_bytes(), name


def test_slurm_predictions_equal_the_local_run(runs):
    """Check that every model's saved predictions from SLURM equal the local run's exactly."""
    files = relative_files(runs["local"], "results/*/2018/households/predictions/*/*.parquet")
    assert files == relative_files(runs["slurm"], "results/*/2018/households/predictions/*/*.parquet")
    assert len(files) == len(STATES) * sum(len(models) for models in MODELS.values())
    for name in files:
        pd.testing.assert_frame_equal(pd.read_parquet(runs["slurm"] / name), pd.read_parquet(runs["local"] / name),
                                      check_exact=True)


# households of a level the training rows lack get zeros for it (handle_unknown="ignore"), by design
@pytest.mark.filterwarnings("ignore:Found unknown categories:UserWarning")
def test_slurm_models_predict_like_the_local_models(runs):
    """Check that each model file from SLURM predicts exactly what the local run's model predicts."""
    checked = 0
    for state in STATES:
        root = Path("results") / state / "2018" / "households"
        for task in TASKS:
            data = read_task(*(runs["local"] / root / name for name in ("features.parquet", "split.parquet",
                                                                        "feature_spec.json")), task)
            features = data.test[data.columns]
            for model in MODELS[task]:
                [path] = relative_files(runs["local"], f"{root}/models/{task}/{model}.*")
                local, on_slurm = load_model(runs["local"] / path), load_model(runs["slurm"] / path)
                np.testing.assert_array_equal(on_slurm.predict(features), local.predict(features))
                if task == "classification":
                    np.testing.assert_array_equal(on_slurm.predict_proba(features), local.predict_proba(features))
                checked += 1
    assert checked == len(STATES) * sum(len(models) for models in MODELS.values())
