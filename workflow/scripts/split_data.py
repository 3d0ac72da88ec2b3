"""Snakemake adapter: features -> split.parquet (train/test, CV folds) + representativeness.csv."""
import json

import pandas as pd

from policyml.cli import script_main
from policyml.config import load_settings
from policyml.outputs import write_csv, write_parquet
from policyml.split import representativeness, split_households


def main(smk):
    settings = load_settings(smk.params.config)
    features = pd.read_parquet(smk.input.features)
    weight = json.loads(open(smk.input.spec).read())["weight"]
    options = settings.split
    split = split_households(features, options["test_size"], options["cv_folds"], options["min_cell"], settings.seed)
    write_parquet(split, smk.output.split)
    write_csv(representativeness(features, split, settings.estimates, weight), smk.output.representativeness)


script_main(snakemake, main)
