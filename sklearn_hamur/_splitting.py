"""Cross-validation folds stratified on domain x label.

Public through :mod:`sklearn_hamur.model_selection`.
"""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import check_random_state, column_or_1d, metadata_routing

from ._domain_columns import domain_values, python_scalar


class DomainStratifiedKFold(BaseCrossValidator):
    """K-fold cross-validation stratified on domain x label.

    Each (domain, label) group of rows is cut into ``n_splits`` nearly equal parts, one
    per test fold, so every fold holds about ``1 / n_splits`` of every domain's
    positives and negatives: a small domain appears, with both classes, in every fold,
    and its per-domain AUC is defined in every fold. Fold sizes differ by at most one
    row overall and within each group.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    domain_col : str, int or None, default="domain"
        Column of ``X`` that holds each row's domain (an integer position when ``X`` is
        an array). ``None`` stratifies on the label alone.
    shuffle : bool, default=False
        Shuffle each group's rows before cutting it into folds. Without shuffling, each
        group's rows go to the folds in their order in ``X``.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling; only with ``shuffle=True``.

    See Also
    --------
    sklearn.model_selection.StratifiedKFold : Stratified on the label alone.
    sklearn_hamur.metrics.make_domain_scorer : Per-domain scores for each fold.

    Notes
    -----
    ``groups`` is ignored. A (domain, label) group with fewer rows than ``n_splits``
    cannot reach every fold: a ``UserWarning`` names such groups.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from sklearn_hamur.model_selection import DomainStratifiedKFold
    >>> X = pd.DataFrame({"domain": ["big"] * 8 + ["small"] * 4, "x": range(12)})
    >>> y = np.array([0, 1] * 6)
    >>> cv = DomainStratifiedKFold(n_splits=2)
    >>> for train, test in cv.split(X, y):
    ...     print(X["domain"].iloc[test].tolist(), y[test].tolist())
    ['big', 'big', 'big', 'big', 'small', 'small'] [0, 1, 0, 1, 0, 1]
    ['big', 'big', 'big', 'big', 'small', 'small'] [0, 1, 0, 1, 0, 1]
    """

    __metadata_request__split = {"groups": metadata_routing.UNUSED}

    def __init__(self, n_splits=5, *, domain_col="domain", shuffle=False, random_state=None):
        # Splitters check their arguments when built, as scikit-learn's KFold does.
        if not isinstance(n_splits, Integral) or isinstance(n_splits, bool) or n_splits < 2:
            raise ValueError(
                f"DomainStratifiedKFold: n_splits must be an integer of at least 2; got "
                f"{n_splits!r}."
            )
        if not isinstance(shuffle, bool):
            raise TypeError(
                f"DomainStratifiedKFold: shuffle must be True or False; got {shuffle!r}."
            )
        if not shuffle and random_state is not None:
            raise ValueError(
                "DomainStratifiedKFold: setting random_state has no effect since shuffle is "
                "False. Leave random_state=None or set shuffle=True."
            )
        self.n_splits = int(n_splits)
        self.domain_col = domain_col
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of folds, ``n_splits``.

        Parameters
        ----------
        X : object, default=None
            Ignored; present for API consistency.
        y : object, default=None
            Ignored; present for API consistency.
        groups : object, default=None
            Ignored; present for API consistency.

        Returns
        -------
        int
            The number of folds.
        """
        return self.n_splits

    def split(self, X, y, groups=None):
        """Generate the row positions of the training and test rows of each fold.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_columns)
            Holds the domain column ``domain_col`` (or an array, with ``domain_col`` an
            integer column position).
        y : array-like of shape (n_samples,)
            The labels.
        groups : object, default=None
            Ignored; present for API consistency.

        Returns
        -------
        generator of tuple of ndarray
            One ``(train, test)`` pair of integer row positions per fold, in fold order.
        """
        return self._iter_folds(self._test_folds(X, y))

    def _iter_folds(self, test_folds):
        for fold in range(self.n_splits):
            yield np.flatnonzero(test_folds != fold), np.flatnonzero(test_folds == fold)

    def _test_folds(self, X, y) -> np.ndarray:
        """The test fold of each row."""
        if y is None:
            raise ValueError("DomainStratifiedKFold.split needs y: the labels to stratify on.")
        y = column_or_1d(np.asarray(y))
        domains = domain_values(X, self.domain_col)
        if len(domains) != len(y):
            raise ValueError(f"X has {len(domains)} rows but y has {len(y)} values.")
        if len(y) < self.n_splits:
            raise ValueError(
                f"DomainStratifiedKFold: cannot have n_splits={self.n_splits} greater than "
                f"the number of rows, {len(y)}."
            )
        domain_codes = np.unique(domains, return_inverse=True)[1].ravel()
        label_values, label_codes = np.unique(y, return_inverse=True)
        strata = domain_codes * len(label_values) + label_codes.ravel()
        self._warn_small_groups(strata, domains, y)
        rng = check_random_state(self.random_state) if self.shuffle else None
        test_folds = np.empty(len(y), dtype=int)
        offset = 0  # folds that got the last group's extra rows come last for the next
        for stratum in np.unique(strata):
            rows = np.flatnonzero(strata == stratum)
            if self.shuffle:
                rows = rng.permutation(rows)
            sizes = np.full(self.n_splits, len(rows) // self.n_splits)
            extra = len(rows) % self.n_splits
            sizes[(offset + np.arange(extra)) % self.n_splits] += 1
            offset = (offset + extra) % self.n_splits
            test_folds[rows] = np.repeat(np.arange(self.n_splits), sizes)
        return test_folds

    def _warn_small_groups(self, strata, domains, y) -> None:
        counts = np.bincount(strata)
        small = [
            (python_scalar(domains[first]), python_scalar(y[first]), int(counts[s]))
            for s, first in zip(*np.unique(strata, return_index=True))
            if counts[s] < self.n_splits
        ]
        if small:
            listed = ", ".join(f"domain {d!r} label {l!r}: {n} row(s)" for d, l, n in small[:5])
            warnings.warn(
                f"DomainStratifiedKFold: {len(small)} (domain, label) group(s) have fewer rows "
                f"than n_splits={self.n_splits} ({listed}), so some test folds hold none of "
                "their rows; such a domain's AUC is undefined in those folds. Lower n_splits "
                "or merge rare domains.",
                UserWarning,
                stacklevel=3,
            )


__all__ = ["DomainStratifiedKFold"]
