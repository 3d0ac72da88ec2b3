"""Weighted survey estimates with successive difference replication (SDR) standard errors.

ACS PUMS records carry a full-sample weight (persons ``PWGTP``, households ``WGTP``) and 80
replicate weights (``PWGTP1..PWGTP80`` / ``WGTP1..WGTP80``). An estimate ``theta`` uses the full
weight; the same estimate recomputed with replicate weight ``r`` gives ``theta_r``, and

    SE = sqrt(4/80 * sum_r (theta_r - theta)^2),   MOE90 = 1.645 * SE,   CV = SE / |theta|.

This module is the one place the project computes weighted estimates and their standard errors.
A :class:`SurveyDesign` holds the 81 weight columns as one ``(n, 81)`` float64 matrix (column 0 is
the full sample, columns 1..80 the replicates), so every estimator computes ``theta`` and all 80
``theta_r`` in one vectorised step. Every estimator is built on :meth:`SurveyDesign.replicate`,
which takes a statistic of that weight matrix; new statistics (model metrics, group metrics) plug
into the same mechanism.

Conventions
-----------
Domains (subpopulations)
    :meth:`SurveyDesign.domain` returns a new design whose weights (full and replicate) are zero
    outside the domain. All rows are kept, which is the correct replication approach for domain
    estimation; for ratio-type estimators (means, proportions, ratios, quantiles) it agrees with
    filtering the rows. Domains nest: ``design.domain(a).domain(b)`` is the domain ``a & b``.
Missing values
    NaN values are excluded: they carry no weight in the numerator or the denominator, and the
    record does not count towards ``n``. For a ratio a record is excluded when either its
    numerator or its denominator value is missing.
Sample size
    ``n`` is the number of sample cases behind an estimate: records inside the domain with a
    positive full-sample weight and a non-missing value.
Empty domains
    A domain with no case of positive full-sample weight, or an estimator whose full-sample
    denominator weight is zero, raises :class:`~policyml.core.errors.DataError` naming the domain instead
    of returning NaN. A replicate whose denominator is zero (possible for tiny domains, where
    replicate weights may be 0) gives a NaN replicate estimate; the SE is then NaN and the estimate
    is flagged unreliable with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import ConfigError, DataError

REPLICATES = 80
SDR_FACTOR = 4 / 80
Z90 = 1.645
CV_THRESHOLD = 0.30
MIN_N = 30

#: Statistic of the ``(n, 81)`` weight matrix returning the 81 estimates (full sample first).
Statistic = Callable[[np.ndarray], np.ndarray]

_COLUMNS = ("name", "estimate", "se", "moe90", "cv", "n", "reliable", "reason")


# --------------------------------------------------------------------------------------------------
# Estimate
# --------------------------------------------------------------------------------------------------


def sdr_standard_error(estimate: float, replicates: np.ndarray) -> float:
    """Return the SDR standard error ``sqrt(4/80 * sum (theta_r - theta)^2)``.

    Returns NaN when any replicate estimate is not finite.
    """
    replicates = np.asarray(replicates, dtype=np.float64)
    if not (math.isfinite(estimate) and np.all(np.isfinite(replicates))):
        return math.nan
    deviations = replicates - estimate
    return math.sqrt(SDR_FACTOR * float(deviations @ deviations))


def coefficient_of_variation(estimate: float, se: float) -> float:
    """Return ``se / |estimate|``: inf for a zero estimate with positive SE, NaN for 0/0."""
    if math.isnan(se) or math.isnan(estimate):
        return math.nan
    if estimate == 0:
        return math.inf if se > 0 else math.nan
    return se / abs(estimate)


def reliability(
    cv: float,
    n: int,
    cv_threshold: float = CV_THRESHOLD,
    min_n: int = MIN_N,
    se: float = 0.0,
) -> tuple[bool, str | None]:
    """Judge an estimate: unreliable when ``cv > cv_threshold`` or ``n < min_n`` (or SE undefined).

    Returns
    -------
    (reliable, reason)
        ``reason`` says why it is unreliable (several reasons joined by ``"; "``), else None.
    """
    reasons = []
    if n < min_n:
        reasons.append(f"only {n} sample cases (< {min_n})")
    if math.isnan(se):
        reasons.append("SE undefined: some replicate estimates are not finite")
    elif cv > cv_threshold:  # NaN (0 / 0) compares False: an exact zero is not judged by CV
        reasons.append(f"CV {cv:.2f} > {cv_threshold:.2f}")
    return (not reasons, "; ".join(reasons) or None)


@dataclass(frozen=True)
class Estimate:
    """A weighted estimate with its SDR standard error and reliability.

    Attributes
    ----------
    estimate : float
        Estimate with the full-sample weight.
    se : float
        SDR standard error (NaN if some replicate estimate is undefined).
    cv : float
        Coefficient of variation ``se / |estimate|``.
    n : int
        Unweighted number of sample cases behind the estimate.
    reliable : bool
        False when ``cv`` exceeds the design's threshold or ``n`` is below its minimum.
    reason : str or None
        Why the estimate is unreliable, e.g. ``"CV 0.41 > 0.30"``.
    replicates : numpy.ndarray
        The 80 replicate estimates (not shown in repr, not compared).
    """

    estimate: float
    se: float
    cv: float
    n: int
    reliable: bool
    reason: str | None
    replicates: np.ndarray = field(repr=False, compare=False)

    @property
    def moe90(self) -> float:
        """90% margin of error, ``1.645 * se``."""
        return Z90 * self.se

    @property
    def interval90(self) -> tuple[float, float]:
        """90% confidence interval ``estimate -/+ moe90``."""
        return (self.estimate - self.moe90, self.estimate + self.moe90)

    @classmethod
    def from_replicates(
        cls,
        values: np.ndarray,
        n: int,
        cv_threshold: float = CV_THRESHOLD,
        min_n: int = MIN_N,
    ) -> Estimate:
        """Build an estimate from 81 values: the full-sample estimate then the 80 replicates."""
        values = np.asarray(values, dtype=np.float64)
        if values.shape != (REPLICATES + 1,):
            raise DataError(
                f"a replicated statistic must give {REPLICATES + 1} values (full sample and "
                f"{REPLICATES} replicates), got shape {values.shape}",
                "return one value per column of the (n, 81) weight matrix",
            )
        estimate = float(values[0])
        if not math.isfinite(estimate):
            raise DataError(
                f"the full-sample estimate is not finite ({estimate})",
                "check that the domain and values give a defined estimate",
            )
        replicates = values[1:].copy()
        replicates.setflags(write=False)
        se = sdr_standard_error(estimate, replicates)
        cv = coefficient_of_variation(estimate, se)
        reliable, reason = reliability(cv, int(n), cv_threshold, min_n, se=se)
        return cls(estimate, se, cv, int(n), reliable, reason, replicates)

    def to_dict(self) -> dict[str, Any]:
        """Return the estimate as a flat dict (without the replicate estimates)."""
        return {
            "estimate": self.estimate,
            "se": self.se,
            "moe90": self.moe90,
            "cv": self.cv,
            "n": self.n,
            "reliable": self.reliable,
            "reason": self.reason,
        }


def reliability_options(estimates: Mapping[str, Any] | None) -> dict[str, Any]:
    """The config's ``estimates`` section (cv_threshold, min_sample) as SurveyDesign arguments."""
    estimates = estimates or {}
    return {"cv_threshold": estimates.get("cv_threshold", CV_THRESHOLD), "min_n": estimates.get("min_sample", MIN_N)}


def estimates_frame(mapping: Mapping[str, Estimate]) -> pd.DataFrame:
    """Return a tidy table of named estimates.

    Columns: name, estimate, se, moe90, cv, n, reliable, reason (one row per estimate).
    """
    rows = [{"name": name, **estimate.to_dict()} for name, estimate in mapping.items()]
    return pd.DataFrame(rows, columns=list(_COLUMNS))


# --------------------------------------------------------------------------------------------------
# Survey design
# --------------------------------------------------------------------------------------------------


def as_vector(values: Any, what: str) -> np.ndarray:
    """Convert values (array, list, pandas Series with NA) to a float64 vector."""
    try:
        if isinstance(values, (pd.Series, pd.Index)):
            return values.to_numpy(dtype=np.float64, na_value=np.nan)
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DataError(
            f"{what} must be numeric: {error}",
            "convert the column to numbers (missing values as NaN) before estimating",
        ) from None


def safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Divide elementwise, NaN where the denominator is zero (no RuntimeWarning)."""
    result = np.full(np.broadcast(numerator, denominator).shape, np.nan)
    np.divide(numerator, denominator, out=result, where=denominator != 0)
    return result


class SurveyDesign:
    """Full-sample and 80 SDR replicate weights of a PUMS file, ready for estimation.

    Parameters
    ----------
    weights : array-like, shape (n,)
        Full-sample weights (finite, non-negative).
    replicate_weights : array-like, shape (n, 80)
        Replicate weights (finite; zero and negative values are allowed).
    cv_threshold : float
        Estimates with a larger CV are flagged unreliable.
    min_n : int
        Estimates from fewer sample cases are flagged unreliable.

    Notes
    -----
    Subpopulations use :meth:`domain`, which zeroes weights outside the domain and keeps all rows.
    NaN values passed to estimators are excluded (they carry no weight).
    """

    def __init__(
        self,
        weights: Any,
        replicate_weights: Any,
        cv_threshold: float = CV_THRESHOLD,
        min_n: int = MIN_N,
    ):
        weights = as_vector(weights, "full-sample weights")
        replicate_weights = np.asarray(replicate_weights)
        _check_shapes(weights, replicate_weights)
        matrix = np.empty((weights.shape[0], REPLICATES + 1), dtype=np.float64)
        matrix[:, 0] = weights
        try:
            matrix[:, 1:] = replicate_weights  # converts to float64 while copying
        except (TypeError, ValueError) as error:
            raise DataError(
                f"replicate weights must be numeric: {error}",
                "convert the replicate weight columns to numbers",
            ) from None
        _check_values(matrix)
        self._init(matrix, np.ones(weights.shape[0], dtype=bool), None, cv_threshold, min_n)

    def _init(
        self,
        matrix: np.ndarray,
        in_domain: np.ndarray,
        name: str | None,
        cv_threshold: float,
        min_n: int,
    ) -> None:
        if not (isinstance(cv_threshold, (int, float)) and cv_threshold > 0):
            raise ConfigError(
                f"cv_threshold must be a positive number, got {cv_threshold!r}",
                "use e.g. 0.30",
            )
        if not (isinstance(min_n, (int, np.integer)) and min_n >= 0):
            raise ConfigError(
                f"min_n must be a non-negative integer, got {min_n!r}", "use e.g. 30"
            )
        matrix.setflags(write=False)
        in_domain.setflags(write=False)
        self._matrix = matrix
        self._in_domain = in_domain
        self._cases = in_domain & (matrix[:, 0] > 0)
        self._name = name
        self.cv_threshold = float(cv_threshold)
        self.min_n = int(min_n)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        weight: str = "WGTP",
        cv_threshold: float = CV_THRESHOLD,
        min_n: int = MIN_N,
    ) -> SurveyDesign:
        """Build a design from columns ``weight`` and ``f"{weight}1"`` .. ``f"{weight}80"``.

        Use ``weight="PWGTP"`` for person records, ``"WGTP"`` for housing records.
        """
        replicate_columns = [f"{weight}{r}" for r in range(1, REPLICATES + 1)]
        missing = [c for c in [weight, *replicate_columns] if c not in frame.columns]
        if missing:
            raise DataError(
                f"weight columns missing from the frame: {', '.join(missing)}",
                f"read the PUMS file with the full-sample weight {weight} and all {REPLICATES} "
                f"replicate weights {weight}1..{weight}{REPLICATES}",
            )
        try:
            replicate_weights = frame[replicate_columns].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as error:
            raise DataError(
                f"replicate weight columns {weight}1..{weight}{REPLICATES} must be numeric: "
                f"{error}",
                "convert the replicate weight columns to numbers",
            ) from None
        return cls(frame[weight], replicate_weights, cv_threshold=cv_threshold, min_n=min_n)

    # ---------------------------------------------------------------------------------- properties

    @property
    def matrix(self) -> np.ndarray:
        """Read-only (n, 81) weights: column 0 full sample, 1..80 replicates; 0 outside domain."""
        return self._matrix

    @property
    def weights(self) -> np.ndarray:
        """Full-sample weights, shape (n,)."""
        return self._matrix[:, 0]

    @property
    def replicate_weights(self) -> np.ndarray:
        """Replicate weights, shape (n, 80)."""
        return self._matrix[:, 1:]

    @property
    def in_domain(self) -> np.ndarray:
        """Read-only boolean mask of the records in this design's domain."""
        return self._in_domain

    @property
    def name(self) -> str:
        """Label of the domain, used in error messages (``"all records"`` for the whole file)."""
        return self._name or "all records"

    @property
    def n_records(self) -> int:
        """Number of rows (records), inside or outside the domain."""
        return int(self._matrix.shape[0])

    @property
    def n(self) -> int:
        """Number of sample cases: records in the domain with a positive full-sample weight."""
        return int(np.count_nonzero(self._cases))

    def __len__(self) -> int:
        return self.n_records

    def __repr__(self) -> str:
        return (
            f"SurveyDesign(domain={self.name!r}, n={self.n}, records={self.n_records}, "
            f"cv_threshold={self.cv_threshold}, min_n={self.min_n})"
        )

    # ------------------------------------------------------------------------------------- domains

    def domain(self, mask: Any, name: str | None = None) -> SurveyDesign:
        """Return the design restricted to a subpopulation by zeroing weights outside it.

        All rows are kept (correct SDR domain estimation). Calls nest: the new domain is this
        domain ``&`` ``mask``. ``name`` labels the domain in error messages.

        Raises
        ------
        DataError
            If the mask is not boolean of length n, or selects no case with positive weight.
        """
        mask = self._as_mask(mask, "domain mask")
        label = name or "domain"
        if self._name is not None:
            label = f"{self._name} & {label}"
        in_domain = self._in_domain & mask
        if not np.any(in_domain & (self._matrix[:, 0] > 0)):
            raise DataError(
                f"domain {label!r} is empty: none of its {int(np.count_nonzero(in_domain))} "
                f"records (of {self.n_records}) has a positive full-sample weight",
                "check the filter that defines the domain, or skip estimates for empty groups",
            )
        matrix = np.where(in_domain[:, None], self._matrix, 0.0)
        design = object.__new__(SurveyDesign)
        design._init(matrix, in_domain, label, self.cv_threshold, self.min_n)
        return design

    def _as_mask(self, mask: Any, what: str) -> np.ndarray:
        if isinstance(mask, (pd.Series, pd.Index)):
            if mask.isna().any():
                raise DataError(
                    f"{what} has missing values", "fill them (e.g. .fillna(False)) before using it"
                )
            mask = mask.to_numpy()
        mask = np.asarray(mask)
        if mask.dtype != bool:
            raise DataError(
                f"{what} must be boolean, got dtype {mask.dtype}",
                "pass a boolean array, e.g. frame['AGEP'] >= 18",
            )
        self._check_length(mask, what)
        return mask

    def _check_length(self, values: np.ndarray, what: str) -> None:
        if values.shape != (self.n_records,):
            raise DataError(
                f"{what} has shape {values.shape} but the design has {self.n_records} records",
                "pass one value per record, in the same row order as the weights",
            )

    # ------------------------------------------------------------------------------- generic core

    def replicate(self, statistic: Statistic, n: int | None = None) -> Estimate:
        """Evaluate ``statistic`` on the 81 weight columns and return its SDR estimate.

        Parameters
        ----------
        statistic : callable
            ``statistic(W)`` takes the read-only ``(n, 81)`` weight matrix (zero outside the domain;
            column 0 full sample) and returns the 81 estimates, shape (81,).
        n : int, optional
            Sample cases behind the estimate; defaults to the domain's cases (:attr:`n`).
        """
        values = np.asarray(statistic(self._matrix), dtype=np.float64)
        return Estimate.from_replicates(
            values, self.n if n is None else n, self.cv_threshold, self.min_n
        )

    # --------------------------------------------------------------------------------- estimators

    def _values(self, values: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
        """Return the values with NaN set to 0 and the mask of non-missing values."""
        vector = as_vector(values, what)
        self._check_length(vector, what)
        valid = ~np.isnan(vector)
        if np.any(np.isinf(vector)):
            raise DataError(
                f"{what} contain infinite values",
                "replace them with finite values or NaN (NaN values are excluded)",
            )
        return np.where(valid, vector, 0.0), valid

    def _count(self, valid: np.ndarray) -> int:
        return int(np.count_nonzero(self._cases & valid))

    def _require_weight(self, full_sample_weight: float, what: str, valid: np.ndarray) -> None:
        if not full_sample_weight > 0:
            in_domain = int(np.count_nonzero(self._in_domain))
            with_value = int(np.count_nonzero(self._in_domain & valid))
            raise DataError(
                f"cannot estimate the {what} on domain {self.name!r}: zero total weight "
                f"({with_value} of its {in_domain} records have a non-missing value)",
                "check the domain filter and the missing values (NaN values are excluded)",
            )

    def total(self, values: Any = None) -> Estimate:
        """Weighted total of ``values``; ``None`` counts units (sum of weights). NaN excluded."""
        if values is None:
            return self.replicate(lambda W: W.sum(axis=0))
        x, valid = self._values(values, "values")
        return self.replicate(lambda W: x @ W, n=self._count(valid))

    def mean(self, values: Any) -> Estimate:
        """Weighted mean of ``values`` over the domain. NaN values are excluded."""
        x, valid = self._values(values, "values")
        self._require_weight(float(self._matrix[valid, 0].sum()), "mean", valid)
        return self._ratio(x, valid.astype(np.float64), valid)

    def proportion(self, condition: Any) -> Estimate:
        """Weighted share of records where ``condition`` holds (NaN/NA entries are excluded)."""
        return self.mean(condition)

    def ratio(self, numerator: Any, denominator: Any) -> Estimate:
        """Ratio of weighted totals ``sum(w * numerator) / sum(w * denominator)``.

        A record missing either value is excluded from both totals.
        """
        top, top_valid = self._values(numerator, "numerator")
        bottom, bottom_valid = self._values(denominator, "denominator")
        valid = top_valid & bottom_valid
        top, bottom = np.where(valid, top, 0.0), np.where(valid, bottom, 0.0)
        if bottom @ self._matrix[:, 0] == 0:
            raise DataError(
                f"cannot estimate the ratio on domain {self.name!r}: the weighted total of the "
                "denominator is zero",
                "choose a denominator with a non-zero total in this domain",
            )
        return self._ratio(top, bottom, valid)

    def _ratio(self, top: np.ndarray, bottom: np.ndarray, valid: np.ndarray) -> Estimate:
        """Ratio of weighted totals, both evaluated for the 81 columns in one matrix product."""
        both = np.stack([top, bottom])

        def statistic(W: np.ndarray) -> np.ndarray:
            totals = both @ W  # (2, 81)
            return safe_divide(totals[0], totals[1])

        return self.replicate(statistic, n=self._count(valid))

    def quantile(self, values: Any, q: float) -> Estimate:
        """Weighted quantile: the smallest x whose cumulative weight of values <= x is >= q * total.

        This inverts the weighted empirical CDF; for integer weights it equals
        ``np.quantile(np.repeat(values, weights), q, method="inverted_cdf")``. NaN values are
        excluded. A replicate with zero total weight gives a NaN replicate estimate.
        """
        if not (isinstance(q, (int, float, np.floating)) and 0 <= q <= 1):
            raise ConfigError(f"quantile q must be between 0 and 1, got {q!r}", "use e.g. 0.5")
        vector = as_vector(values, "values")
        self._check_length(vector, "values")
        valid = ~np.isnan(vector)
        what = "median" if q == 0.5 else f"quantile {q}"
        full_weight = float(self._matrix[valid, 0].sum())
        self._require_weight(full_weight, what, valid)
        return self.replicate(
            lambda W: _weighted_quantiles(vector, W, valid, float(q)), n=self._count(valid)
        )

    def median(self, values: Any) -> Estimate:
        """Weighted median, :meth:`quantile` with ``q = 0.5``."""
        return self.quantile(values, 0.5)


def _weighted_quantiles(
    values: np.ndarray, W: np.ndarray, valid: np.ndarray, q: float
) -> np.ndarray:
    """Return the q-quantile of ``values`` under each weight column of ``W`` (vectorised).

    Sorts the values once, cumulates the sorted weight matrix, and for each column picks the first
    distinct value whose cumulative weight reaches ``q * total``. Evaluating only at the last row
    of each run of tied values keeps the definition exact even with negative replicate weights.
    """
    # Rows with a value and some non-zero weight; all-zero rows cannot change any quantile.
    rows = np.flatnonzero(valid & np.any(W != 0, axis=1))
    order = rows[np.argsort(values[rows], kind="stable")]
    sorted_values = values[order]
    cumulative = W[order]  # gathered copy, cumulated in place (no second (n, 81) array)
    np.cumsum(cumulative, axis=0, out=cumulative)
    last_of_run = np.append(sorted_values[1:] != sorted_values[:-1], True)
    cumulative_at_value = cumulative[last_of_run]  # (distinct values, 81)
    distinct_values = sorted_values[last_of_run]
    totals = cumulative_at_value[-1]
    reached = cumulative_at_value >= q * totals
    result = distinct_values[np.argmax(reached, axis=0)]
    # Undefined where a column has no positive total weight (or never reaches its target).
    return np.where((totals > 0) & reached.any(axis=0), result, np.nan)


def _check_shapes(weights: np.ndarray, replicate_weights: np.ndarray) -> None:
    """Raise a DataError naming the first problem with the shapes of the weights."""
    hint_shape = (
        f"pass the full-sample weight as a vector of n values and the {REPLICATES} replicate "
        f"weights as an (n, {REPLICATES}) matrix, or use SurveyDesign.from_frame"
    )
    if weights.ndim != 1:
        raise DataError(
            f"full-sample weights must be one-dimensional, got shape {weights.shape}", hint_shape
        )
    if weights.shape[0] == 0:
        raise DataError("the survey design has no records (0 weights)", "load a non-empty file")
    if replicate_weights.ndim != 2:
        raise DataError(
            f"replicate weights must be a 2-D (n, {REPLICATES}) matrix, got shape "
            f"{replicate_weights.shape}",
            hint_shape,
        )
    if replicate_weights.shape[1] != REPLICATES:
        raise DataError(
            f"expected {REPLICATES} replicate weight columns, got {replicate_weights.shape[1]}",
            f"include all {REPLICATES} replicate weights (e.g. PWGTP1..PWGTP80 or WGTP1..WGTP80)",
        )
    if replicate_weights.shape[0] != weights.shape[0]:
        raise DataError(
            f"replicate weights have {replicate_weights.shape[0]} rows but there are "
            f"{weights.shape[0]} full-sample weights",
            "take both from the same records, in the same order",
        )


def _check_values(matrix: np.ndarray) -> None:
    """Raise a DataError unless all weights are finite and full-sample weights non-negative.

    Replicate weights may be zero or negative (negative ones occur in some housing files).
    """
    weights = matrix[:, 0]
    bad = ~np.isfinite(weights)
    if bad.any():
        raise DataError(
            f"full-sample weights have {int(bad.sum())} missing or infinite values "
            f"(first at row {int(np.argmax(bad))})",
            "drop records without a weight or re-read the weight column",
        )
    negative = weights < 0
    if negative.any():
        first = int(np.argmax(negative))
        raise DataError(
            f"full-sample weights must be non-negative: {int(negative.sum())} negative "
            f"(first at row {first}: {weights[first]:g})",
            "check that the weight column is the PUMS full-sample weight (PWGTP or WGTP)",
        )
    replicate_weights = matrix[:, 1:]
    if np.isfinite(replicate_weights.sum()):  # fast path: a NaN or inf makes the sum non-finite
        return
    bad_replicates = ~np.isfinite(replicate_weights)
    row, column = np.argwhere(bad_replicates)[0]
    raise DataError(
        f"replicate weights have {int(bad_replicates.sum())} missing or infinite values "
        f"(first at row {int(row)}, replicate {int(column) + 1})",
        "drop records without replicate weights or re-read the replicate weight columns",
    )
