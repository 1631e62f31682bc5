"""Loader for the UCI Adult census income data set, bundled with sklearn-hamur."""

import pandas as pd

from ._common import check_options, fill_doc, make_bunch, package_file

_DATA_FILE = "adult.csv.gz"
_DESCR_FILE = "adult.rst"

_TARGET_COLUMN = "income_gt_50k"
_TARGET_NAMES = ("<=50K", ">50K")
_NUMERIC_COLUMNS = (
    "age",
    "fnlwgt",
    "educational-num",
    "capital-gain",
    "capital-loss",
    "hours-per-week",
)
# fnlwgt is the census sampling weight of a row, not a property of the person.
_DROPPED_COLUMNS = ("fnlwgt",)

# Raw column that each domain scheme is built from.
_DOMAIN_SOURCES = {"workclass": "workclass", "race": "race", "gender": "gender"}
# Workclass values not listed here ('?' i.e. missing, Without-pay, Never-worked) -> "other".
_WORKCLASS_GROUPS = {
    "Private": "private",
    "Self-emp-not-inc": "self_employed",
    "Self-emp-inc": "self_employed",
    "Federal-gov": "government",
    "Local-gov": "government",
    "State-gov": "government",
}


@fill_doc
def load_adult(*, domain="workclass", return_X_y=False, as_frame=True):
    """Load the UCI Adult census income data set with a domain column.

    Binary classification: does a person earn more than $50K a year? The 48,842 rows
    of the merged ``adult.data`` and ``adult.test`` files of the UCI data set [1]_,
    extracted from the 1994 US census by Kohavi [2]_, ship with the package (CC BY
    4.0), so no download happens. Each row gets a ``domain`` (a group of rows that
    multi-domain models such as HAMUR treat as one scenario), built from one of the
    raw columns by the chosen scheme.

    Read more in the ``DESCR`` of the returned bunch.

    Parameters
    ----------
    domain : {"workclass", "race", "gender"}, default="workclass"
        The domain scheme, i.e. which raw column becomes the ``domain`` column (the raw
        column is then dropped from the features):

        - ``"workclass"``: four groups of the employer type: ``"private"`` (Private),
          ``"self_employed"`` (Self-emp-not-inc, Self-emp-inc), ``"government"``
          (Federal-gov, Local-gov, State-gov) and ``"other"`` (missing, Without-pay,
          Never-worked).
        - ``"race"``: the five race values, unchanged.
        - ``"gender"``: the two gender values, unchanged.

    %(return_X_y)s

    as_frame : bool, default=True
        If True, ``data`` is a pandas DataFrame, ``target`` and ``domain`` are pandas
        Series and ``frame`` is the DataFrame of both. If False, ``data`` is a numpy
        array of dtype object (numbers as Python ints, missing values as ``np.nan``),
        ``target`` an int64 array, ``domain`` an object array and ``frame`` is None.

    Returns
    -------
    %(bunch)s

        data : {DataFrame, ndarray} of shape (48842, 13)
            The features: 5 numeric (int64) and 7 categorical columns (string dtype,
            ``np.nan`` where the raw file has ``'?'``), then the ``domain`` column.
        target : {Series, ndarray} of shape (48842,)
            1 where the income is ``'>50K'``, else 0 (int64). Named ``income_gt_50k``.
        domain : {Series, ndarray} of shape (48842,)
            The domain of each row; the same values as ``data["domain"]``.
        frame : DataFrame of shape (48842, 14) or None
            ``data`` with the ``income_gt_50k`` target column. None if
            ``as_frame=False``.
        %(feature_names)s
        target_names : ndarray of shape (2,)
            The class names, ``["<=50K", ">50K"]``, indexed by the target value.
    %(DESCR_and_X_y)s

    See Also
    --------
    sklearn_hamur.datasets.make_multi_domain_classification : Synthetic multi-domain
        data with a controllable domain shift.
    sklearn_hamur.datasets.load_movielens : MovieLens ratings with age-group domains.

    Notes
    -----
    The ``fnlwgt`` column (the census sampling weight of a row) is dropped, and so is
    the raw column that the domain scheme uses; ``educational-num`` is kept. The
    positive rate is 11,687 / 48,842 = 23.9%. Every call reads the bundled file anew,
    so changing a returned object never affects a later call.

    References
    ----------
    .. [1] Becker, B. & Kohavi, R. (1996). Adult [Dataset]. UCI Machine Learning
       Repository. https://doi.org/10.24432/C5XW20. License: CC BY 4.0.
    .. [2] Kohavi, R. (1996). Scaling Up the Accuracy of Naive-Bayes Classifiers: a
       Decision-Tree Hybrid. Proceedings of the Second International Conference on
       Knowledge Discovery and Data Mining (KDD-96), 202-207.

    Examples
    --------
    >>> from sklearn_hamur.datasets import load_adult
    >>> adult = load_adult()
    >>> adult.data.shape
    (48842, 13)
    >>> adult.domain.value_counts().to_dict()
    {'private': 33906, 'government': 6549, 'self_employed': 5557, 'other': 2830}
    >>> int(adult.target.sum()), round(float(adult.target.mean()), 4)
    (11687, 0.2393)
    >>> X, y = load_adult(domain="gender", return_X_y=True)
    >>> X["domain"].value_counts().to_dict()
    {'Male': 32650, 'Female': 16192}
    """
    check_options(
        "load_adult",
        {"domain": (domain, tuple(_DOMAIN_SOURCES))},
        {"return_X_y": return_X_y, "as_frame": as_frame},
    )
    raw = _read_raw()
    target = (raw["income"] == ">50K").astype("int64").rename(_TARGET_COLUMN)
    domain_values = _make_domain(raw, domain).rename("domain")
    dropped = [*_DROPPED_COLUMNS, _DOMAIN_SOURCES[domain], "income"]
    data = pd.concat([raw.drop(columns=dropped), domain_values], axis=1)
    return make_bunch(
        data=data,
        target=target,
        descr_file=_DESCR_FILE,
        target_names=_TARGET_NAMES,
        as_frame=as_frame,
        return_X_y=return_X_y,
    )


def _read_raw():
    """Read the bundled CSV: the 15 raw columns, '?' turned into missing values."""
    source = package_file("data", _DATA_FILE)
    with source.open("rb") as f:
        return pd.read_csv(
            f,
            compression="gzip",
            na_values=["?"],
            keep_default_na=False,
            dtype={name: "int64" for name in _NUMERIC_COLUMNS},
        )


def _make_domain(raw, domain):
    """Return the domain Series of the `domain` scheme."""
    column = raw[_DOMAIN_SOURCES[domain]]
    if domain == "workclass":
        column = column.map(_WORKCLASS_GROUPS).fillna("other")
    return column
