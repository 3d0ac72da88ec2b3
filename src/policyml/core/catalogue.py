"""What a run analyses, and with which models: the one list of units, tasks and models.

Rules (``workflow/rules/common.smk``), scripts, the config check, the model code, the report and
the index page all read these names from here. Adding a model is one :data:`MODELS` entry plus its
estimator in :mod:`policyml.model.models` (``_estimator``, and ``DEFAULT_PARAMS``/``SEARCH_SPACES``
when it is tuned).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    """A prediction task: its interpretable baseline model, what it predicts, how it is named."""

    baseline: str
    description: str
    label: str


@dataclass(frozen=True)
class Model:
    """A model: its display name, the tasks it serves, the rule that fits it, and whether the
    config may name it (a benchmark's reference model is added by its unit instead)."""

    label: str
    tasks: tuple[str, ...]
    fit_rule: str = "fit_model"
    configurable: bool = True


TASKS: dict[str, Task] = {
    "regression": Task("ols", "a continuous target (log income)",
                       "log household income (regression)"),
    "classification": Task("logistic", "a binary target (low income, or income over $50,000)",
                           "low-income flag (classification)"),
}

MODELS: dict[str, Model] = {
    "dummy": Model("Dummy (no features)", ("regression", "classification")),
    "ols": Model("Linear regression (OLS)", ("regression",)),
    "logistic": Model("Logistic regression", ("classification",)),
    "random_forest": Model("Random forest", ("regression", "classification"), "tune_model"),
    "xgboost": Model("Boosted trees (XGBoost)", ("regression", "classification"), "tune_model"),
    "mlp": Model("Neural network (MLP)", ("regression", "classification"), "fit_mlp"),
    "folktables_gbm": Model("Folktables benchmark GBM", ("classification",), configurable=False),
}

#: Analysis units: the tasks of each, and the reference models its benchmark adds.
UNITS: dict[str, dict[str, tuple[str, ...]]] = {
    "households": {"tasks": ("regression", "classification"), "reference_models": ()},
    "acsincome": {"tasks": ("classification",), "reference_models": ("folktables_gbm",)},
}

def task_models(task: str) -> tuple[str, ...]:
    """Every model that can serve ``task``."""
    return tuple(name for name, model in MODELS.items() if task in model.tasks)


def configurable_models(task: str) -> tuple[str, ...]:
    """The models the config may list for ``task`` (``models.regression``, ...)."""
    return tuple(name for name in task_models(task) if MODELS[name].configurable)


def unit_tasks(unit: str) -> tuple[str, ...]:
    return UNITS[unit]["tasks"]


def unit_models(unit: str, task: str, configured: list[str] | tuple[str, ...]) -> list[str]:
    """The models a run fits for ``unit`` and ``task``: the configured ones, then the unit's
    reference models that serve the task."""
    extra = [m for m in UNITS[unit]["reference_models"] if task in MODELS[m].tasks]
    return [*configured, *(m for m in extra if m not in configured)]


def models_fitted_by(rule: str) -> tuple[str, ...]:
    return tuple(name for name, model in MODELS.items() if model.fit_rule == rule)


def tuned_models() -> tuple[str, ...]:
    """The models with a hyperparameter search, in catalogue order."""
    return models_fitted_by("tune_model")
