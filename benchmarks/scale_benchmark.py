"""How every pipeline stage's time and peak memory grow from one state to many households.

Three data sets of households (rows = occupied housing units), by default:

    NM        the embedded New Mexico 2018 households, built from the person zip in resources/
    NMx10     NM resampled to 10 times its households (benchmarks/modelling_scaling.resample:
              drawn with replacement, fresh SERIALNOs, all 81 weights divided by 10)
    pooled8   the complete 2018 1-Year person files of eight states (DE MT ND NM RI SD VT WY) in the
              mirror /work/shared/data, households built per state and concatenated; PUMA codes
              get the state FIPS code in front (3500100 = NM 00100) so they stay distinct, and
              SERIALNOs are checked unique. Skipped, with a message, when the mirror is absent.

and on each the stages the workflow's rules run, with the same package calls as workflow/scripts/
(regression task for the model stages; configuration defaults of config/config.schema.yaml):

    fetch_persons        load_persons per state: zip -> canonical person table    (rule fetch_persons)
    build_households     build_households + missing_data_summary per state        (rule build_households)
    build_features       build_feature_table                                      (rule build_features)
    split                split_households + representativeness                    (rule split_data)
    fit_ols              fit("ols")                                               (rule fit_model)
    tune_xgboost         fit("xgboost"): successive-halving search + refit        (rule tune_model)
    tune_random_forest   fit("random_forest"): the same                           (rule tune_model)
    evaluate             evaluate_task on the OLS, forest and XGBoost predictions (rule evaluate_models)
    audit_fairness       audit_task on the same predictions                       (rule audit_fairness)
    explain              explain_task on the OLS and XGBoost pipelines            (rule explain_models)
    scenarios            run_scenarios, the config's scenarios, XGBoost models    (rule run_scenarios)

NMx10 has no person file: its fetch_persons and build_households rows are left out (the resampling
that stands in for them is not a pipeline stage and is not reported). The scenarios stage needs an
XGBoost model of the classification task too (the config's scenarios.model): it is tuned, with the
same budget, by an unreported worker before the scenarios stage.

Run from the project root:

    .venv/bin/python benchmarks/scale_benchmark.py                     # NM, NMx10, pooled8; 3 candidates (~15 min)
    .venv/bin/python benchmarks/scale_benchmark.py --quick             # smoke run, 4-7 minutes on 2 busy cores
    .venv/bin/python benchmarks/scale_benchmark.py --datasets NM pooled8 --stages build_households explain

Measurement is that of benchmarks/modelling_scaling.py (whose helpers are imported): every stage of
every data set runs in a fresh subprocess that re-invokes this script with the hidden ``--worker``
argument, so its ``ru_maxrss`` is its own; the parent imports only the standard library and stays
small, because on Linux a child's ``ru_maxrss`` starts at its parent's peak. A worker imports
everything, reads the stage's input files (written by the workers of the earlier stages, with the
workflow's own writers), reads ``ru_maxrss`` (baseline_MB), runs and times the package call,
reads ``ru_maxrss`` again (peak_MB, the process's absolute peak) and then writes the stage's
outputs, untimed. workers_MB sums the peak resident sizes of the stage's live child processes
(the tuning searches' loky workers; an upper bound, shared pages counted in each). cpu_s is the
user + system CPU time of the process and those children: the steadier reading when other jobs
share the cores. Stages not asked for but needed by one that is are run first, unreported.

Each row also gives input_MB, the size of the files the workflow rule would receive as ``input``
(here: the files this stage reads; MiB, as Snakemake's ``input.size_mb``), and rule_mem_MB, what
the rule's ``mem_mb=memory(base, per_input_mb, per_thread_mb)`` in workflow/rules/*.smk asks for at the first
attempt (read from the rule files at run time). Compare it with peak_MB + workers_MB.

Ratios are each data set's figure over the base data set's (NM, else the first given), and the
growth exponent is log(ratio) / log(households ratio): 1 is linear, above 1 superlinear. Times are
wall-clock seconds on a shared machine: read them, never assert them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from modelling_scaling import (  # benchmarks/ is on sys.path
    _children,
    _cpu_seconds,
    _max_rss_mb,
    format_table,
    resample,
    shutdown_workers,
    spawn,
    write_csv,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "scale_benchmark.csv"
MIRROR = Path("/work/shared/data")
POOLED_STATES = ("DE", "MT", "ND", "NM", "RI", "SD", "VT", "WY")
TASK = "regression"
STAGES = (
    "fetch_persons", "build_households", "build_features", "split", "fit_ols", "tune_xgboost",
    "tune_random_forest", "evaluate", "audit_fairness", "explain", "scenarios",
)
# unreported workers that make an input a stage needs
RESAMPLE = "resample"  # NMx<k>: the resampled household table, in place of the person file
SCENARIO_MODEL = "tune_xgboost_classification"  # the scenarios' classification model
ORDER = (
    "fetch_persons", "build_households", RESAMPLE, "build_features", "split", "fit_ols", "tune_xgboost",
    "tune_random_forest", SCENARIO_MODEL, "evaluate", "audit_fairness", "explain", "scenarios",
)
FITTED = {"fit_ols": "ols", "tune_xgboost": "xgboost", "tune_random_forest": "random_forest"}
EXPLAINED = ("ols", "xgboost")
DEPENDS = {  # the stages whose outputs a stage reads; "households" is build_households or resample
    "fetch_persons": (),
    "build_households": ("fetch_persons",),
    RESAMPLE: (),
    "build_features": ("households",),
    "split": ("build_features",),
    "fit_ols": ("split",),
    "tune_xgboost": ("split",),
    "tune_random_forest": ("split",),
    SCENARIO_MODEL: ("split",),
    "evaluate": ("fit_ols", "tune_xgboost", "tune_random_forest"),
    "audit_fairness": ("fit_ols", "tune_xgboost", "tune_random_forest"),
    "explain": ("fit_ols", "tune_xgboost"),
    "scenarios": ("households", "build_features", "tune_xgboost", SCENARIO_MODEL),
}
RULES = {  # stage -> the workflow rule that runs it
    "fetch_persons": "fetch_persons", "build_households": "build_households", "build_features": "build_features",
    "split": "split_data", "fit_ols": "fit_model", "tune_xgboost": "tune_model", "tune_random_forest": "tune_model",
    "evaluate": "evaluate_models", "audit_fairness": "audit_fairness", "explain": "explain_models",
    "scenarios": "run_scenarios",
}
FIGURES = ("seconds", "cpu_s", "baseline_MB", "peak_MB", "workers_MB", "input_MB")
COLUMNS = (
    "stage", "dataset", "households", "seconds", "cpu_s", "baseline_MB", "peak_MB", "workers_MB", "total_MB",
    "input_MB", "rule_mem_MB", "rows_ratio", "time_ratio", "cpu_ratio", "mem_ratio",
    "time_exponent", "cpu_exponent", "mem_exponent",
)


def progress(message: str) -> None:
    print(f"[scale_benchmark {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------
# Data sets


def parse_dataset(name: str, pooled_states: list[str]) -> dict:
    """``NM`` (one state), ``NMx10`` (a state resampled k times), ``pooled`` / ``pooled8`` (the pooled states)."""
    if name.lower().startswith("pooled"):
        return {"label": f"pooled{len(pooled_states)}", "kind": "pooled", "states": list(pooled_states), "scale": 1.0}
    match = re.fullmatch(r"([A-Za-z]{2})(?:x([0-9.]+))?", name)
    if not match:
        raise argparse.ArgumentTypeError(f"unknown data set {name!r}: use NM, NMx10 or pooled8")
    state, scale = match.group(1).upper(), match.group(2)
    if scale is None:
        return {"label": state, "kind": "state", "states": [state], "scale": 1.0}
    if float(scale) <= 0:
        raise argparse.ArgumentTypeError(f"the scale of {name!r} must be > 0")
    return {"label": f"{state}x{float(scale):g}", "kind": "resampled", "states": [state], "scale": float(scale)}


def stage_applies(stage: str, dataset: dict) -> bool:
    if dataset["kind"] == "resampled":
        return stage not in ("fetch_persons", "build_households")
    return stage != RESAMPLE


def needed_stages(selected: list[str], dataset: dict) -> list[str]:
    """The stages (and helper workers) to run, in pipeline order: the selected ones and their inputs'."""
    households = RESAMPLE if dataset["kind"] == "resampled" else "build_households"
    wanted, queue = set(), [s for s in selected if stage_applies(s, dataset)]
    while queue:
        stage = queue.pop()
        if stage in wanted:
            continue
        wanted.add(stage)
        queue += [households if d == "households" else d for d in DEPENDS[stage]]
    return [s for s in ORDER if s in wanted]


# ------------------------------------------------------------------------------------------------
# Rule memory requests (workflow/rules/*.smk), read by the parent with the standard library


def rule_memory() -> dict[str, tuple[float, float, float]]:
    """rule name -> (base_mb, per_input_mb, per_thread_mb) of its ``mem_mb=memory(...)``; rules
    without it are left out."""
    found: dict[str, tuple[float, float, float]] = {}
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        rule = None
        for line in path.read_text().splitlines():
            header = re.match(r"(?:rule (\w+)|use rule \w+ as (\w+) with)\s*:", line)
            if header:
                rule = header.group(1) or header.group(2)
                continue
            memory = re.search(r"mem_mb\s*=\s*memory\(\s*([0-9.]+)\s*(?:,\s*([0-9.]+)\s*)?"
                               r"(?:,\s*per_thread_mb\s*=\s*([0-9.]+)\s*)?\)", line)
            if memory and rule:
                found[rule] = (float(memory.group(1)), float(memory.group(2) or 0), float(memory.group(3) or 0))
    return found


# ------------------------------------------------------------------------------------------------
# Worker side (a fresh process per stage): heavy imports happen only here.


def _settings(dataset: dict):
    from policyml.core.config import load_settings

    mirrors = [str(MIRROR)] if MIRROR.is_dir() else []
    return load_settings({"states": dataset["states"], "data": {"mirrors": mirrors, "download": False}})


def _files(folder: Path) -> dict[str, Path]:
    return {
        "households": folder / "households.parquet",
        "features": folder / "features.parquet",
        "spec": folder / "feature_spec.json",
        "split": folder / "split.parquet",
        "models": folder / "models",
        "predictions": folder / "predictions",
    }


def _model(folder: Path, name: str) -> Path:
    return folder / "models" / f"{name}.skops"


def _predictions(folder: Path, name: str) -> Path:
    return folder / "predictions" / f"{name}.parquet"


def _persons(folder: Path, state: str) -> Path:
    return folder / "persons" / f"{state}.parquet"


def build_pooled_households(persons: dict, dictionary, estimates: dict, pooled: bool):
    """The build_households rule per state (households + missing-data table), then, for a pooled
    data set, the states' tables concatenated with state-unique PUMA codes (FIPS + PUMA)."""
    import pandas as pd

    from policyml.data.households import build_households
    from policyml.data.summary import missing_data_summary

    tables = []
    for state, frame in persons.items():
        households = build_households(frame, dictionary)
        missing_data_summary(households, estimates)
        if pooled:
            households["puma"] = households["ST"].astype(str).str.zfill(2) + households["puma"].astype(str)
        tables.append(households)
    if len(tables) == 1:
        return tables[0]
    households = pd.concat(tables, ignore_index=True)
    if not households["SERIALNO"].is_unique:  # Census serial numbers are national; checked anyway
        households["SERIALNO"] = households["ST"].astype(str) + households["SERIALNO"].astype(str)
    assert households["SERIALNO"].is_unique
    households.attrs = {"states": list(persons), "year": 2018, "pooled": True}
    return households


def run_stage(stage: str, dataset: dict, folder: Path, args) -> dict:
    """Read the stage's inputs, run and time its package call, then write its outputs (untimed)."""
    import gc

    import pandas as pd

    from policyml.core.outputs import write_json, write_parquet
    from policyml.data.ingest import load_dictionary

    # Each stage imports only what its workflow script does: imports are most of a small job's
    # peak (measured: pandas + policyml.data.ingest 113 MB, + policyml.model.split 181 MB, policyml.model.modelling
    # with scikit-learn, XGBoost and fairlearn 391 MB, policyml.audit.explain with shap 481 MB).
    settings = _settings(dataset)
    files = _files(folder)
    seed = settings.seed
    dictionary = load_dictionary(settings)
    inputs: list[Path] = []  # what the workflow rule would get as input (for input_MB)

    def task_inputs() -> list[Path]:
        return [files["features"], files["spec"], files["split"]]

    if stage == "fetch_persons":
        from policyml.core.states import resolve_state
        from policyml.data.ingest import load_persons

        states = [resolve_state(s) for s in dataset["states"]]
        run = lambda: {s.postal: load_persons(settings, s, dictionary) for s in states}  # noqa: E731

        def write(result):
            for state, persons in result.items():
                write_parquet(persons, _persons(folder, state))
    elif stage in ("build_households", RESAMPLE):
        if stage == "build_households":
            inputs = [_persons(folder, s) for s in dataset["states"]]
            persons = {s: pd.read_parquet(_persons(folder, s)) for s in dataset["states"]}
            run = lambda: build_pooled_households(persons, dictionary, settings.estimates,  # noqa: E731
                                                  pooled=dataset["kind"] == "pooled")
        else:  # NMx<k>: the state's households, resampled
            from policyml.core.states import resolve_state
            from policyml.data.households import build_households
            from policyml.data.ingest import load_persons

            state = resolve_state(dataset["states"][0])
            base = build_households(load_persons(settings, state, dictionary), dictionary)
            run = lambda: resample(base, dataset["scale"], seed)  # noqa: E731

        def write(result):
            write_parquet(result, files["households"])
    elif stage == "build_features":
        from policyml.model.features import FeatureSpec, build_feature_table

        inputs = [files["households"]]
        households = pd.read_parquet(files["households"])
        spec = FeatureSpec.from_config(settings.features)
        run = lambda: build_feature_table(households, dictionary, spec, settings.targets)  # noqa: E731

        def write(table):
            write_parquet(table.frame, files["features"])
            write_json(table.spec_record(spec), files["spec"])
    elif stage == "split":
        from policyml.model.split import representativeness, split_households

        inputs = [files["features"], files["spec"]]
        features = pd.read_parquet(files["features"])
        weight = json.loads(files["spec"].read_text())["weight"]
        options = settings.split

        def run():
            split = split_households(features, options["test_size"], options["cv_folds"], options["min_cell"], seed)
            return split, representativeness(features, split, settings.estimates, weight)

        def write(result):
            write_parquet(result[0], files["split"])
    elif stage in FITTED or stage == SCENARIO_MODEL:
        from policyml.model.modelling import fit, predictions_frame, read_task
        from policyml.model.models import save_model

        inputs = task_inputs()
        task, name = ("classification", "xgboost") if stage == SCENARIO_MODEL else (TASK, FITTED[stage])
        data = read_task(files["features"], files["split"], files["spec"], task)
        options = settings.models | {"tuning": {"n_candidates": args.candidates, "factor": 3}}
        run = lambda: fit(name, data, options, seed, n_jobs=args.n_jobs)  # noqa: E731
        model_name = f"{name}_classification" if stage == SCENARIO_MODEL else name

        def write(result):
            save_model(result[0], _model(folder, model_name))
            write_parquet(predictions_frame(result[0], data), _predictions(folder, model_name))
    elif stage in ("evaluate", "audit_fairness"):
        from policyml.model.modelling import (
            audit_task,
            evaluate_task,
            read_predictions,
            read_task,
        )

        paths = [_predictions(folder, m) for m in FITTED.values()]
        inputs = task_inputs() + paths
        data = read_task(files["features"], files["split"], files["spec"], TASK)
        predictions = read_predictions(paths)
        function = evaluate_task if stage == "evaluate" else audit_task
        run = lambda: function(data, predictions, settings.models["threshold"], settings.estimates)  # noqa: E731
        write = None
    elif stage == "explain":
        from policyml.audit.explain import explain_task
        from policyml.model.modelling import read_task
        from policyml.model.models import load_model

        paths = [_model(folder, m) for m in EXPLAINED]
        inputs = task_inputs() + paths
        data = read_task(files["features"], files["split"], files["spec"], TASK)
        pipelines = {p.stem: load_model(p, within=folder) for p in paths}
        descriptions = json.loads(files["spec"].read_text()).get("descriptions", {})
        options = settings.explain | {"shap_sample": args.shap_sample, "permutation_repeats": args.permutation_repeats}
        run = lambda: explain_task(data, pipelines, options, seed=seed, estimates=settings.estimates,  # noqa: E731
                                   n_jobs=args.n_jobs, descriptions=descriptions)
        write = None
    elif stage == "scenarios":
        from policyml.audit.scenarios import run_scenarios
        from policyml.model.models import load_model

        paths = {"regression": _model(folder, "xgboost"), "classification": _model(folder, "xgboost_classification")}
        inputs = [files["households"], files["features"], files["spec"], *paths.values()]
        households = pd.read_parquet(files["households"])
        features = pd.read_parquet(files["features"])
        record = json.loads(files["spec"].read_text())
        pipelines = {task: load_model(path, within=folder) for task, path in paths.items()}
        run = lambda: run_scenarios(households, features, record, pipelines, dictionary, settings)  # noqa: E731
        write = None
    else:
        raise SystemExit(f"unknown stage {stage!r}")

    gc.collect()
    baseline = _max_rss_mb()
    cpu_start = _cpu_seconds()
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_start
    peak = _max_rss_mb()
    workers, workers_cpu = _children()
    if write is not None:
        write(result)
    households = pd.read_parquet(files["households"], columns=["SERIALNO"]) if files["households"].is_file() else None
    n_households = len(households) if households is not None else sum(  # fetch_persons, first run
        int((frame["is_householder"] & ~frame["is_group_quarters"]).sum()) for frame in result.values())
    return {"stage": stage, "dataset": dataset["label"], "households": n_households, "seconds": seconds,
            "cpu_s": cpu + workers_cpu, "baseline_MB": baseline, "peak_MB": peak, "workers_MB": workers,
            "input_MB": sum(p.stat().st_size for p in inputs) / 2**20}


def worker_main(args) -> None:
    import logging
    import warnings

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    warnings.simplefilter("default")
    dataset = json.loads(args.dataset_json)
    figures = run_stage(args.worker, dataset, Path(args.workdir), args)
    Path(args.result).write_text(json.dumps(figures))
    shutdown_workers()


# ------------------------------------------------------------------------------------------------
# Parent side: standard library only (see the module docstring on ru_maxrss).


def measure(stage: str, dataset: dict, folder: Path, args) -> dict:
    result, log = folder / f"result_{stage}.json", folder / f"log_{stage}.txt"
    arguments = [
        "--worker", stage, "--dataset-json", json.dumps(dataset),
        "--workdir", str(folder), "--candidates", str(args.candidates), "--seed", str(args.seed),
        "--n-jobs", str(args.n_jobs), "--shap-sample", str(args.shap_sample),
        "--permutation-repeats", str(args.permutation_repeats), "--result", str(result),
    ]
    spawn(arguments, log, args.blas_threads, script=__file__)
    return json.loads(result.read_text())


def summarise(raw: dict[tuple[str, str], dict], stages: list[str], labels: list[str], base: str,
              memory: dict[str, tuple[float, float, float]], threads: int = 1) -> list[dict]:
    rows = []
    for stage in stages:
        reference = raw.get((stage, base))
        for label in labels:
            figures = raw.get((stage, label))
            if figures is None:
                continue
            row = {k: figures[k] for k in ("stage", "dataset", "households", *FIGURES)}
            row["total_MB"] = figures["peak_MB"] + figures["workers_MB"]
            base_mb, per_mb, per_thread = memory.get(RULES[stage], (math.nan, math.nan, math.nan))
            row["rule_mem_MB"] = base_mb + per_mb * figures["input_MB"] + per_thread * threads
            row |= dict.fromkeys(COLUMNS[COLUMNS.index("rows_ratio"):])
            if reference is not None:
                rows_ratio = figures["households"] / reference["households"]
                row["rows_ratio"] = rows_ratio
                for name, key in (("time", "seconds"), ("cpu", "cpu_s"), ("mem", "peak_MB")):
                    ratio = figures[key] / reference[key] if reference[key] > 0 else None
                    row[f"{name}_ratio"] = ratio
                    if ratio and label != base and abs(math.log(rows_ratio)) > 1e-9:
                        row[f"{name}_exponent"] = math.log(ratio) / math.log(rows_ratio)
            rows.append(row)
    return rows


def _cell(value, column: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, str):
        return value
    if column == "households":
        return f"{value:,}"
    if column.endswith(("_ratio", "_exponent")):
        return f"{value:.2f}"
    if column in ("seconds", "cpu_s"):
        return f"{value:.2f}" if value < 100 else f"{value:.1f}"
    if column == "input_MB":
        return f"{value:.1f}"
    return f"{value:.0f}"  # MB


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["NM", "NMx10", "pooled8"],
                        help="NM (a state), NMx<k> (a state resampled k times), pooled8 (the --pooled-states); "
                             "default: NM NMx10 pooled8")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES), help="stages to measure (default: all)")
    parser.add_argument("--candidates", type=int, default=3,
                        help="tuning budget: candidates in the first halving round (default 3; the workflow uses 16)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: NM, NMx2 and VT+WY pooled; 2 candidates; SHAP on 200 rows, 1 permutation")
    parser.add_argument("--pooled-states", nargs="+", default=list(POOLED_STATES),
                        help=f"states of the pooled data set (default: {' '.join(POOLED_STATES)}; their 2018 1-Year "
                             f"person zips must be in resources/ or {MIRROR})")
    parser.add_argument("--shap-sample", type=int, default=1000, help="test households explained with SHAP (default 1000)")
    parser.add_argument("--permutation-repeats", type=int, default=2, help="shuffles per feature (default 2; the config's is 5)")
    parser.add_argument("--seed", type=int, default=2018, help="resampling seed (default 2018; split and models use the config's seed)")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel fits in the searches, threads in explain (default 2)")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="set OPENBLAS/MKL/OMP_NUM_THREADS in the workers (default: unset, as in the workflow)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"CSV table (default {DEFAULT_OUTPUT.relative_to(ROOT)})")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the intermediate files and worker logs here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--dataset-json", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.datasets, args.pooled_states = ["NM", "NMx2", "pooled"], ["VT", "WY"]
        args.candidates, args.shap_sample, args.permutation_repeats = 2, 200, 1
    if args.candidates < 2 or args.n_jobs < 1 or args.shap_sample < 10 or args.permutation_repeats < 1:
        parser.error("--candidates must be >= 2, --n-jobs and --permutation-repeats >= 1, --shap-sample >= 10")
    args.pooled_states = [s.upper() for s in args.pooled_states]
    try:
        datasets = [parse_dataset(name, args.pooled_states) for name in args.datasets]
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    args.datasets = list({d["label"]: d for d in datasets}.values())
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker_main(args)
        return
    started = time.perf_counter()
    load_before = os.getloadavg()
    stages = [s for s in STAGES if s in args.stages]
    datasets = []
    for dataset in args.datasets:
        embedded = ROOT / "resources" / "pums" / "2018" / "1-Year"
        missing = [s for s in dataset["states"] if not (embedded / f"csv_p{s.lower()}.zip").is_file()
                   and not (MIRROR / "pums" / "2018" / "1-Year" / f"csv_p{s.lower()}.zip").is_file()]
        if missing:
            progress(f"skipping {dataset['label']}: no 2018 1-Year person file for {' '.join(missing)} in "
                     f"{embedded.relative_to(ROOT)} or {MIRROR} (the mirror is {'there' if MIRROR.is_dir() else 'absent'})")
            continue
        datasets.append(dataset)
    if not datasets:
        raise SystemExit("no data set to measure")
    labels = [d["label"] for d in datasets]
    base = next((d["label"] for d in datasets if d["kind"] == "state"), labels[0])
    keep = args.workdir is not None
    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="policyml-scale-"))).resolve()
    progress(f"data sets {' '.join(labels)} (ratios to {base}); stages {' '.join(stages)}; candidates "
             f"{args.candidates}; n_jobs {args.n_jobs}; SHAP sample {args.shap_sample}; permutation repeats "
             f"{args.permutation_repeats}; workdir {workdir}")
    raw: dict[tuple[str, str], dict] = {}
    try:
        for dataset in datasets:
            folder = workdir / dataset["label"]
            folder.mkdir(parents=True, exist_ok=True)
            plan = needed_stages(stages, dataset)
            for number, stage in enumerate(plan, 1):
                reported = stage in stages
                tag = f"{dataset['label']} [{number}/{len(plan)}] {stage}{'' if reported else ' (input for a later stage, not reported)'}"
                progress(f"{tag} ...")
                figures = measure(stage, dataset, folder, args)
                if reported:
                    raw[(stage, dataset["label"])] = figures
                progress(f"{tag}: {figures['households']:,} households, {figures['seconds']:.2f} s "
                         f"({figures['cpu_s']:.1f} CPU s), peak {figures['peak_MB']:.0f} MB (baseline "
                         f"{figures['baseline_MB']:.0f} MB{', workers %.0f MB' % figures['workers_MB'] if figures['workers_MB'] else ''})")
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    rows = summarise(raw, stages, labels, base, rule_memory(), args.n_jobs)
    write_csv(rows, args.output, COLUMNS)
    minutes = (time.perf_counter() - started) / 60
    described = ", ".join(f"{d['label']}" for d in datasets)
    print(f"policyml scale benchmark: {described} (2018 1-Year); {TASK} task for the model stages; tuning "
          f"candidates {args.candidates}, factor 3, n_jobs {args.n_jobs}; SHAP sample {args.shap_sample}, "
          f"permutation repeats {args.permutation_repeats}; one run each")
    print(format_table(rows, COLUMNS, _cell))
    print(f"ratios are to {base}; exponent = log(ratio) / log(rows_ratio); MB = MiB; peak_MB = ru_maxrss of the "
          "stage's process (baseline: after imports and inputs); workers_MB = loky workers' own peaks; "
          "total_MB = peak + workers; rule_mem_MB = the rule's memory(base, per_input_mb, per_thread_mb) for input_MB of input and --n-jobs threads")
    load_after = os.getloadavg()
    print(f"CSV: {args.output}; whole run {minutes:.1f} min; load average (1 min) {load_before[0]:.1f} at start, "
          f"{load_after[0]:.1f} at end, on {os.cpu_count()} CPUs"
          f"{'; BLAS threads %d' % args.blas_threads if args.blas_threads else ''}")


if __name__ == "__main__":
    main()
