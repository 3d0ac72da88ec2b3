"""Snakemake adapter: the linear baseline's coefficients with replicate-weight SEs."""
import json

import pandas as pd

from policyml.cli import script_main
from policyml.modelling import task_data
from policyml.models import coefficient_table, load_model
from policyml.outputs import write_csv


def main(smk):
    spec = json.loads(open(smk.input.spec).read())
    data = task_data(pd.read_parquet(smk.input.features), pd.read_parquet(smk.input.split), spec, smk.wildcards.task)
    X, y, w = data.xyw("train")
    table = coefficient_table(load_model(smk.input.model), X, y, w, data.train[data.replicate_columns].to_numpy(float))
    write_csv(table, smk.output.coefficients)


script_main(snakemake, main)
