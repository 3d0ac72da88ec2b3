"""Train the same MLP with policyml.nn, scikit-learn's MLPRegressor and PyTorch, side by side.

Same data (NM 2018 household features, standardised, float32, target log household income), same
architecture, batch size, epochs and optimiser (Adam, lr 1e-3, no weight decay, no early
stopping), each framework in its own process (so peak memory is its own) with the same number
of threads. Prints time per epoch, peak memory and final validation MSE, and the ratios to ours.

    .venv/bin/python benchmarks/mlp_benchmark.py                 # full run (a few minutes)
    .venv/bin/python benchmarks/mlp_benchmark.py --quick         # smoke run
PyTorch is a benchmark-only extra: `pip install torch==2.13.0` (the CPU wheel); without it the
PyTorch column is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CONFIGS = [((32,), 64), ((32,), 256), ((128, 64), 64), ((128, 64), 256)]


def prepare_data(path: Path, seed: int) -> dict:
    """Standardised NM household features (the regression pipeline's preprocessing), float32."""
    import pandas as pd

    from policyml.core.config import load_settings
    from policyml.core.states import resolve_state
    from policyml.data.households import build_households
    from policyml.data.ingest import load_dictionary, load_persons
    from policyml.model.features import FeatureSpec, build_feature_table
    from policyml.model.modelling import task_data
    from policyml.model.models import make_preprocessor
    from policyml.model.split import split_households

    settings = load_settings({"states": ["NM"]})
    dictionary = load_dictionary(settings)
    households = build_households(load_persons(settings, resolve_state("NM"), dictionary), dictionary)
    table = build_feature_table(households, dictionary, FeatureSpec.from_config(settings.features), settings.targets)
    split = split_households(table.frame, 0.2, 5, 20, seed)
    data = task_data(table.frame, split, {"numeric": table.numeric, "categorical": table.categorical}, "regression")
    preprocess = make_preprocessor(data.numeric, data.categorical, scale=True, drop_reference=False)
    X_train = preprocess.fit_transform(data.train[data.columns]).astype(np.float32)
    X_val = preprocess.transform(data.test[data.columns]).astype(np.float32)
    y_train = data.train["log_income"].to_numpy(np.float32)
    y_val = data.test["log_income"].to_numpy(np.float32)
    mean = y_train.mean()  # centre the target so every framework starts from the same place
    np.savez(path, X_train=X_train, y_train=y_train - mean, X_val=X_val, y_val=y_val - mean)
    return {"rows": X_train.shape[0], "features": X_train.shape[1]}


def run_ours(d, hidden, batch, epochs, seed):
    from policyml import nn

    model = nn.MLPRegressor(hidden_layer_sizes=hidden, batch_size=batch, epochs=epochs, learning_rate=1e-3,
                            early_stopping=False, random_state=seed)
    start = time.perf_counter()
    model.fit(d["X_train"], d["y_train"])
    seconds = time.perf_counter() - start
    return seconds, float(np.mean((model.predict(d["X_val"]) - d["y_val"]) ** 2))


def run_sklearn(d, hidden, batch, epochs, seed):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    model = MLPRegressor(hidden_layer_sizes=hidden, solver="adam", learning_rate_init=1e-3, batch_size=batch,
                         max_iter=epochs, alpha=0.0, shuffle=True, early_stopping=False, tol=0.0,
                         n_iter_no_change=epochs + 1, random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter reached is the point here
        model.fit(d["X_train"], d["y_train"])
    seconds = time.perf_counter() - start
    return seconds, float(np.mean((model.predict(d["X_val"]) - d["y_val"]) ** 2))


def run_torch(d, hidden, batch, epochs, seed):
    import torch

    torch.manual_seed(seed)
    layers, width = [], d["X_train"].shape[1]
    for size in hidden:
        layers += [torch.nn.Linear(width, size), torch.nn.ReLU()]
        width = size
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 1))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    X, y = torch.from_numpy(d["X_train"]), torch.from_numpy(d["y_train"]).unsqueeze(1)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        for first in range(0, len(X), batch):
            rows = order[first:first + batch]
            optimiser.zero_grad()
            loss = torch.nn.functional.mse_loss(model(X[rows]), y[rows])
            loss.backward()
            optimiser.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        prediction = model(torch.from_numpy(d["X_val"])).squeeze(1).numpy()
    return seconds, float(np.mean((prediction - d["y_val"]) ** 2))


RUNNERS = {"policyml": run_ours, "sklearn": run_sklearn, "pytorch": run_torch}


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; unlike ru_maxrss it starts afresh at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(args) -> None:
    d = dict(np.load(args.data))
    seconds, val_mse = RUNNERS[args.framework](d, tuple(args.hidden), args.batch, args.epochs, args.seed)
    print(json.dumps({"seconds": seconds, "val_mse": val_mse, "peak_mb": peak_rss_mb()}))


def measure(framework, data, hidden, batch, epochs, seed, threads) -> dict | None:
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
                        "MKL_NUM_THREADS": str(threads)}
    command = [sys.executable, __file__, "--worker", framework, "--data", str(data), "--batch", str(batch),
               "--epochs", str(epochs), "--seed", str(seed), "--hidden", *map(str, hidden)]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        print(f"  {framework} failed: {result.stderr.strip().splitlines()[-1]}", file=sys.stderr)
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--quick", action="store_true", help="one configuration, 3 epochs, 1 repeat")
    parser.add_argument("--worker", choices=RUNNERS)
    parser.add_argument("--data"), parser.add_argument("--batch", type=int), parser.add_argument("--hidden", type=int, nargs="+")
    args = parser.parse_args()
    if args.worker:
        args.framework = args.worker
        return worker(args)

    configs, epochs, repeats = (CONFIGS[:1], 3, 1) if args.quick else (CONFIGS, args.epochs, args.repeats)
    try:
        import torch  # noqa: F401
        frameworks = ["policyml", "sklearn", "pytorch"]
    except ImportError:
        frameworks = ["policyml", "sklearn"]
        print("PyTorch not installed (pip install torch==2.13.0): comparing with scikit-learn only", file=sys.stderr)
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "nm.npz"
        shape = prepare_data(data, args.seed)
        print(f"NM 2018 households: {shape['rows']} training rows x {shape['features']} features, float32; "
              f"Adam lr 1e-3, {epochs} epochs, {args.threads} thread(s), median of {repeats}", flush=True)
        header = f"{'network':>14} {'batch':>5} {'framework':>9} {'s/epoch':>8} {'peak MB':>8} {'val MSE':>8} {'time x':>7} {'mem x':>6} {'MSE x':>6}"
        print(header)
        rows = []
        for hidden, batch in configs:
            results = {}
            for framework in frameworks:
                runs = [measure(framework, data, hidden, batch, epochs, args.seed, args.threads) for _ in range(repeats)]
                runs = [r for r in runs if r]
                if runs:
                    results[framework] = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
            ours = results["policyml"]
            name = "-".join(map(str, (shape["features"], *hidden, 1)))
            for framework, r in results.items():
                line = (f"{name:>14} {batch:>5} {framework:>9} {r['seconds'] / epochs:8.4f} {r['peak_mb']:8.0f} "
                        f"{r['val_mse']:8.4f} {r['seconds'] / ours['seconds']:7.2f} {r['peak_mb'] / ours['peak_mb']:6.2f} "
                        f"{r['val_mse'] / ours['val_mse']:6.2f}")
                print(line, flush=True)
                rows.append({"network": name, "batch": batch, "framework": framework, **r,
                             "seconds_per_epoch": r["seconds"] / epochs})
        out = REPO / "benchmarks" / "results" / "mlp_benchmark.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(rows, indent=2))
        print("ratios: the framework's figure divided by policyml's (time x < 1 means faster than ours)")


if __name__ == "__main__":
    main()
