"""Snakemake adapter: features -> split.parquet (train/test membership, CV folds)."""
import pandas as pd

from policyml.core.cli import script_main
from policyml.core.config import load_settings
from policyml.core.outputs import write_parquet
from policyml.model.split import split_households


def main(smk):
    settings = load_settings(smk.params.config)
    features = pd.read_parquet(smk.input.features)
    options = settings.split
    split = split_households(features, options["test_size"], options["cv_folds"], options["min_cell"], settings.seed)
    write_parquet(split, smk.output.split)


script_main(snakemake, main)
