"""Snakemake adapter: SHAP values of the tree models and permutation importance of every model."""
import json
from pathlib import Path

from policyml.audit.explain import explain_task
from policyml.core.cli import script_main
from policyml.core.config import load_settings
from policyml.core.outputs import write_csv, write_parquet
from policyml.model.modelling import read_task
from policyml.model.models import load_model


def main(smk):
    settings = load_settings(smk.params.config)
    data = read_task(smk.input.features, smk.input.split, smk.input.spec, smk.wildcards.task)
    pipelines = {Path(path).stem: load_model(path, within=Path(smk.input.features).parent) for path in smk.input.models}
    descriptions = json.loads(Path(smk.input.spec).read_text()).get("descriptions", {})
    tables = explain_task(
        data, pipelines, settings.explain,
        seed=settings.seed, estimates=settings.estimates, n_jobs=smk.threads, descriptions=descriptions,
    )
    write_csv(tables["importance"], smk.output.importance)
    write_parquet(tables["shap"], smk.output.shap)
    write_csv(tables["shap_groups"], smk.output.shap_groups)


script_main(snakemake, main)
