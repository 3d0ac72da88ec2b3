"""Snakemake adapter: fetch the PUMS housing file of a state-year -> housing.parquet (occupied units)."""
from policyml.core.cli import script_main
from policyml.core.config import load_settings
from policyml.core.outputs import write_parquet
from policyml.core.states import resolve_state
from policyml.data.ingest import load_housing


def main(smk):
    settings = load_settings(smk.params.config)
    housing = load_housing(settings, resolve_state(smk.wildcards.state))
    write_parquet(housing, smk.output.housing)


script_main(snakemake, main)
