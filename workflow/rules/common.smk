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
}


wildcard_constraints:
    state="[A-Z]{2}",
    year=r"\d{4}(-\d{4})?",


def get_final_output():
    return [
        f"results/{state}/{period}/data_summary.json" for state, period in SETTINGS.targets
    ]


def get_household_inputs(wildcards):
    inputs = {"persons": f"results/{wildcards.state}/{wildcards.year}/persons.parquet"}
    if SETTINGS.housing_file:
        inputs["housing"] = f"results/{wildcards.state}/{wildcards.year}/housing.parquet"
    return inputs
