"""Snakemake adapter: households -> features.parquet (features, targets, weights) + feature_spec.json."""
import pandas as pd

from policyml.cli import script_main
from policyml.config import load_settings
from policyml.features import FeatureSpec, build_feature_table
from policyml.ingest import load_dictionary
from policyml.outputs import write_json, write_parquet


def main(smk):
    settings = load_settings(smk.params.config)
    spec = FeatureSpec.from_config(settings.features)
    households = pd.read_parquet(smk.input.households)
    table = build_feature_table(households, load_dictionary(settings), spec, settings.targets)
    write_parquet(table.frame, smk.output.features)
    write_json(table.spec_record(spec), smk.output.spec)


script_main(snakemake, main)
