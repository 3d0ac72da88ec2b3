# Config validation, wildcard constraints and small helpers. Logic lives in src/policyml.
import sys

from policyml.config import load_settings
from policyml.errors import PolicymlError, one_line

try:
    SETTINGS = load_settings(config, workflow.source_path("../../config/config.schema.yaml"))
except PolicymlError as error:
    # One clear line before any job starts, instead of a traceback.
    sys.stderr.write(one_line(error) + "\n")
    sys.exit(1)

# The validated config with defaults filled in: rules receive it through params only.
RUN_CONFIG = {
    "states": [state.postal for state in SETTINGS.states],
    "year": SETTINGS.period.year,
    "survey": SETTINGS.period.survey,
    "allow_experimental_2020": SETTINGS.period.experimental,
    "housing_file": SETTINGS.housing_file,
    "seed": SETTINGS.seed,
    "data": SETTINGS.data,
    "published": SETTINGS.published,
    "estimates": SETTINGS.estimates,
    "targets": SETTINGS.targets,
    "features": SETTINGS.features,
    "split": SETTINGS.split,
    "models": SETTINGS.models,
}

wildcard_constraints:
    state="[A-Z]{2}",
    year=r"\d{4}(-\d{4})?",
    task="regression|classification",


PERIOD_KEYS = ("year", "survey", "allow_experimental_2020", "seed")  # not states: rules are per state


def config_for(*sections):
    """The survey period plus the named config sections, for one step's params. Passing only
    these means that editing, say, the features section reruns the feature step and what
    follows it, not the data fetch."""
    return {key: RUN_CONFIG[key] for key in (*PERIOD_KEYS, *sections)}


FINAL_OUTPUTS = [
    "data_summary.json",
    "representativeness.csv",
    "metrics/regression.csv",
    "metrics/classification.csv",
    "coefficients/regression.csv",
    "coefficients/classification.csv",
]


def get_final_output():
    return [
        f"results/{state}/{period}/{name}"
        for state, period in SETTINGS.state_years
        for name in FINAL_OUTPUTS
    ]


def get_household_inputs(wildcards):
    inputs = {"persons": f"results/{wildcards.state}/{wildcards.year}/persons.parquet"}
    if SETTINGS.housing_file:
        inputs["housing"] = f"results/{wildcards.state}/{wildcards.year}/housing.parquet"
    return inputs


def get_model_predictions(wildcards):
    return [
        f"results/{wildcards.state}/{wildcards.year}/predictions/{wildcards.task}/{model}.parquet"
        for model in SETTINGS.models[wildcards.task]
    ]


def get_linear_model(wildcards):
    model = "ols" if wildcards.task == "regression" else "logistic"
    return f"results/{wildcards.state}/{wildcards.year}/models/{wildcards.task}/{model}.joblib"
