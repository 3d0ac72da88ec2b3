"""Snakemake adapter: test-set metrics with replicate SEs and differences from the linear baseline."""
from policyml.core.cli import script_main
from policyml.core.config import load_settings
from policyml.core.outputs import write_csv
from policyml.model.modelling import evaluate_task, read_predictions, read_task


def main(smk):
    settings = load_settings(smk.params.config)
    data = read_task(smk.input.features, smk.input.split, smk.input.spec, smk.wildcards.task)
    table, calibration = evaluate_task(
        data, read_predictions(smk.input.predictions), settings.models["threshold"], settings.estimates
    )
    write_csv(table, smk.output.metrics)
    write_csv(calibration, smk.output.calibration)


script_main(snakemake, main)
