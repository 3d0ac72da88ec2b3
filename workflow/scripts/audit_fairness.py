"""Snakemake adapter: per-group metrics and disparities of every model on the test set."""
import json
from pathlib import Path

import pandas as pd

from policyml.cli import script_main
from policyml.config import load_settings
from policyml.modelling import audit_task, task_data
from policyml.outputs import write_csv


def main(smk):
    settings = load_settings(smk.params.config)
    spec = json.loads(open(smk.input.spec).read())
    data = task_data(pd.read_parquet(smk.input.features), pd.read_parquet(smk.input.split), spec, smk.wildcards.task)
    predictions = {Path(path).stem: pd.read_parquet(path) for path in smk.input.predictions}
    groups, disparities = audit_task(data, predictions, settings.models["threshold"], settings.estimates)
    write_csv(groups, smk.output.groups)
    write_csv(disparities, smk.output.disparities)


script_main(snakemake, main)
