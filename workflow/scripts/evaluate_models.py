"""Snakemake adapter: test-set metrics with replicate SEs and differences from the linear baseline."""
import json
from pathlib import Path

import pandas as pd

from policyml.cli import script_main
from policyml.config import load_settings
from policyml.modelling import evaluate_task, task_data
from policyml.outputs import write_csv


def main(smk):
    settings = load_settings(smk.params.config)
    spec = json.loads(open(smk.input.spec).read())
    data = task_data(pd.read_parquet(smk.input.features), pd.read_parquet(smk.input.split), spec, smk.wildcards.task)
    predictions = {Path(path).stem: pd.read_parquet(path) for path in smk.input.predictions}
    table, calibration = evaluate_task(data, predictions, settings.models["threshold"], settings.estimates)
    write_csv(table, smk.output.metrics)
    write_csv(calibration, smk.output.calibration)


script_main(snakemake, main)
