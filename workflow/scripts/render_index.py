"""Snakemake adapter: several state-years' results -> results/index.html linking their reports."""
from pathlib import Path

from policyml.core.cli import script_main
from policyml.report.render import index_entry, render_index


def main(smk):
    entries = [index_entry(Path(summary).parent) for summary in smk.input.summaries]
    render_index(entries, smk.output.index)


script_main(snakemake, main)
