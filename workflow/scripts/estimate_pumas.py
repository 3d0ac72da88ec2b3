"""Snakemake adapter: households -> weighted median income and low-income share per PUMA (the maps)."""
import pandas as pd

from policyml.core.cli import script_main
from policyml.core.config import load_settings
from policyml.core.outputs import write_csv
from policyml.report.reporting import puma_estimates


def main(smk):
    settings = load_settings(smk.params.config)
    table = puma_estimates(pd.read_parquet(smk.input.households), settings.estimates, settings.targets)
    write_csv(table, smk.output.pumas)


script_main(snakemake, main)
