"""Snakemake adapter: the linear baseline's coefficients with replicate-weight SEs."""
from pathlib import Path

from policyml.core.cli import script_main
from policyml.model.modelling import read_task
from policyml.model.models import coefficient_table, load_model
from policyml.core.outputs import write_csv


def main(smk):
    data = read_task(smk.input.features, smk.input.split, smk.input.spec, smk.wildcards.task)
    X, y, w = data.xyw("train")
    table = coefficient_table(load_model(smk.input.model, within=Path(smk.input.features).parent), X, y, w, data.train[data.replicate_columns].to_numpy(float))
    write_csv(table, smk.output.coefficients)


script_main(snakemake, main)
