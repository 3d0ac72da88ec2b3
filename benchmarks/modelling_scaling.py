"""How the modelling stages' time and peak memory grow with the number of households.

The embedded New Mexico 2018 households (7,912 of them) are resampled to 1x, 4x and 16x their
number, and each modelling stage of the regression task is run on each scale in a fresh Python
process, so that the peak memory read at the end is that stage's own:

    build_features       build_feature_table(households)            (rule build_features)
    split                split_households + representativeness      (rule split_data)
    fit_ols              fit("ols", ...)                           (rule fit_model)
    tune_random_forest   fit("random_forest", ...): halving search  (rule tune_model)
    tune_xgboost         fit("xgboost", ...): halving search        (rule tune_model)
    evaluate             evaluate_task on the three models' test predictions (rule evaluate_models)

Run from the project root:

    .venv/bin/python benchmarks/modelling_scaling.py                 # scales 1 4 16, 3 candidates
    .venv/bin/python benchmarks/modelling_scaling.py --quick         # smoke run: scales 1 2, 4 candidates
    .venv/bin/python benchmarks/modelling_scaling.py --stages fit_ols tune_xgboost --repeats 3

The tuning budget defaults to 3 candidates (halving 3 -> 1: the last round fits one candidate on
all rows) to keep the default run well under 15 minutes on 2 cores (7.3 minutes measured, see
benchmarks/README.md); 8 candidates took 26 minutes on a busy machine, mostly the 16x random forest. Successive halving with ``min_resources="exhaust"`` costs, per CV fold, 2
full-data fits for 2-3 candidates, 3.3 for 4, 5.7 for 8, 3 for 9 and 5.8 for 16 (the workflow's
default), so time ratios between scales hold for any budget but absolute tuning times scale with
that cost.

Resampling. A scale-k data set holds round(k * 7,912) households drawn with replacement from the
state's households (seeded; every scale, 1x included, is drawn the same way so the ratios compare
like with like). Each drawn copy gets a fresh unique SERIALNO (``<original>-<copy number>``) and
keeps its household's 80 replicate weights WGTP1..WGTP80 as they are, but WGTP and WGTP1..WGTP80
are all divided by k, so weighted totals (and the replicate SEs' scale) stay the state's and not k
times the state's. Copies of one household can land in both the training and the test set: the
accuracy of the models at k > 1 is optimistic and means nothing here; only time and memory do.

Measurement. Each (stage, scale, repeat) runs in a subprocess that re-invokes this script with the
hidden ``--worker`` argument. The worker imports everything and reads its inputs (parquet files in
a temporary folder written by a preparation worker), then reads ``ru_maxrss`` (baseline_MB: the
peak after imports and inputs), runs and times the stage, and reads ``ru_maxrss`` again (peak_MB:
the absolute peak of that process; stage_MB = peak_MB - baseline_MB is the stage's own increment).
The parent process imports only the standard library and stays small on purpose: on Linux a child
process's ``ru_maxrss`` starts at its parent's peak resident size (the kernel carries the old
peak across fork+exec), so a large parent would inflate every worker's figure.

The tuning stages search in parallel (``n_jobs``, default 2) in joblib/loky worker processes whose
memory ``RUSAGE_SELF`` does not count (and whose ``ru_maxrss`` is inflated by the parent, as
above): workers_MB is the sum of the peak resident sizes (``VmHWM`` in /proc) of the stage's child
processes still alive when it ends. It counts memory-mapped data shared between them more than
once, so it is an upper bound on what they added.

Times are wall-clock seconds on a shared machine: measure and read, never assert. cpu_s adds the
user and system CPU seconds of the stage's process and of its child processes: when other jobs
take the cores, wall time stretches but CPU time much less, so cpu_ratio and cpu_exponent are the
steadier reading of growth on a busy machine. ``--repeats`` takes the median of each figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "modelling_scaling.csv"
STAGES = ("build_features", "split", "fit_ols", "tune_random_forest", "tune_xgboost", "evaluate")
FIT_STAGES = {"fit_ols": "ols", "tune_random_forest": "random_forest", "tune_xgboost": "xgboost"}
TASK = "regression"
STATE = "NM"
COLUMNS = (
    "stage", "scale", "households", "seconds", "time_ratio", "rows_per_s", "cpu_s", "cpu_ratio",
    "baseline_MB", "peak_MB", "stage_MB", "mem_ratio", "workers_MB", "time_exponent", "cpu_exponent", "mem_exponent",
)


def scale_label(scale: float) -> str:
    return f"{scale:g}x"


def progress(message: str) -> None:
    print(f"[modelling_scaling {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------
# Worker side (a fresh process per stage): heavy imports happen only here.


def _max_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0  # KB on Linux


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children() -> tuple[float, float]:
    """This process's live child processes (joblib/loky workers): (sum of VmHWM MB, sum of CPU s).

    VmHWM is a process's own peak resident size (reset at exec, unlike ru_maxrss); the CPU
    seconds are the children's whole lives, which here lie within the stage (they are started by it).
    """
    me, memory, cpu = os.getpid(), 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields.get("PPid", "0").strip() or 0) != me:
            continue
        if "VmHWM" in fields:
            memory += float(fields["VmHWM"].split()[0]) / 1024.0
        counters = stat.rsplit(")", 1)[1].split()
        cpu += (int(counters[11]) + int(counters[12])) / tick  # utime, stime (fields 14, 15)
    return memory, cpu


def _paths(workdir: Path, scale: float) -> dict[str, Path]:
    label = scale_label(scale)
    return {
        "households": workdir / f"households_{label}.parquet",
        "features": workdir / f"features_{label}.parquet",
        "spec": workdir / f"spec_{label}.json",
        "split": workdir / f"split_{label}.parquet",
        **{f"pred_{m}": workdir / f"predictions_{label}_{m}.parquet" for m in FIT_STAGES.values()},
    }


def _settings():
    from policyml.core.config import load_settings

    return load_settings({"states": [STATE]})  # defaults from config/config.schema.yaml


def resample(households, scale: float, seed: int):
    """round(scale * n) households drawn with replacement; fresh SERIALNOs; weights divided by scale."""
    import numpy as np
    import pandas as pd

    from policyml.data.households import HOUSEHOLD_WEIGHTS

    n = len(households)
    rng = np.random.default_rng([seed, round(scale * 1000)])
    rows = np.sort(rng.integers(0, n, size=round(scale * n)))
    out = households.iloc[rows].reset_index(drop=True)
    copy_number = out.groupby("SERIALNO", sort=False).cumcount().astype(str)
    out["SERIALNO"] = (out["SERIALNO"].astype(str) + "-" + copy_number).astype(households["SERIALNO"].dtype)
    assert out["SERIALNO"].is_unique
    # Replicate weights stay each copy's own household's; all 81 weights are divided by the
    # factor so that weighted totals stay the state's (k copies of the state would be k states).
    for column in HOUSEHOLD_WEIGHTS:
        out[column] = out[column].astype("float64") / scale
    out.attrs.update(households.attrs, resampled_scale=scale)
    return pd.DataFrame(out)


def prepare(workdir: Path, scales: list[float], seed: int) -> None:
    """Households, features and split per scale, written as parquet inputs for the workers."""
    from policyml.core.states import resolve_state
    from policyml.data.households import build_households
    from policyml.data.ingest import load_dictionary, load_persons
    from policyml.model.features import FeatureSpec, build_feature_table
    from policyml.model.split import split_households

    settings = _settings()
    dictionary = load_dictionary(settings)
    persons = load_persons(settings, resolve_state(STATE), dictionary)
    households = build_households(persons, dictionary)
    spec = FeatureSpec.from_config(settings.features)
    options = settings.split
    for scale in scales:
        paths = _paths(workdir, scale)
        scaled = resample(households, scale, seed)
        scaled.to_parquet(paths["households"], index=False)
        table = build_feature_table(scaled, dictionary, spec, settings.targets)
        table.frame.to_parquet(paths["features"], index=False)
        paths["spec"].write_text(json.dumps({"numeric": table.numeric, "categorical": table.categorical}))
        split = split_households(table.frame, options["test_size"], options["cv_folds"], options["min_cell"], seed)
        split.to_parquet(paths["split"], index=False)
        print(f"prepared {scale_label(scale)}: {len(scaled)} households (from {len(households)})",
              file=sys.stderr, flush=True)


def run_stage(stage: str, workdir: Path, scale: float, candidates: int, seed: int, n_jobs: int) -> dict:
    """Load inputs, read the baseline peak, run and time the stage, read the peak; return figures."""
    import gc

    import pandas as pd

    from policyml.data.ingest import load_dictionary
    from policyml.model.features import FeatureSpec, build_feature_table
    from policyml.model.modelling import (
        evaluate_task,
        fit,
        predictions_frame,
        task_data,
    )
    from policyml.model.split import representativeness, split_households

    settings = _settings()
    paths = _paths(workdir, scale)
    households = pd.read_parquet(paths["households"], columns=["SERIALNO"])
    n_households = len(households)
    del households
    after = None

    if stage == "build_features":
        households = pd.read_parquet(paths["households"])
        dictionary = load_dictionary(settings)
        spec = FeatureSpec.from_config(settings.features)
        run = lambda: build_feature_table(households, dictionary, spec, settings.targets)  # noqa: E731
    elif stage == "split":
        features = pd.read_parquet(paths["features"])
        options = settings.split

        def run():
            split = split_households(features, options["test_size"], options["cv_folds"], options["min_cell"], seed)
            return split, representativeness(features, split, settings.estimates)
    else:
        columns = json.loads(paths["spec"].read_text())
        data = task_data(pd.read_parquet(paths["features"]), pd.read_parquet(paths["split"]), columns, TASK)
        if stage in FIT_STAGES:
            model = FIT_STAGES[stage]
            options = settings.models | {"tuning": {"n_candidates": candidates, "factor": 3}}
            run = lambda: fit(model, data, options, seed, n_jobs=n_jobs)  # noqa: E731

            def after(result):  # predictions for the evaluate stage (not timed)
                predictions_frame(result[0], data).to_parquet(paths[f"pred_{model}"], index=False)
        elif stage == "evaluate":
            predictions = {m: pd.read_parquet(paths[f"pred_{m}"]) for m in FIT_STAGES.values()}
            run = lambda: evaluate_task(data, predictions, settings.models["threshold"], settings.estimates)  # noqa: E731
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
    if after is not None:
        after(result)
    return {"stage": stage, "scale": scale, "households": n_households, "seconds": seconds,
            "cpu_s": cpu + workers_cpu, "baseline_MB": baseline, "peak_MB": peak, "workers_MB": workers}


def worker_main(args) -> None:
    import logging
    import warnings

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    warnings.simplefilter("default")
    workdir = Path(args.workdir)
    if args.worker == "prepare":
        prepare(workdir, args.scales, args.seed)
        return
    figures = run_stage(args.worker, workdir, args.scale, args.candidates, args.seed, args.n_jobs)
    Path(args.result).write_text(json.dumps(figures))
    shutdown_workers()


def shutdown_workers() -> None:
    """End the loky workers now, so a worker process exits promptly."""
    try:
        from joblib.externals.loky import get_reusable_executor

        get_reusable_executor().shutdown(wait=True)
    except Exception:  # pragma: no cover - best effort
        pass


# ------------------------------------------------------------------------------------------------
# Parent side: standard library only (see the module docstring on ru_maxrss).


def spawn(arguments: list[str], log: Path, blas_threads: int | None = None, script: str | Path = __file__) -> None:
    """Run ``script`` (this file, or another benchmark reusing this machinery) with ``arguments`` in
    a fresh process, output to ``log``; exit with the log's tail when it fails."""
    command = [sys.executable, str(Path(script).resolve()), *arguments]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    if blas_threads:
        env.update({k: str(blas_threads) for k in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")})
    with open(log, "w") as handle:
        code = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=ROOT).returncode
    if code != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
        raise SystemExit(f"worker {' '.join(arguments[:2])} failed (exit {code}); log {log}:\n{tail}")


def measure(stage: str, scale: float, repeat: int, args, workdir: Path) -> dict:
    tag = f"{stage}_{scale_label(scale)}_{repeat}"
    result = workdir / f"result_{tag}.json"
    spawn(["--worker", stage, "--workdir", str(workdir), "--scale", repr(scale),
           "--candidates", str(args.candidates), "--seed", str(args.seed), "--n-jobs", str(args.n_jobs),
           "--result", str(result)], workdir / f"log_{tag}.txt", args.blas_threads)
    return json.loads(result.read_text())


def summarise(raw: dict[tuple[str, float], list[dict]], stages: list[str], scales: list[float]) -> list[dict]:
    rows = []
    low, high = min(scales), max(scales)
    for stage in stages:
        base = None
        medians = {}
        for scale in scales:
            runs = raw[(stage, scale)]
            med = {k: statistics.median(r[k] for r in runs) for k in ("seconds", "cpu_s", "baseline_MB", "peak_MB", "workers_MB")}
            med["households"] = runs[0]["households"]
            medians[scale] = med
        base = medians[low]
        for scale in scales:
            med = medians[scale]
            row = {
                "stage": stage, "scale": scale_label(scale), "households": med["households"],
                "seconds": med["seconds"], "time_ratio": med["seconds"] / base["seconds"],
                "rows_per_s": med["households"] / med["seconds"],
                "cpu_s": med["cpu_s"], "cpu_ratio": med["cpu_s"] / base["cpu_s"],
                "baseline_MB": med["baseline_MB"], "peak_MB": med["peak_MB"],
                "stage_MB": med["peak_MB"] - med["baseline_MB"],
                "mem_ratio": med["peak_MB"] / base["peak_MB"], "workers_MB": med["workers_MB"],
                "time_exponent": None, "cpu_exponent": None, "mem_exponent": None,
            }
            if scale == high and high > low:
                span = math.log(high / low)
                row["time_exponent"] = math.log(row["time_ratio"]) / span
                row["cpu_exponent"] = math.log(row["cpu_ratio"]) / span
                row["mem_exponent"] = math.log(row["mem_ratio"]) / span
            rows.append(row)
    return rows


def _cell(value, column: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if column == "households":
        return f"{value:,}"
    if column in ("time_ratio", "cpu_ratio", "mem_ratio", "time_exponent", "cpu_exponent", "mem_exponent"):
        return f"{value:.2f}"
    if column in ("seconds", "cpu_s"):
        return f"{value:.2f}" if value < 100 else f"{value:.1f}"
    if column == "rows_per_s":
        return f"{value:,.0f}"
    return f"{value:.0f}"  # MB


def format_table(rows: list[dict], columns=COLUMNS, cell=_cell) -> str:
    """A plain-text table: the first two columns left-aligned, the figures right-aligned."""
    cells = [[cell(row[c], c) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]

    def line(values):
        return " | ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(values, widths)))

    return "\n".join([line(columns), "-|-".join("-" * w for w in widths), *(line(r) for r in cells)])


def write_csv(rows: list[dict], path: Path, columns=COLUMNS) -> None:
    """The rows as CSV (floats rounded to 4 places; None and NaN as empty cells)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if v is None or (isinstance(v, float) and math.isnan(v))
                                 else round(v, 4) if isinstance(v, float) else v) for k, v in row.items()})


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", type=float, nargs="+", default=[1, 4, 16],
                        help="multiples of the state's 7,912 households (default: 1 4 16)")
    parser.add_argument("--repeats", type=int, default=1, help="runs per stage and scale; the median is reported")
    parser.add_argument("--candidates", type=int, default=3,
                        help="tuning budget: candidates in the first halving round (default 3; the workflow uses 16). "
                             "With factor 3, 3 candidates cost 2 full-data fits per fold, 8 cost 5.7 and 16 cost 5.8")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES), help="stages to measure (default: all)")
    parser.add_argument("--quick", action="store_true", help="smoke run: scales 1 2, 4 candidates")
    parser.add_argument("--seed", type=int, default=2018, help="resampling, split and model seed (default 2018, the config's)")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel fits in the tuning searches (default 2)")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="set OPENBLAS/MKL/OMP_NUM_THREADS in the workers (default: unset, as in the workflow)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"CSV table (default {DEFAULT_OUTPUT.relative_to(ROOT)})")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the intermediate parquet files and worker logs here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.scales, args.candidates = [1, 2], 4
    if args.repeats < 1 or args.candidates < 2 or any(s <= 0 for s in args.scales):
        parser.error("--repeats must be >= 1, --candidates >= 2 and the scales > 0")
    args.scales = sorted(dict.fromkeys(args.scales))
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        worker_main(args)
        return
    started = time.perf_counter()
    load_before = os.getloadavg()
    stages = [s for s in STAGES if s in args.stages]
    keep = args.workdir is not None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="policyml-scaling-"))
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    progress(f"stages {' '.join(stages)}; scales {' '.join(map(scale_label, args.scales))}; "
             f"repeats {args.repeats}; candidates {args.candidates}; workdir {workdir}")
    try:
        progress("preparing inputs (households, features, split per scale; not timed)")
        spawn(["--worker", "prepare", "--workdir", str(workdir), "--scales", *map(repr, args.scales),
               "--seed", str(args.seed)], workdir / "log_prepare.txt", args.blas_threads)
        raw: dict[tuple[str, float], list[dict]] = {}
        total = len(stages) * len(args.scales) * args.repeats
        done = 0
        for scale in args.scales:
            if "evaluate" in stages:  # evaluate needs the three models' predictions at this scale
                for stage in FIT_STAGES:
                    if stage not in stages:
                        progress(f"{stage} @ {scale_label(scale)}: run for evaluate's inputs (not reported)")
                        measure(stage, scale, 0, args, workdir)
            for stage in stages:
                for repeat in range(1, args.repeats + 1):
                    done += 1
                    progress(f"[{done}/{total}] {stage} @ {scale_label(scale)} (repeat {repeat}/{args.repeats}) ...")
                    figures = measure(stage, scale, repeat, args, workdir)
                    raw.setdefault((stage, scale), []).append(figures)
                    progress(f"[{done}/{total}] {stage} @ {scale_label(scale)}: {figures['seconds']:.2f} s "
                             f"({figures['cpu_s']:.1f} CPU s), peak {figures['peak_MB']:.0f} MB (baseline {figures['baseline_MB']:.0f} MB"
                             f"{', workers %.0f MB' % figures['workers_MB'] if figures['workers_MB'] else ''})")
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    rows = summarise(raw, stages, args.scales)
    write_csv(rows, args.output)
    minutes = (time.perf_counter() - started) / 60
    low, high = min(args.scales), max(args.scales)
    print(f"policyml modelling scaling: {STATE} 2018 households resampled to "
          f"{', '.join(map(scale_label, args.scales))}; {TASK} task; tuning candidates {args.candidates}, "
          f"factor 3, n_jobs {args.n_jobs}; median of {args.repeats} run(s)")
    print(format_table(rows))
    growth = (f"ratios are to {scale_label(low)}; exponents = log(ratio) / log({high / low:g}) "
              f"({scale_label(low)} -> {scale_label(high)})" if high > low else "one scale: no growth exponents")
    print(f"{growth}; MB = ru_maxrss of the stage's process "
          "(baseline: after imports and inputs); workers_MB = loky workers' own peaks (tuning)")
    load_after = os.getloadavg()
    print(f"CSV: {args.output}; whole run {minutes:.1f} min; load average (1 min) {load_before[0]:.1f} at start, "
          f"{load_after[0]:.1f} at end, on {os.cpu_count()} CPUs"
          f"{'; BLAS threads %d' % args.blas_threads if args.blas_threads else ''}")


if __name__ == "__main__":
    main()
