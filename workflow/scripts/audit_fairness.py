"""Snakemake adapter: per-group metrics and disparities of every model on the test set."""
from policyml.audit.fairness import audit_task
from policyml.core.cli import script_main
from policyml.core.config import load_settings
from policyml.core.outputs import write_csv
from policyml.model.modelling import read_predictions, read_task


def main(smk):
    settings = load_settings(smk.params.config)
    data = read_task(smk.input.features, smk.input.split, smk.input.spec, smk.wildcards.task)
    groups, disparities = audit_task(
        data, read_predictions(smk.input.predictions), settings.models["threshold"], settings.estimates
    )
    write_csv(groups, smk.output.groups)
    write_csv(disparities, smk.output.disparities)


script_main(snakemake, main)
