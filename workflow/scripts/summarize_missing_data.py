"""Snakemake adapter: households.parquet -> missing_data.csv (not applicable / allocated / reported, by group)."""
import pandas as pd

from policyml.core.cli import script_main
from policyml.core.config import load_settings
from policyml.core.outputs import write_csv
from policyml.data.summary import missing_data_summary


def main(smk):
    settings = load_settings(smk.params.config)
    households = pd.read_parquet(smk.input.households)
    write_csv(missing_data_summary(households, settings.estimates), smk.output.missing_data)


script_main(snakemake, main)
