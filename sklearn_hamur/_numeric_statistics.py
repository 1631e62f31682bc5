"""Mean and standard deviation of numeric columns, in one pass or merged over chunks.

The encoder standardizes each numeric column with its training mean and standard
deviation, computed ignoring missing values. :func:`chunk_moments` summarises one chunk
of rows, :func:`merge_moments` combines two summaries exactly as if their rows had been
one chunk (up to rounding: Chan, Golub and LeVeque's pairwise update), and
:func:`scaling_statistics` turns a summary into the ``means_`` and ``scales_`` the
encoder keeps. One chunk summarised and finalised gives bit for bit the statistics of
the plain float64 formulas on ordinary columns.

Every column is summarised in units of a power of two near its largest magnitude
(``2**exponent``; exact in floating point), so neither the mean nor the variance can
overflow, even for values near 1e308. Two summaries are merged in the units of the
larger exponent: rescaling by a power of two is exact, so the merged summary is the one
the concatenated rows would give, to rounding.

References
----------
T. F. Chan, G. H. Golub and R. J. LeVeque, "Updating formulae and a pairwise algorithm
for computing sample variances", Technical Report STAN-CS-79-773, Stanford University,
1979.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Moments:
    """Per-column summary of the observed (non-missing) values of some rows.

    ``mean`` and ``var`` (the population variance) are in units of ``2**exponent``;
    NaN where a column has no observed value. ``low`` and ``high`` are the smallest and
    largest observed values (``inf`` and ``-inf`` when there is none).
    """

    count: np.ndarray
    mean: np.ndarray
    var: np.ndarray
    exponent: np.ndarray
    low: np.ndarray
    high: np.ndarray


def chunk_moments(values: np.ndarray) -> Moments:
    """The summary of the rows of ``values`` (float64, ``(n_rows, n_columns)``, NaN missing)."""
    observed = ~np.isnan(values)
    _, exponent = np.frexp(np.where(observed, np.abs(values), 0.0).max(axis=0, initial=0.0))
    unit = np.ldexp(values, -exponent)
    with warnings.catch_warnings():  # "Mean of empty slice" for the empty columns
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(unit, axis=0)
        var = np.nanvar(unit, axis=0)
    return Moments(
        count=observed.sum(axis=0),
        mean=mean,
        var=var,
        exponent=exponent,
        low=np.where(observed, values, np.inf).min(axis=0, initial=np.inf),
        high=np.where(observed, values, -np.inf).max(axis=0, initial=-np.inf),
    )


def merge_moments(a: Moments, b: Moments) -> Moments:
    """The summary of the rows of ``a`` and ``b`` together (Chan et al.'s update)."""
    count = a.count + b.count
    exponent = np.where(
        a.count == 0,
        b.exponent,
        np.where(b.count == 0, a.exponent, np.maximum(a.exponent, b.exponent)),
    )
    # In the common units; an empty side contributes nothing (its mean is NaN).
    mean_a = np.where(a.count > 0, np.ldexp(a.mean, a.exponent - exponent), 0.0)
    mean_b = np.where(b.count > 0, np.ldexp(b.mean, b.exponent - exponent), 0.0)
    var_a = np.where(a.count > 0, np.ldexp(a.var, 2 * (a.exponent - exponent)), 0.0)
    var_b = np.where(b.count > 0, np.ldexp(b.var, 2 * (b.exponent - exponent)), 0.0)
    total = np.maximum(count, 1)
    weight_a, weight_b = a.count / total, b.count / total
    delta = mean_b - mean_a
    mean = mean_a + delta * weight_b
    var = var_a * weight_a + var_b * weight_b + delta * delta * weight_a * weight_b
    empty = count == 0
    return Moments(
        count=count,
        mean=np.where(empty, np.nan, mean),
        var=np.where(empty, np.nan, var),
        exponent=exponent,
        low=np.minimum(a.low, b.low),
        high=np.maximum(a.high, b.high),
    )


def select_columns(moments: Moments, columns: np.ndarray) -> Moments:
    """The summary of the columns ``columns`` (positions) of ``moments``, in that order."""
    return Moments(
        **{name: getattr(moments, name)[columns] for name in Moments.__dataclass_fields__}
    )


def scaling_statistics(
    moments: Moments, names: list, stacklevel: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale (standard deviation) of each column summarised by ``moments``.

    A constant column gets its value as mean and scale 1, an entirely missing one mean
    0 and scale 1: both are encoded as 0, with a warning naming them (``stacklevel``
    counted from the caller of this function).
    """
    empty = moments.count == 0
    constant = ~empty & (moments.low == moments.high)
    with np.errstate(invalid="ignore"):
        means = np.ldexp(moments.mean, moments.exponent)
        scales = np.ldexp(np.sqrt(moments.var), moments.exponent)
    means = np.where(empty, 0.0, np.where(constant, moments.low, means))
    degenerate = constant | empty | ~np.isfinite(scales) | (scales <= 0)
    scales = np.where(degenerate, 1.0, scales)
    if degenerate.any():
        columns = [names[j] for j in np.flatnonzero(degenerate)]
        warnings.warn(
            f"Numeric column(s) {columns[:5]} are constant or entirely missing in the "
            "training data: they carry no information and are encoded as 0. Drop them, "
            "or check how the data was prepared.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
    return means, scales
