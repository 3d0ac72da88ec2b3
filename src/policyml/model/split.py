"""Train/test split and cross-validation folds, stratified and seeded, with a representativeness check.

Strata are income bracket × PUMA, so both sets span the income distribution and the state's
regions; a cell with fewer than ``min_cell`` households falls back to its income bracket alone
(splitting a 3-household cell 80/20 is noise, not stratification). CV folds on the training set are
stratified on income bracket. Same seed, same split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold, train_test_split

from ..core.errors import DataError
from ..core.survey import SurveyDesign, reliability_options

GROUP_COLUMNS = ("income_bracket", "race", "hispanic_origin", "sex", "age_band", "puma_code")


def strata(frame: pd.DataFrame, min_cell: int) -> pd.Series:
    bracket = frame["income_bracket"].astype(str)
    cell = bracket + " | " + frame["puma_code"].astype(str)
    counts = cell.map(cell.value_counts())
    return cell.where(counts >= min_cell, bracket)


def split_households(frame: pd.DataFrame, test_size: float, cv_folds: int, min_cell: int, seed: int) -> pd.DataFrame:
    """One row per household: SERIALNO, ``set`` (train/test), ``fold`` (0..k-1 in train, -1 in test)."""
    if len(frame) < 5 * cv_folds:
        raise DataError(
            f"only {len(frame)} households: too few to split into train/test and {cv_folds} CV folds",
            "use a larger state or a 5-Year file",
        )
    layers = strata(frame, min_cell)
    # a stratum needs at least 2 households to be split at all
    layers = layers.where(layers.map(layers.value_counts()) >= 2, "other")
    train_index, test_index = train_test_split(
        np.arange(len(frame)), test_size=test_size, stratify=layers, random_state=seed
    )
    fold = np.full(len(frame), -1)
    brackets = frame["income_bracket"].astype(str).to_numpy()[train_index]
    folds = StratifiedKFold(n_splits=cv_folds, shuffle=True, random_state=seed)
    for number, (_, validation) in enumerate(folds.split(train_index, brackets)):
        fold[train_index[validation]] = number
    sets = np.where(fold >= 0, "train", "test")
    return pd.DataFrame({"SERIALNO": frame["SERIALNO"].to_numpy(), "set": sets, "fold": fold})


def cv_folds(split: pd.DataFrame, rows=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) positions within the training rows, in the training rows' order.

    ``rows`` (a boolean mask over the split) narrows the training rows, e.g. to those with a target.
    """
    training = split["set"].eq("train").to_numpy()
    if rows is not None:
        training = training & np.asarray(rows, dtype=bool)
    folds = split.loc[training, "fold"].to_numpy()
    return [(np.flatnonzero(folds != k), np.flatnonzero(folds == k)) for k in np.unique(folds)]


def representativeness(
    frame: pd.DataFrame, split: pd.DataFrame, estimates: dict | None = None, weight: str = "WGTP"
) -> pd.DataFrame:
    """Weighted share of each group in the whole state, the training set and the test set (with SEs)."""
    design = SurveyDesign.from_frame(frame, weight, **reliability_options(estimates))
    sets = {"all": np.ones(len(frame), dtype=bool)} | {s: (split["set"] == s).to_numpy() for s in ("train", "test")}
    rows = []
    for column in GROUP_COLUMNS:
        values = frame[column].astype(str).to_numpy()
        for name, mask in sets.items():
            domain = design.domain(mask, name=name)
            for level in pd.unique(frame[column].astype(str)):
                share = domain.proportion(values == level)
                n = int(((values == level) & mask).sum())
                reliable, reason = share.reliable, share.reason
                if n < design.min_n:  # the share's own CV says little when the group is this small
                    reliable = False
                    reason = "; ".join(filter(None, [f"only {n} sample households in this group (< {design.min_n})", reason]))
                rows.append({
                    "group_variable": column, "group": level, "set": name, "n": n,
                    "share": share.estimate, "se": share.se, "reliable": reliable, "reason": reason,
                })
    table = pd.DataFrame(rows)
    wide = table.pivot_table(index=["group_variable", "group"], columns="set", values="share", sort=False)
    table["train_minus_test"] = table.set_index(["group_variable", "group"]).index.map(
        (wide["train"] - wide["test"]).to_dict()
    )
    return table
