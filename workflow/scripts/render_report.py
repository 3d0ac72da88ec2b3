"""Snakemake adapter: the run's outputs -> results/{state}/{year}/report.html (Quarto, or Jupyter + pandoc)."""
import logging

from policyml.core.cli import script_main
from policyml.report.render import render_report

log = logging.getLogger("policyml.report.render")


def main(smk):
    state, year = smk.wildcards.state, smk.wildcards.year
    params = {"state": state, "year": int(year) if year.isdigit() else year, "results": smk.params.results,
              "mirrors": list(smk.params.config["data"]["mirrors"])}
    engine = render_report(smk.input.qmd, smk.output.report, params, progress=log.info)
    log.info("rendered %s with %s", smk.output.report, engine)


script_main(snakemake, main)
