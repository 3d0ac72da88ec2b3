"""End-to-end: the Snakemake workflow on embedded data, a local download server and bad inputs."""

from __future__ import annotations

import http.server
import io
import json
import os
import re
import subprocess
import sys
import threading
import zipfile
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow  # every test here runs Snakemake

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
WY_ZIP = REPO / "resources" / "pums" / "2018" / "1-Year" / "csv_pwy.zip"


def run_workflow(workdir: Path, overrides: dict | None = None, *args: str, timeout: int = 1800):
    """Run snakemake on the repository's Snakefile in ``workdir`` with config overrides."""
    configfiles = [str(REPO / "config" / "config.yaml")]
    if overrides:
        extra = workdir / "overrides.yaml"
        extra.write_text(yaml.safe_dump(overrides))
        configfiles.append(str(extra))
    command = [
        str(SNAKEMAKE), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", *configfiles, "--cores", "2", *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=workdir)


def wy_as_state(fips: str, postal_lower: str, transform=None) -> tuple[str, bytes]:
    """The WY person zip relabelled as another state (for states not embedded), optionally edited."""
    with zipfile.ZipFile(WY_ZIP) as archive:
        frame = pd.read_csv(archive.open("psam_p56.csv"), dtype=str, keep_default_na=False)
    frame["ST"] = fips
    if transform is not None:
        frame = transform(frame)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"psam_p{fips}.csv", frame.to_csv(index=False))
    return f"csv_p{postal_lower}.zip", buffer.getvalue()


def make_mirror(root: Path, name: str, payload: bytes) -> Path:
    target = root / "pums" / "2018" / "1-Year" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(payload)
    return root


def offline(tmp_path: Path, **data) -> dict:
    return {"data": {"download": False, "cache_dir": str(tmp_path / "cache"), **data}}


# a small tuning budget keeps the end-to-end runs quick; the default (16) is for real use
WY_CONFIG = {"states": ["WY"], "units": ["households", "acsincome"], "published": {"source": "offline"},
             "models": {"tuning": {"n_candidates": 4}},
             "explain": {"shap_sample": 300, "permutation_repeats": 2}}


@pytest.fixture(scope="module")
def wy_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("wy")
    result = run_workflow(workdir, WY_CONFIG)
    assert result.returncode == 0, result.stderr[-3000:]
    (workdir / "stdout.txt").write_text(result.stdout + result.stderr)
    return workdir


def test_workflow_prints_headline(wy_run):
    """Check that the run ends by printing the state's headline figures with their uncertainty."""
    text = (wy_run / "stdout.txt").read_text()
    assert "WY 2018 1-Year: 2,384 sample households representing 230,266" in text
    assert "published B19013 $61,584 (90% MOE ±$1,401)" in text


def test_workflow_wy_summary_matches_independent_calculation(wy_run):
    """Check that the WY data summary agrees with a calculation straight from the Census zip."""
    summary = json.loads((wy_run / "results/WY/2018/data_summary.json").read_text())
    with zipfile.ZipFile(WY_ZIP) as archive:
        raw = pd.read_csv(archive.open("psam_p56.csv"), usecols=["SERIALNO", "RELP", "AGEP", "PINCP", "ADJINC", "PWGTP"])
    householders = raw[raw["RELP"] == 0]
    adults = raw[(raw["AGEP"] >= 15) & ~raw["RELP"].isin([16, 17])]
    income = (adults["PINCP"] * adults["ADJINC"] / 1e6).groupby(adults["SERIALNO"]).sum()
    income = income.reindex(householders["SERIALNO"]).fillna(0).to_numpy()
    median = np.quantile(np.repeat(income, householders["PWGTP"].to_numpy()), 0.5, method="inverted_cdf")

    assert summary["households"]["sample"] == len(householders)
    assert summary["households"]["weighted"]["estimate"] == householders["PWGTP"].sum()
    assert summary["median_household_income"]["estimate"] == pytest.approx(median, abs=0.01)
    published = summary["published_median_household_income"]
    assert published["estimate"] == 61584 and published["moe90"] == 1401
    assert summary["comparison_with_published"]["within_two_se"] is True


def test_workflow_writes_logs_benchmarks_and_missing_data(wy_run):
    """Check that every rule leaves a log and a benchmark, and the missing-data table covers all groups."""
    for rule in ("fetch_persons", "build_households", "summarize_data"):
        assert "done" in (wy_run / f"logs/WY/2018/{rule}.log").read_text()
        benchmark = pd.read_csv(wy_run / f"results/WY/2018/benchmarks/{rule}.tsv", sep="\t")
        assert benchmark["s"].iloc[0] > 0
    missing = pd.read_csv(wy_run / "results/WY/2018/missing_data.csv")
    assert set(missing["group_variable"]) == {"all", "race", "hispanic_origin", "sex", "age_band"}
    tiny = missing[(missing["n"] > 0) & (missing["n"] < 30)]
    assert not tiny.empty and not tiny["allocated_reliable"].any()


def test_workflow_rerun_is_up_to_date(wy_run):
    """Check that a second run finds nothing to do (outputs complete, params unchanged)."""
    result = run_workflow(wy_run, WY_CONFIG, "-n")
    assert result.returncode == 0
    assert "Nothing to be done" in result.stdout + result.stderr


def test_workflow_models_metrics_for_both_tasks(wy_run):
    """Check that every model of both tasks is evaluated with SEs, and compared with the linear baseline."""
    for task, baseline in (("regression", "ols"), ("classification", "logistic")):
        table = pd.read_csv(wy_run / f"results/WY/2018/households/metrics/{task}.csv")
        levels = table[table["baseline"].isna()]
        assert set(levels["model"]) == {"dummy", baseline, "random_forest", "xgboost", "mlp"}
        differences = table[table["baseline"] == baseline]
        assert set(differences["model"]) == {"dummy", "random_forest", "xgboost", "mlp"}
        headline = "r2" if task == "regression" else "roc_auc"
        real = levels[(levels["metric"] == headline) & (levels["model"] != "dummy")]
        assert (real["se"] > 0).all() and (real["estimate"] > 0.2).all()
        tuning = pd.read_csv(wy_run / f"results/WY/2018/households/tuning/{task}/xgboost.csv")
        assert tuning["candidate"].nunique() == 4
        coefficients = pd.read_csv(wy_run / f"results/WY/2018/households/coefficients/{task}.csv")
        assert len(coefficients) > 10


def test_workflow_mlp_history_and_architecture(wy_run):
    """Check that the MLP's saved history shows learning and its parameter count fits its layers."""
    for task in ("regression", "classification"):
        history = pd.read_csv(wy_run / f"results/WY/2018/households/mlp/{task}_history.csv")
        assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]
        assert history["val_loss"].notna().all() and (history["lr"] > 0).all()
        architecture = json.loads((wy_run / f"results/WY/2018/households/mlp/{task}_architecture.json").read_text())
        inputs, hidden = architecture["n_inputs"], architecture["settings"]["hidden_layer_sizes"]
        assert hidden == [32]
        assert architecture["n_parameters"] == inputs * 32 + 32 + 32 + 1
        assert architecture["best_epoch"] < architecture["epochs_run"]


def test_workflow_fairness_audit_explains_small_groups(wy_run):
    """Check that WY's tiny groups are flagged or suppressed with a reason, never dropped."""
    groups = pd.read_csv(wy_run / "results/WY/2018/households/fairness/classification_groups.csv")
    race = groups[(groups["group_variable"] == "race") & (groups["model"] == "xgboost")
                  & (groups["metric"] == "false_negative_rate")]
    assert len(race) == 10  # All + the nine race categories, present or not
    suppressed = race[race["suppressed"]]
    assert not suppressed.empty and suppressed["estimate"].isna().all()
    assert suppressed["reason"].str.contains("suppressed: only|no sample households").all()
    disparities = pd.read_csv(wy_run / "results/WY/2018/households/fairness/classification_disparities.csv")
    parity = disparities[(disparities["metric"] == "demographic_parity") & (disparities["group_variable"] == "sex")]
    assert set(parity["model"]) >= {"logistic", "xgboost"}
    assert (parity.loc[parity["model"] != "dummy", "difference_se"] > 0).all()  # the dummy selects no one


def test_workflow_acsincome_reports_folktables_baseline(wy_run):
    """Check that person mode evaluates tuned XGBoost next to the folktables-style GBM, accuracy with SEs."""
    table = pd.read_csv(wy_run / "results/WY/2018/acsincome/metrics/classification.csv")
    accuracy = table[(table["metric"] == "accuracy") & table["baseline"].isna()].set_index("model")
    assert {"folktables_gbm", "xgboost", "logistic", "dummy"} <= set(accuracy.index)
    assert accuracy.loc["folktables_gbm", "estimate"] > accuracy.loc["dummy", "estimate"]
    assert (accuracy["se"] > 0).all()
    assert not (wy_run / "results/WY/2018/acsincome/metrics/regression.csv").exists()


def test_workflow_explanations_add_up_and_rank_features(wy_run):
    """Check that WY's SHAP values are top-feature rows for both tree models and importances carry SEs."""
    root = wy_run / "results/WY/2018/households/explain"
    importance = pd.read_csv(root / "regression_importance.csv")
    shap = importance[importance["method"] == "shap"]
    assert set(shap["model"]) == {"random_forest", "xgboost"}
    assert set(importance.loc[importance["method"] == "permutation", "model"]) == {"ols", "random_forest", "xgboost", "mlp"}
    assert (shap["importance"] >= 0).all() and (shap["se"] > 0).any()
    values = pd.read_parquet(root / "regression_shap.parquet")
    top = shap[shap["model"] == "xgboost"].nsmallest(10, "rank")["feature"]
    assert set(values.loc[values["model"] == "xgboost", "feature"]) == set(top)
    # weighted mean |SHAP| of a top feature, recomputed from the SHAP rows
    feature = top.iloc[0]
    rows = values[(values["model"] == "xgboost") & (values["feature"] == feature)]
    expected = np.average(rows["shap"].abs(), weights=rows["weight"])
    assert shap.set_index(["model", "feature"]).loc[("xgboost", feature), "importance"] == pytest.approx(expected, rel=1e-6)
    groups = pd.read_csv(root / "regression_shap_groups.csv")
    race = groups[groups["group_variable"] == "race"]
    assert race["suppressed"].any() and race.loc[race["suppressed"], "reason"].notna().all()


def test_workflow_mitigation_and_scenarios_run_on_a_small_state(wy_run):
    """Check that WY's mitigation table has every variant and its scenarios flag small groups with reasons."""
    mitigation = pd.read_csv(wy_run / "results/WY/2018/households/fairness/classification_mitigation.csv")
    assert set(mitigation["variant"]) == {"unmitigated", "threshold_optimizer", "exponentiated_gradient", "with_protected"}
    accuracy = mitigation[(mitigation["metric"] == "accuracy") & (mitigation["group"] == "All")]
    assert accuracy["estimate"].between(0.5, 1).all() and (accuracy["se"] > 0).all()
    scenarios = pd.read_csv(wy_run / "results/WY/2018/households/scenarios.csv")
    overall = scenarios[scenarios["group_variable"] == "All"].set_index(["scenario", "measure"])
    assert overall.loc[("high_school_diploma", "median_income"), "change"] >= 0
    assert overall.loc[("extra_worker", "low_income_share"), "change"] < 0
    assert scenarios["note"].str.contains("not causal").all()
    small = scenarios[scenarios["suppressed"]]
    assert not small.empty and small["reason"].notna().all() and small["change"].isna().all()


def test_workflow_report_has_every_section_and_opens_in_a_browser(wy_run, tmp_path):
    """Check that WY's report has the ten sections, callouts, maps and the network walk-through, and renders cleanly."""
    from policyml.report.browser_check import browser_missing, check_in_browser

    html = (wy_run / "results/WY/2018/report.html").read_text()
    headings = re.findall(r'<h1[^>]*data-number="(\d+)"', html) or re.findall(r'<h1[^>]*>\s*<span class="header-section-number">(\d+)', html)
    assert len(set(headings)) >= 11, headings  # ten sections + the neural-network walk-through
    assert html.count("Policy Insight") >= 11
    assert "neural network" in html.lower() and "Wyoming" in html
    assert html.count("data:image/png;base64") >= 10  # figures and maps, embedded
    assert "Rendered with" in html and "http://" not in html.replace("http://www.w3.org", "")
    missing = browser_missing()
    if missing:
        pytest.skip(f"browser check unavailable: {missing}")
    problems = check_in_browser(wy_run / "results/WY/2018/report.html", tmp_path / "report.png")
    assert problems == []
    assert (tmp_path / "report.png").stat().st_size > 10_000


# ------------------------------------------------------------------------------- real Quarto


def _quarto_or_skip() -> str:
    from policyml.report.render import quarto_binary

    quarto = quarto_binary()
    if quarto is None:
        pytest.skip("no Quarto on PATH or in the virtual environment (tools/install-quarto.sh "
                    "installs one where ../shared/tools/quarto exists)")
    return quarto


def _report_folder_files() -> list[str]:
    return sorted(str(p.relative_to(REPO)) for p in (REPO / "report").rglob("*"))


def test_workflow_report_rendered_by_real_quarto(wy_run):
    """Check that with Quarto installed the workflow's report is Quarto's, footer naming its version, and report/ stays clean."""
    from policyml.report.render import quarto_version, rendered_with

    quarto = _quarto_or_skip()
    report = wy_run / "results/WY/2018/report.html"
    assert rendered_with(report) == f"Rendered with Quarto {quarto_version(quarto)}"
    assert 'class="callout callout-style-default callout-note' in report.read_text()  # Quarto's own callouts
    assert _report_folder_files() == sorted(f"report/{name}" for name in (
        "_quarto.yml", "filters", "filters/callouts.lua", "policyml.css", "report.qmd"))
    assert not list((wy_run / "results/WY/2018").glob("*render*"))
    assert f"policyml: report results/WY/2018/report.html (Rendered with Quarto" in (wy_run / "stdout.txt").read_text()


def test_workflow_quarto_and_fallback_give_the_same_document(wy_run, tmp_path):
    """Check that Quarto and the fallback give the same headings, callouts, figures, captions and prose numbers."""
    from html_text import read_report

    from policyml.report.render import rendered_with

    _quarto_or_skip()
    quarto_page = wy_run / "results/WY/2018/report.html"
    assert rendered_with(quarto_page).startswith("Rendered with Quarto")
    fallback_page = tmp_path / "fallback.html"
    params = {"state": "WY", "year": 2018, "results": "results/WY/2018", "mirrors": []}
    from policyml.report.render import render_report

    assert render_report(REPO / "report/report.qmd", fallback_page, params, engine="jupyter",
                         workdir=wy_run, progress=lambda _: None) == "jupyter"
    quarto, fallback = read_report(quarto_page.read_text()), read_report(fallback_page.read_text())
    assert len(quarto.headings) >= 30 and quarto.headings == fallback.headings
    assert len(quarto.callouts) >= 11 and quarto.callouts == fallback.callouts
    assert quarto.figures >= 10 and quarto.figures == fallback.figures
    assert quarto.captions == fallback.captions and quarto.captions[0].startswith("Figure 1: ")
    assert len(quarto.numbers) > 500 and quarto.numbers == fallback.numbers
    assert quarto.text == fallback.text


def test_workflow_quarto_renders_side_by_side(wy_run, tmp_path):
    """Check that three Quarto renders at once all succeed, give the same page text and leave nothing behind."""
    from html_text import read_report

    _quarto_or_skip()
    command = [sys.executable, "-m", "policyml.report.render", str(REPO / "report/report.qmd"),
               "-P", "state=WY", "-P", "year=2018", "-P", "results=results/WY/2018",
               "--engine", "quarto", "--workdir", str(wy_run)]
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    environment = {**os.environ, "TMPDIR": str(scratch)}
    processes = [subprocess.Popen([*command, "-o", str(tmp_path / f"report{i}.html")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  env=environment) for i in range(3)]
    errors = [process.communicate(timeout=600)[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0], errors
    pages = [read_report((tmp_path / f"report{i}.html").read_text()) for i in range(3)]
    assert pages[0].text == pages[1].text == pages[2].text and pages[0].figures >= 10
    assert list(scratch.iterdir()) == []
    assert _report_folder_files() == sorted(f"report/{name}" for name in (
        "_quarto.yml", "filters", "filters/callouts.lua", "policyml.css", "report.qmd"))


def _planned_jobs(workdir: Path, overrides: dict) -> dict[str, int]:
    """The jobs ``snakemake -n`` plans on a finished run with ``overrides``: rule -> count."""
    result = run_workflow(workdir, overrides, "-n")
    assert result.returncode == 0, result.stderr[-3000:]
    text = result.stdout + result.stderr
    if "Nothing to be done" in text:
        return {}
    table = text.split("Job stats:", 1)[1].split("total", 1)[0]
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


FIT_RULES = {"fetch_persons", "build_households", "build_features", "split_data", "fit_model",
             "tune_model", "fit_mlp", "tabulate_coefficients"}


def test_workflow_new_decision_threshold_refits_nothing(wy_run):
    """Check that changing models.threshold reruns evaluation, audit, mitigation and the report only."""
    overrides = WY_CONFIG | {"models": {**WY_CONFIG["models"], "threshold": 0.4}}
    jobs = set(_planned_jobs(wy_run, overrides))
    assert {"evaluate_models", "audit_fairness", "compare_mitigation", "render_report"} <= jobs
    assert jobs <= {"evaluate_models", "audit_fairness", "compare_mitigation", "record_run_settings",
                    "render_report", "all"}, jobs


def test_workflow_new_cv_threshold_rebuilds_no_data_or_model(wy_run):
    """Check that changing estimates.cv_threshold reruns no fetch, household, feature or model rule."""
    jobs = set(_planned_jobs(wy_run, WY_CONFIG | {"estimates": {"cv_threshold": 0.25}}))
    assert {"summarize_data", "summarize_missing_data", "evaluate_models", "render_report"} <= jobs
    assert not jobs & FIT_RULES, jobs & FIT_RULES


def test_workflow_edited_report_reruns_only_the_render(wy_run):
    """Check that editing report.qmd reruns the render job and nothing else."""
    qmd = REPO / "report" / "report.qmd"
    text, before = qmd.read_bytes(), qmd.stat()
    try:  # a real edit: Snakemake ignores a newer mtime when the content's checksum is unchanged
        qmd.write_bytes(text + b"\n<!-- an edit -->\n")
        assert _planned_jobs(wy_run, WY_CONFIG) == {"render_report": 1, "all": 1}
    finally:
        qmd.write_bytes(text)
        os.utime(qmd, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_workflow_same_seed_same_metrics(wy_run, tmp_path):
    """Check that a second run from scratch with the same seed reproduces the metrics exactly."""
    overrides = WY_CONFIG | {"units": ["households"],
                             "models": {"regression": ["ols", "xgboost"], "classification": ["logistic"],
                                        "tuning": {"n_candidates": 4}}}
    result = run_workflow(tmp_path, overrides, "results/WY/2018/households/metrics/regression.csv")
    assert result.returncode == 0, result.stderr[-3000:]
    again = pd.read_csv(tmp_path / "results/WY/2018/households/metrics/regression.csv")
    first = pd.read_csv(wy_run / "results/WY/2018/households/metrics/regression.csv")
    first = first[first["model"].isin(["ols", "xgboost"]) & first["baseline"].isin([np.nan, "ols"])]
    pd.testing.assert_frame_equal(again.reset_index(drop=True), first.reset_index(drop=True), check_dtype=False)


def test_workflow_several_states_fan_out(tmp_path):
    """Check that states=[VT,WY] (and FIPS codes) plan one data summary per state."""
    result = run_workflow(tmp_path, {"states": ["VT", 56]}, "-n")
    assert result.returncode == 0, result.stderr
    text = result.stdout + result.stderr
    assert "results/VT/2018/data_summary.json" in text and "results/WY/2018/data_summary.json" in text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"states": ["XX"]}, "unknown state 'XX'"),
        ({"year": 2020}, "experimental weights"),
        ({"year": 2009}, "year 2009 is not supported"),
        ({"survey": "3-Year"}, "survey='3-Year' is invalid"),
        ({"colour": "red"}, "'colour' was unexpected"),
    ],
)
def test_workflow_bad_config_fails_before_any_job(tmp_path, overrides, message):
    """Check that a bad config stops the run with one clear line, non-zero exit and no outputs."""
    result = run_workflow(tmp_path, overrides, "-n")
    assert result.returncode != 0
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("policyml: error:")]
    assert len(error_lines) == 1 and message in error_lines[0] and "fix:" in error_lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists()


def assert_clean_failure(result, workdir: Path, state: str, message: str):
    assert result.returncode != 0
    assert message in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    outputs = [p for p in (workdir / "results" / state).rglob("*") if p.is_file() and "benchmarks" not in p.parts]
    assert outputs == []


def test_workflow_corrupted_zip_fails_cleanly(tmp_path):
    """Check that a truncated PUMS zip in a mirror gives a clear error and leaves no outputs."""
    name, payload = wy_as_state("44", "ri")
    mirror = make_mirror(tmp_path / "mirror", name, payload[: len(payload) // 2])
    result = run_workflow(tmp_path, {"states": ["RI"], **offline(tmp_path, mirrors=[str(mirror)])})
    assert_clean_failure(result, tmp_path, "RI", "not a valid zip file")


def test_workflow_missing_column_fails_cleanly(tmp_path):
    """Check that a person file without PWGTP names the column and leaves no outputs."""
    name, payload = wy_as_state("44", "ri", lambda frame: frame.drop(columns=["PWGTP"]))
    mirror = make_mirror(tmp_path / "mirror", name, payload)
    result = run_workflow(tmp_path, {"states": ["RI"], **offline(tmp_path, mirrors=[str(mirror)])})
    assert_clean_failure(result, tmp_path, "RI", "lacks required columns PWGTP")


def test_workflow_offline_without_file_says_how_to_fix(tmp_path):
    """Check that a state with no local file and downloads off names the places searched and the fix."""
    result = run_workflow(tmp_path, {"states": ["DE"], **offline(tmp_path)})
    assert_clean_failure(result, tmp_path, "DE", "data.download=true")


class _PumsServer(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output quiet
        pass


@pytest.fixture
def pums_server(tmp_path):
    root = tmp_path / "census"
    handler = partial(_PumsServer, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_workflow_downloads_missing_state_from_server(tmp_path, pums_server, monkeypatch):
    """Check that a state absent locally is downloaded (real HTTP, into the cache) and processed."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    root, url = pums_server
    name, payload = wy_as_state("44", "ri")
    (root / "2018" / "1-Year").mkdir(parents=True)
    (root / "2018" / "1-Year" / name).write_bytes(payload)
    overrides = {"states": ["RI"], "published": {"source": "offline"},
                 "data": {"base_url": url, "cache_dir": str(tmp_path / "cache"), "retries": 1}}
    result = run_workflow(tmp_path, overrides, "results/RI/2018/data_summary.json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "cache" / "pums" / "2018" / "1-Year" / name).read_bytes() == payload
    summary = json.loads((tmp_path / "results/RI/2018/data_summary.json").read_text())
    assert summary["households"]["sample"] == 2384  # WY's households, relabelled
    assert summary["published_median_household_income"]["estimate"] == 64340  # RI's published B19013


def test_workflow_lint_passes():
    """Check that `snakemake --lint` finds nothing to complain about."""
    result = subprocess.run([str(SNAKEMAKE), "--lint"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations" in result.stdout + result.stderr


def wy_housing_zip() -> bytes:
    """A WY housing file built from the person file: HINCP = members' PINCP, WGTP = householder's PWGTP,
    plus a vacant unit and a group-quarters record that must be left out."""
    with zipfile.ZipFile(WY_ZIP) as archive:
        persons = pd.read_csv(archive.open("psam_p56.csv"), dtype={"SERIALNO": str})
    households = persons[persons["RELP"] == 0].set_index("SERIALNO")
    members = persons[~persons["RELP"].isin([16, 17])]
    income = members.loc[members["AGEP"] >= 15].groupby("SERIALNO")["PINCP"].sum()
    replicate = [f"WGTP{r}" for r in range(1, 81)]
    housing = pd.DataFrame({
        "SERIALNO": households.index, "PUMA": households["PUMA"].to_numpy(), "ADJINC": households["ADJINC"].to_numpy(), "TYPE": 1,
        "NP": members.groupby("SERIALNO").size().reindex(households.index).to_numpy(),
        "WGTP": households["PWGTP"].to_numpy(),
        "HINCP": income.reindex(households.index).fillna(0).to_numpy(), "FHINCP": 0, "FFINCP": 0,
    })
    housing["FINCP"] = housing["HINCP"]
    housing = pd.concat([housing, households[[f"PWGTP{r}" for r in range(1, 81)]].set_axis(replicate, axis=1)
                         .reset_index(drop=True)], axis=1)
    extra = housing.iloc[:2].copy()
    extra["SERIALNO"] = ["2018HU9999998", "2018GQ9999999"]
    extra["NP"], extra["TYPE"] = [0, 1], [1, 3]
    housing = pd.concat([housing, extra], ignore_index=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("psam_h56.csv", housing.to_csv(index=False))
    return buffer.getvalue()


def test_workflow_housing_file_gives_the_same_households(wy_run, tmp_path):
    """Check that with housing_file=true (HINCP, WGTP) WY has the same households and median income."""
    target = tmp_path / "mirror" / "pums-housing" / "2018" / "1-Year" / "csv_hwy.zip"
    target.parent.mkdir(parents=True)
    target.write_bytes(wy_housing_zip())
    overrides = WY_CONFIG | {"housing_file": True, **offline(tmp_path, mirrors=[str(tmp_path / "mirror")])}
    result = run_workflow(tmp_path, overrides, "results/WY/2018/data_summary.json")
    assert result.returncode == 0, result.stderr[-3000:]
    with_housing = json.loads((tmp_path / "results/WY/2018/data_summary.json").read_text())
    persons_only = json.loads((wy_run / "results/WY/2018/data_summary.json").read_text())
    assert with_housing["household_income_source"] == "HINCP (housing file)"
    assert with_housing["households"] == persons_only["households"]
    assert with_housing["median_household_income"]["estimate"] == pytest.approx(
        persons_only["median_household_income"]["estimate"], abs=0.01)
