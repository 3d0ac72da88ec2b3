"""Snakemake adapter: persons (+ housing) -> households.parquet and the missing-data table."""
import pandas as pd

from policyml.cli import script_main
from policyml.config import load_settings
from policyml.households import build_households
from policyml.ingest import load_dictionary
from policyml.outputs import write_csv, write_parquet
from policyml.summary import missing_data_summary


def main(smk):
    settings = load_settings(smk.params.config)
    persons = pd.read_parquet(smk.input.persons)
    housing = pd.read_parquet(smk.input.housing) if "housing" in smk.input.keys() else None
    households = build_households(persons, load_dictionary(settings), housing)
    missing_data = missing_data_summary(households, settings.estimates)
    write_parquet(households, smk.output.households)
    write_csv(missing_data, smk.output.missing_data)


script_main(snakemake, main)
