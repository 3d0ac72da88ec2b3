"""policyml: a reproducible policy machine-learning pipeline on ACS PUMS microdata."""

__version__ = "0.1.0"
