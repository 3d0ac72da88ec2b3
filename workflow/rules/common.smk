# Config validation, wildcard constraints and small helpers. Logic lives in src/policyml.
import os
import sys

from policyml.core.config import load_settings
from policyml.core.errors import PolicymlError, one_line
from policyml.core import catalogue, layout
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
    task="|".join(catalogue.TASKS),
    unit="|".join(catalogue.UNITS),


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


# A rule's output (or input) path from policyml.core.layout, wildcards kept unless fixed.
output_path = layout.rule_pattern


def state_year_path(wildcards, name, **values):
    """Output ``name`` of the job's state-year (policyml.core.layout)."""
    return layout.state_year_path(name, wildcards.state, wildcards.year, **values)


def get_final_output():
    outputs = []
    for state, period in SETTINGS.state_years:
        def path(name, **values):
            return layout.state_year_path(name, state, period, **values)

        outputs += [path("data_summary"), path("run_settings")]
        for unit in SETTINGS.units:
            outputs.append(path("representativeness", unit=unit))
            for task in UNIT_TASKS[unit]:
                outputs += [path(name, unit=unit, task=task) for name in
                            ("metrics", "coefficients", "fairness_disparities", "importance")]
                if unit == "households" and task == "classification":
                    outputs.append(path("mitigation", unit=unit, task=task))
                outputs += [path("mlp_history", unit=unit, task=task, model=m)
                            for m in SETTINGS.models[task] if fit_rule(m) == "fit_mlp"]
        if "households" in SETTINGS.units:
            outputs.append(path("report"))
    if "households" in SETTINGS.units and len(SETTINGS.state_years) > 1:
        outputs.append(layout.INDEX)
    return outputs


# the report's source, and every state-year of the run as (state, period)
REPORT_QMD = os.path.join(workflow.basedir, "report", "report.qmd")
STATE_YEARS = SETTINGS.state_years


def get_report_inputs(wildcards):
    """Every file report.qmd reads (the households analysis; tuning files of the tuned models)."""
    def path(name, **values):
        return state_year_path(wildcards, name, **values)

    unit = "households"
    inputs = {name: path(name) for name in ("data_summary", "run_settings", "missing_data", "persons",
                                            "households", "puma_estimates")}
    inputs |= {name: path(name, unit=unit) for name in ("features", "feature_spec", "split",
                                                        "representativeness", "scenarios")}
    inputs["mitigation"] = path("mitigation", unit=unit, task="classification")
    for task in UNIT_TASKS["households"]:
        models = SETTINGS.models[task]
        inputs |= {f"{name}_{task}": path(name, unit=unit, task=task) for name in (
            "metrics", "calibration", "coefficients", "fairness_groups", "fairness_disparities",
            "importance", "shap", "shap_groups")}
        inputs |= {f"tuning_{task}_{m}": path("tuning", unit=unit, task=task, model=m)
                   for m in models if fit_rule(m) == "tune_model"}
        # the cost table reads each model's Snakemake benchmark
        inputs |= {f"benchmark_{task}_{m}": path("benchmark", unit=unit, stage=fit_rule(m), task=task, model=m)
                   for m in models}
        for m in models:
            if fit_rule(m) == "fit_mlp":
                inputs |= {f"mlp_{task}": path("mlp_history", unit=unit, task=task, model=m),
                           f"architecture_{task}": path("mlp_architecture", unit=unit, task=task, model=m)}
    return inputs


def get_index_inputs(name, **values):
    """Output ``name`` of every state-year of the run (the index page reads them)."""
    return [layout.state_year_path(name, state, period, **values) for state, period in STATE_YEARS]


def get_feature_inputs(wildcards):
    source = "households" if wildcards.unit == "households" else "persons"
    return {source: state_year_path(wildcards, source)}


def get_household_inputs(wildcards):
    inputs = {"persons": state_year_path(wildcards, "persons")}
    if SETTINGS.housing_file:
        inputs["housing"] = state_year_path(wildcards, "housing")
    return inputs


def get_model_predictions(wildcards):
    return [state_year_path(wildcards, "predictions", unit=wildcards.unit, task=wildcards.task, model=model)
            for model in unit_models(wildcards.unit, wildcards.task)]


def model_file(wildcards, task, model, unit=None):
    """Where the model rules save a fitted model."""
    return state_year_path(wildcards, "model", unit=unit or wildcards.unit, task=task, model=model)


def get_task_models(wildcards):
    return [model_file(wildcards, wildcards.task, model) for model in unit_models(wildcards.unit, wildcards.task)]


def get_scenario_models(wildcards):
    return {task: model_file(wildcards, task, model, unit="households")
            for task, model in SETTINGS.scenarios["model"].items()}


def get_linear_model(wildcards):
    return model_file(wildcards, wildcards.task, catalogue.TASKS[wildcards.task].baseline)
