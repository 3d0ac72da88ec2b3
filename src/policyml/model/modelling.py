"""The modelling stage: one task's training data, fitting or tuning a model, predictions, evaluation.

Two tasks share the machinery: ``regression`` (household mode: log household income; baseline OLS)
and ``classification`` (household mode: the low-income flag; person mode: the folktables ACSIncome
flag, income over $50,000; baseline logistic regression). The feature spec record says which
column is each task's target and which weights the rows carry (WGTP for households, PWGTP for
persons). Rows without the target (zero or negative income for the log, no poverty ratio) are
left out of that task only. Survey weights go into fitting and CV scoring; test metrics carry
replicate-weight SEs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import nn
from ..core.catalogue import TASKS, Task
from ..core.errors import ConfigError, DataError
from ..core.survey import REPLICATES, SurveyDesign, reliability_options
from . import metrics, models
from .split import cv_folds


def task_of(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"unknown task {name!r}", f"use one of {', '.join(TASKS)}") from None


@dataclass(frozen=True)
class TaskData:
    """The rows of one task, split into training and test sets, with CV folds over the training rows."""

    task: str
    target: str
    weight: str
    train: pd.DataFrame
    test: pd.DataFrame
    numeric: list[str]
    categorical: list[str]
    folds: list[tuple[np.ndarray, np.ndarray]]

    @property
    def columns(self) -> list[str]:
        return self.numeric + self.categorical

    @property
    def replicate_columns(self) -> list[str]:
        return [f"{self.weight}{r}" for r in range(1, REPLICATES + 1)]

    def xyw(self, part: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        frame = self.train if part == "train" else self.test
        return frame[self.columns], frame[self.target].to_numpy(), frame[self.weight].to_numpy(dtype=float)


def task_data(features: pd.DataFrame, split: pd.DataFrame, spec: dict, task: str) -> TaskData:
    """The rows of ``task`` (its target and weights named by the feature spec record)."""
    task_of(task)
    targets = spec.get("targets", {"regression": "log_income", "classification": "low_income"})
    if task not in targets:
        raise ConfigError(f"the {spec.get('unit', 'households')} analysis has no {task} task",
                          f"use one of {', '.join(targets)}")
    target, weight = targets[task], spec.get("weight", "WGTP")
    if len(features) != len(split) or not (features["SERIALNO"].to_numpy() == split["SERIALNO"].to_numpy()).all():
        raise DataError(
            "features.parquet and split.parquet do not list the same households in the same order",
            "rerun the split step (snakemake --forcerun split_data)",
        )
    missing = [c for c in spec["numeric"] + spec["categorical"] if c not in features]
    if missing:
        raise DataError(f"features.parquet lacks the model inputs {', '.join(missing)}",
                        "rerun the feature step (snakemake --forcerun build_features)")
    has_target = features[target].notna().to_numpy()
    is_train = split["set"].eq("train").to_numpy() & has_target
    is_test = split["set"].eq("test").to_numpy() & has_target
    folds = cv_folds(split, rows=has_target)
    train = features.loc[is_train].reset_index(drop=True)
    test = features.loc[is_test].reset_index(drop=True)
    for part, frame in (("training", train), ("test", test)):
        if task == "classification" and frame[target].nunique() < 2:
            raise DataError(f"the {part} set has only one class of {target}",
                            "use a larger state or another low_income_threshold")
    return TaskData(task, target, weight, train, test, list(spec["numeric"]), list(spec["categorical"]), folds)


def read_task(features_path, split_path, spec_path, task: str) -> TaskData:
    """A task's data from the feature, split and spec files a rule receives."""
    spec = json.loads(Path(spec_path).read_text())
    return task_data(pd.read_parquet(features_path), pd.read_parquet(split_path), spec, task)


def read_predictions(paths) -> dict[str, pd.DataFrame]:
    """Prediction files by model name (the file's stem)."""
    return {Path(path).stem: pd.read_parquet(path) for path in paths}


def fit(name: str, data: TaskData, options: dict, seed: int, n_jobs: int = 1):
    """Fit (or tune, for the tuned models) one model; returns (pipeline, tuning result or None)."""
    X, y, w = data.xyw("train")
    columns = {"numeric": data.numeric, "categorical": data.categorical}
    if name in models.TUNED:
        tuning = options["tuning"]
        result = models.tune(
            name, data.task, X, y, w, data.folds,
            n_candidates=tuning["n_candidates"], factor=tuning["factor"], random_state=seed, n_jobs=n_jobs,
            **columns,
        )
        return result.best_estimator, result
    params = options.get(name) if name == "mlp" else None  # the config's models.mlp section
    if params:
        params = params | {"hidden_layer_sizes": tuple(params["hidden_layer_sizes"])}
    return models.fit_model(name, data.task, X, y, w, random_state=seed, n_jobs=n_jobs, params=params, **columns), None


def predictions_frame(pipeline, data: TaskData) -> pd.DataFrame:
    """Predictions for the training and test rows: SERIALNO, set, observed target, prediction."""
    parts = []
    for part, frame in (("train", data.train), ("test", data.test)):
        parts.append(pd.DataFrame({
            "SERIALNO": frame["SERIALNO"].to_numpy(),
            "set": part,
            "observed": frame[data.target].to_numpy(dtype=float),
            "prediction": models.predict(pipeline, data.task, frame[data.columns]),
        }))
    return pd.concat(parts, ignore_index=True)


def test_scores(data: TaskData, predictions: dict[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    """Each model's test-set predictions, checked to be for the task's test households in order."""
    scores = {}
    for name, frame in predictions.items():
        rows = frame.loc[frame["set"] == "test"]
        if not (rows["SERIALNO"].to_numpy() == data.test["SERIALNO"].to_numpy()).all():
            raise DataError(f"the {name} predictions do not match the test households",
                            f"rerun the {name} model (snakemake --forcerun for its rule)")
        scores[name] = rows["prediction"].to_numpy()
    return scores


def evaluate_task(
    data: TaskData, predictions: dict[str, pd.DataFrame], threshold: float, estimates: dict
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Test-set metrics with replicate SEs (and differences from the baseline), and calibration bins."""
    test = data.test
    design = SurveyDesign.from_frame(test, data.weight, **reliability_options(estimates))
    scores = test_scores(data, predictions)
    y = test[data.target].to_numpy(dtype=float)
    baseline = TASKS[data.task].baseline if TASKS[data.task].baseline in scores else None
    table = metrics.evaluate(design, y, scores, data.task, threshold=threshold, baseline=baseline)
    table.insert(0, "task", data.task)
    weights = test[data.weight].to_numpy(dtype=float)
    binned = metrics.calibration_table if data.task == "classification" else regression_calibration
    calibration = pd.concat(
        [binned(y, score, weights).assign(model=name) for name, score in scores.items()], ignore_index=True
    )
    return table, calibration


def regression_calibration(y: np.ndarray, prediction: np.ndarray, weights: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Observed against predicted by decile of the prediction (weighted means): a regression's calibration.

    A well-calibrated model has mean_observed close to mean_predicted in every bin; a model that
    shrinks towards the mean over-predicts the lowest bins and under-predicts the highest.
    """
    edges = np.unique(np.quantile(prediction, np.linspace(0, 1, n_bins + 1)))
    bins = np.clip(np.searchsorted(edges, prediction, side="right") - 1, 0, len(edges) - 2)
    rows = []
    for number in range(len(edges) - 1):
        inside = bins == number
        w = weights[inside]
        rows.append({
            "bin": number, "lower": edges[number], "upper": edges[number + 1], "n": int(inside.sum()),
            "weight_share": w.sum() / weights.sum(),
            "mean_predicted": np.average(prediction[inside], weights=w) if w.sum() else np.nan,
            "mean_observed": np.average(y[inside], weights=w) if w.sum() else np.nan,
        })
    return pd.DataFrame(rows)


def mlp_record(pipeline) -> tuple[pd.DataFrame, dict]:
    """The MLP's training history (loss per epoch, train and validation, learning rate) and its
    architecture: layers, parameter count and multiply-adds per example, for the report."""
    network = pipeline.named_steps["model"]
    history = network.history_.to_frame()
    architecture = {
        "layers": repr(network.model_),
        "n_inputs": int(network.n_features_in_),
        "n_parameters": int(network.n_parameters_),
        "cost_per_example": {k: int(v) for k, v in nn.cost_per_example(network).items()},
        "epochs_run": int(network.n_epochs_),
        "best_epoch": int(network.history_.best_epoch),
        "stopped_early": bool(network.history_.stopped_early),
        "settings": {k: (list(v) if isinstance(v, tuple) else v) for k, v in network.get_params().items()},
    }
    return history, architecture
