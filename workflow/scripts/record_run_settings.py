"""Snakemake adapter: the run's validated config + the person file read -> run_settings.json."""
from policyml.core.cli import script_main
from policyml.core.outputs import read_parquet_metadata, write_json
from policyml.data.run_settings import run_settings


def main(smk):
    source = read_parquet_metadata(smk.input.persons).get("source", {})
    write_json(run_settings(smk.params.config, smk.wildcards.state, source), smk.output.settings)


script_main(snakemake, main)
