"""Snakemake adapter: per-group metrics and disparities of every model on the test set."""
from policyml.cli import script_main
from policyml.config import load_settings
from policyml.fairness import audit_task
from policyml.modelling import read_predictions, read_task
from policyml.outputs import write_csv


def main(smk):
    settings = load_settings(smk.params.config)
    data = read_task(smk.input.features, smk.input.split, smk.input.spec, smk.wildcards.task)
    groups, disparities = audit_task(
        data, read_predictions(smk.input.predictions), settings.models["threshold"], settings.estimates
    )
    write_csv(groups, smk.output.groups)
    write_csv(disparities, smk.output.disparities)


script_main(snakemake, main)
