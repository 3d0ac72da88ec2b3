"""Snakemake adapter: fit (or tune) one model -> model file, predictions (+ CV results; + MLP history)."""
from policyml.core.cli import script_main
from policyml.core.config import load_settings
from policyml.model.modelling import fit, mlp_record, predictions_frame, read_task
from policyml.model.models import save_model
from policyml.core.outputs import write_csv, write_json, write_parquet


def main(smk):
    settings = load_settings(smk.params.config)
    data = read_task(smk.input.features, smk.input.split, smk.input.spec, smk.wildcards.task)
    pipeline, tuning = fit(smk.wildcards.model, data, settings.models, settings.seed, n_jobs=smk.threads)
    save_model(pipeline, smk.output.model)
    write_parquet(predictions_frame(pipeline, data), smk.output.predictions)
    if tuning is not None:
        write_csv(tuning.cv_results, smk.output.cv_results)
    if "history" in smk.output.keys():
        history, architecture = mlp_record(pipeline)
        write_csv(history, smk.output.history)
        write_json(architecture, smk.output.architecture)


script_main(snakemake, main)
