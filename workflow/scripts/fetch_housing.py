"""Snakemake adapter: fetch the PUMS housing file of a state-year -> housing.parquet (occupied units)."""
from policyml.cli import script_main
from policyml.config import load_settings
from policyml.ingest import load_housing
from policyml.outputs import write_parquet
from policyml.states import resolve_state


def main(smk):
    settings = load_settings(smk.params.config)
    housing = load_housing(settings, resolve_state(smk.wildcards.state))
    write_parquet(housing, smk.output.housing)


script_main(snakemake, main)
