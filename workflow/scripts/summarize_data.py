"""Snakemake adapter: households -> data_summary.json (headline estimates vs published B19013)."""
import pandas as pd

from policyml.core.cli import script_main
from policyml.core.config import load_settings
from policyml.core.outputs import write_json
from policyml.data.published import published_estimate
from policyml.core.states import resolve_state
from policyml.data.summary import data_summary, headline


def main(smk):
    settings = load_settings(smk.params.config)
    state = resolve_state(smk.wildcards.state)
    published = published_estimate(
        "B19013", state, settings.period, settings.mirrors(), settings.published["source"]
    )
    persons = pd.read_parquet(smk.input.persons, columns=["PWGTP", "is_group_quarters"])
    households = pd.read_parquet(smk.input.households)
    summary = data_summary(persons, households, published, settings.estimates)
    write_json(summary, smk.output.summary)
    print(headline(summary))


script_main(snakemake, main)
