# Config validation, wildcard constraints and small helpers. Logic lives in src/policyml.
import os
import sys

from policyml.core.config import load_settings
from policyml.core.errors import PolicymlError, one_line
from policyml.core import catalogue
from policyml.core.outputs import check_output_folder
from policyml.report.render import report_lines

try:
    SETTINGS = load_settings(config, workflow.source_path("../../config/config.schema.yaml"))
    check_output_folder("results")
except PolicymlError as error:
    # One clear line before any job starts, instead of a traceback.
    sys.stderr.write(one_line(error) + "\n")
    sys.exit(1)

# The validated config with defaults filled in: rules receive it through params only.
RUN_CONFIG = SETTINGS.as_config()

# The same for one state's jobs: every setting but the list of states (adding a state reruns no other).
STATE_CONFIG = {key: value for key, value in RUN_CONFIG.items() if key != "states"}

wildcard_constraints:
    state="[A-Z]{2}",
    year=r"\d{4}(-\d{4})?",
    task="regression|classification",
    unit="households|acsincome",


PERIOD_KEYS = ("year", "survey", "allow_experimental_2020", "seed")  # not states: rules are per state


def memory(base_mb, per_input_mb=0, per_thread_mb=0):
    """A mem_mb callable: base_mb, plus per_input_mb for each MB of the job's input files (so a
    large state asks the scheduler for more), plus per_thread_mb for each thread (parallel tuning
    runs one worker process per thread), doubled on each retry after running out of memory.
    Sized from benchmarks/scale_benchmark.py (see benchmarks/README.md)."""

    def mem_mb(wildcards, input, threads, attempt):
        return int((base_mb + per_input_mb * input.size_mb + per_thread_mb * threads) * 2 ** (attempt - 1))

    return mem_mb


def config_for(*sections, without=()):
    """The survey period plus the named config sections, for one step's params, less the dotted
    keys in ``without`` (settings the step never reads). Passing only these means that editing,
    say, the features section reruns the feature step and what follows it, not the data fetch,
    and that a new decision threshold (models.threshold) refits no model."""
    params = {key: RUN_CONFIG[key] for key in (*PERIOD_KEYS, *sections)}
    for dotted in without:
        section, key = dotted.split(".")
        params[section] = {k: v for k, v in params[section].items() if k != key}
    return params


def fit_rule(model):
    """The rule that fits ``model`` (policyml.core.catalogue)."""
    return catalogue.MODELS[model].fit_rule


def fitted_by(rule):
    """The wildcard constraint of a fitting rule: the models it fits."""
    return "|".join(catalogue.models_fitted_by(rule))


# per unit: its tasks (policyml.core.catalogue)
UNIT_TASKS = {unit: catalogue.unit_tasks(unit) for unit in catalogue.UNITS}


def unit_models(unit, task):
    """The configured models of ``task``, plus the unit's reference models."""
    return catalogue.unit_models(unit, task, SETTINGS.models[task])


def get_final_output():
    outputs = []
    for state, period in SETTINGS.state_years:
        root = f"results/{state}/{period}"
        outputs += [f"{root}/data_summary.json", f"{root}/run_settings.json"]
        for unit in SETTINGS.units:
            outputs.append(f"{root}/{unit}/representativeness.csv")
            for task in UNIT_TASKS[unit]:
                outputs += [
                    f"{root}/{unit}/metrics/{task}.csv",
                    f"{root}/{unit}/coefficients/{task}.csv",
                    f"{root}/{unit}/fairness/{task}_disparities.csv",
                    f"{root}/{unit}/explain/{task}_importance.csv",
                ]
                if unit == "households" and task == "classification":
                    outputs.append(f"{root}/{unit}/fairness/{task}_mitigation.csv")
                outputs += [f"{root}/{unit}/{m}/{task}_history.csv"
                            for m in SETTINGS.models[task] if fit_rule(m) == "fit_mlp"]
        if "households" in SETTINGS.units:
            outputs.append(f"{root}/report.html")
    if "households" in SETTINGS.units and len(SETTINGS.state_years) > 1:
        outputs.append("results/index.html")
    return outputs


# the report's source, and every state-year of the run as "{state}/{period}"
REPORT_QMD = os.path.join(workflow.basedir, "report", "report.qmd")
STATE_YEARS = [f"{state}/{period}" for state, period in SETTINGS.state_years]


def get_report_inputs(wildcards):
    """Every file report.qmd reads (the households analysis; tuning files of the tuned models)."""
    root = f"results/{wildcards.state}/{wildcards.year}"
    unit = f"{root}/households"
    inputs = {
        "summary": f"{root}/data_summary.json",
        "run_settings": f"{root}/run_settings.json",
        "missing_data": f"{root}/missing_data.csv",
        "persons": f"{root}/persons.parquet",
        "households": f"{root}/households.parquet",
        "pumas": f"{root}/puma_estimates.csv",
        "features": f"{unit}/features.parquet",
        "spec": f"{unit}/feature_spec.json",
        "split": f"{unit}/split.parquet",
        "representativeness": f"{unit}/representativeness.csv",
        "mitigation": f"{unit}/fairness/classification_mitigation.csv",
        "scenarios": f"{unit}/scenarios.csv",
    }
    for task in UNIT_TASKS["households"]:
        models = SETTINGS.models[task]
        inputs |= {
            f"metrics_{task}": f"{unit}/metrics/{task}.csv",
            f"calibration_{task}": f"{unit}/metrics/{task}_calibration.csv",
            f"coefficients_{task}": f"{unit}/coefficients/{task}.csv",
            f"groups_{task}": f"{unit}/fairness/{task}_groups.csv",
            f"disparities_{task}": f"{unit}/fairness/{task}_disparities.csv",
            f"importance_{task}": f"{unit}/explain/{task}_importance.csv",
            f"shap_{task}": f"{unit}/explain/{task}_shap.parquet",
            f"shap_groups_{task}": f"{unit}/explain/{task}_shap_groups.csv",
        }
        inputs |= {f"tuning_{task}_{m}": f"{unit}/tuning/{task}/{m}.csv" for m in models if fit_rule(m) == "tune_model"}
        # the cost table reads each model's Snakemake benchmark
        inputs |= {f"benchmark_{task}_{m}": f"{unit}/benchmarks/{fit_rule(m)}/{task}/{m}.tsv" for m in models}
        if "mlp" in models:
            inputs |= {f"mlp_{task}": f"{unit}/mlp/{task}_history.csv",
                       f"architecture_{task}": f"{unit}/mlp/{task}_architecture.json"}
    return inputs


def get_feature_inputs(wildcards):
    source = "households" if wildcards.unit == "households" else "persons"
    return {source: f"results/{wildcards.state}/{wildcards.year}/{source}.parquet"}


def get_household_inputs(wildcards):
    inputs = {"persons": f"results/{wildcards.state}/{wildcards.year}/persons.parquet"}
    if SETTINGS.housing_file:
        inputs["housing"] = f"results/{wildcards.state}/{wildcards.year}/housing.parquet"
    return inputs


def get_model_predictions(wildcards):
    root = f"results/{wildcards.state}/{wildcards.year}/{wildcards.unit}"
    return [
        f"{root}/predictions/{wildcards.task}/{model}.parquet"
        for model in unit_models(wildcards.unit, wildcards.task)
    ]


MODEL_FILE = "results/{state}/{year}/{unit}/models/{task}/{model}.skops"


def model_file(wildcards, task, model, unit=None):
    """Where the model rules save a fitted model."""
    return MODEL_FILE.format(state=wildcards.state, year=wildcards.year, unit=unit or wildcards.unit,
                             task=task, model=model)


def get_task_models(wildcards):
    return [model_file(wildcards, wildcards.task, model) for model in unit_models(wildcards.unit, wildcards.task)]


def get_scenario_models(wildcards):
    return {task: model_file(wildcards, task, model, unit="households")
            for task, model in SETTINGS.scenarios["model"].items()}


def get_linear_model(wildcards):
    return model_file(wildcards, wildcards.task, catalogue.TASKS[wildcards.task].baseline)
