"""Snakemake adapter: households (or persons, for acsincome) -> features.parquet + feature_spec.json."""
import pandas as pd

from policyml.core.cli import script_main
from policyml.core.config import load_settings
from policyml.core.outputs import write_json, write_parquet
from policyml.data.ingest import load_dictionary
from policyml.model.features import (
    FeatureSpec,
    build_acsincome_table,
    build_feature_table,
)


def main(smk):
    settings = load_settings(smk.params.config)
    dictionary = load_dictionary(settings)
    if smk.wildcards.unit == "households":
        spec = FeatureSpec.from_config(settings.features)
        table = build_feature_table(pd.read_parquet(smk.input.households), dictionary, spec, settings.targets)
        record = table.spec_record(spec, settings.targets)
    else:
        table = build_acsincome_table(pd.read_parquet(smk.input.persons), dictionary)
        record = table.spec_record()
    write_parquet(table.frame, smk.output.features)
    write_json(record, smk.output.spec)


script_main(snakemake, main)
