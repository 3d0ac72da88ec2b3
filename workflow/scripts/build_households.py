"""Snakemake adapter: persons (+ housing) -> households.parquet."""
import pandas as pd

from policyml.core.cli import script_main
from policyml.core.config import load_settings
from policyml.core.outputs import write_parquet
from policyml.data.households import build_households
from policyml.data.ingest import load_dictionary


def main(smk):
    settings = load_settings(smk.params.config)
    persons = pd.read_parquet(smk.input.persons)
    housing = pd.read_parquet(smk.input.housing) if "housing" in smk.input.keys() else None
    write_parquet(build_households(persons, load_dictionary(settings), housing), smk.output.households)


script_main(snakemake, main)
