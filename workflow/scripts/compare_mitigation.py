"""Snakemake adapter: fairness mitigations of the low-income classifier beside the unmitigated models."""
from pathlib import Path

from policyml.audit.mitigation import compare_mitigation, models_needed
from policyml.core.cli import script_main
from policyml.core.config import load_settings
from policyml.core.outputs import write_csv
from policyml.model.modelling import read_task
from policyml.model.models import load_model


def main(smk):
    settings = load_settings(smk.params.config)
    data = read_task(smk.input.features, smk.input.split, smk.input.spec, "classification")
    results = Path(smk.input.features).parent  # models load only from the run's own results
    wanted = models_needed(settings.fairness)
    pipelines = {Path(path).stem: load_model(path, within=results)
                 for path in smk.input.models if Path(path).stem in wanted}
    table = compare_mitigation(
        data, pipelines, settings.fairness,
        seed=settings.seed, threshold=settings.models["threshold"], estimates=settings.estimates,
        n_jobs=smk.threads,
    )
    write_csv(table, smk.output[0])


script_main(snakemake, main)
