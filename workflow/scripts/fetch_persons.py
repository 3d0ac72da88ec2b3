"""Snakemake adapter: fetch the PUMS person file of a state-year -> canonical persons.parquet.

The file read (name, place, size, sha256) rides along in the parquet file's metadata, for the
run's settings (rule record_run_settings)."""
from policyml.core.cli import script_main
from policyml.core.config import load_settings
from policyml.data.ingest import fetch_persons
from policyml.core.outputs import write_parquet
from policyml.core.states import resolve_state


def main(smk):
    settings = load_settings(smk.params.config)
    persons, source = fetch_persons(settings, resolve_state(smk.wildcards.state))
    write_parquet(persons, smk.output.persons, metadata={"source": source})


script_main(snakemake, main)
