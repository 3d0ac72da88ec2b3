"""Snakemake adapter: policy scenarios -> predicted change in median income and low-income share."""
import json
from pathlib import Path

import pandas as pd

from policyml.core.cli import script_main
from policyml.core.config import load_settings
from policyml.data.ingest import load_dictionary
from policyml.model.models import load_model
from policyml.core.outputs import write_csv
from policyml.audit.scenarios import run_scenarios


def main(smk):
    settings = load_settings(smk.params.config)
    results = Path(smk.input.households).parent  # models load only from the run's own results
    pipelines = {task: load_model(getattr(smk.input, task), within=results)
                 for task in ("regression", "classification") if task in smk.input.keys()}
    table = run_scenarios(
        pd.read_parquet(smk.input.households),
        pd.read_parquet(smk.input.features),
        json.loads(Path(smk.input.spec).read_text()),
        pipelines,
        load_dictionary(settings),
        settings,
    )
    write_csv(table, smk.output.scenarios)


script_main(snakemake, main)
