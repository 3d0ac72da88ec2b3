"""Snakemake adapter: fetch the PUMS person file of a state-year -> canonical persons.parquet."""
from policyml.cli import script_main
from policyml.config import load_settings
from policyml.ingest import load_persons
from policyml.outputs import write_parquet
from policyml.states import resolve_state


def main(smk):
    settings = load_settings(smk.params.config)
    persons = load_persons(settings, resolve_state(smk.wildcards.state))
    write_parquet(persons, smk.output.persons)


script_main(snakemake, main)
