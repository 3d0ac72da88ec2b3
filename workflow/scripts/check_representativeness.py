"""Snakemake adapter: features + split -> representativeness.csv (group shares in state, train, test)."""
import json
from pathlib import Path

import pandas as pd

from policyml.core.cli import script_main
from policyml.core.config import load_settings
from policyml.core.outputs import write_csv
from policyml.model.split import representativeness


def main(smk):
    settings = load_settings(smk.params.config)
    features = pd.read_parquet(smk.input.features)
    split = pd.read_parquet(smk.input.split)
    weight = json.loads(Path(smk.input.spec).read_text())["weight"]
    write_csv(representativeness(features, split, settings.estimates, weight), smk.output.representativeness)


script_main(snakemake, main)
