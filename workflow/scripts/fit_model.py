"""Snakemake adapter: fit (or tune) one model for one task -> model file, predictions (+ CV results)."""
import json

import pandas as pd

from policyml.cli import script_main
from policyml.config import load_settings
from policyml.modelling import fit, predictions_frame, task_data
from policyml.models import save_model
from policyml.outputs import write_csv, write_parquet


def main(smk):
    settings = load_settings(smk.params.config)
    spec = json.loads(open(smk.input.spec).read())
    data = task_data(pd.read_parquet(smk.input.features), pd.read_parquet(smk.input.split), spec, smk.wildcards.task)
    pipeline, tuning = fit(smk.wildcards.model, data, settings.models, settings.seed, n_jobs=smk.threads)
    save_model(pipeline, smk.output.model)
    write_parquet(predictions_frame(pipeline, data), smk.output.predictions)
    if tuning is not None:
        write_csv(tuning.cv_results, smk.output.cv_results)


script_main(snakemake, main)
