"""Loader of Ali-CCP CSV files in the layout of the HAMUR and torch-rechub preprocessing."""

from __future__ import annotations

import os

import pandas as pd

from ._common import (
    as_path,
    check_options,
    fill_doc,
    make_bunch,
    read_with_header,
)

TARGETS = ("click", "purchase")
#: The id fields (label-encoded integers) of the layout, the scenario field ``301`` aside.
SPARSE_COLUMNS = (
    "101",
    "121",
    "122",
    "124",
    "125",
    "126",
    "127",
    "128",
    "129",
    "205",
    "206",
    "207",
    "210",
    "216",
    "508",
    "509",
    "702",
    "853",
    "109_14",
    "110_14",
    "127_14",
    "150_14",
)
#: The dense (numeric) fields of the layout.
DENSE_COLUMNS = ("D109_14", "D110_14", "D127_14", "D150_14", "D508", "D509", "D702", "D853")
DOMAIN_COLUMN = "301"
#: ``301`` value -> domain index, as in HAMUR's loader.
DOMAIN_CODES = {1: 0, 2: 1, 3: 2}
DOMAIN_NAMES = ("301=1", "301=2", "301=3")
COLUMNS = ("click", "purchase", *SPARSE_COLUMNS, DOMAIN_COLUMN, *DENSE_COLUMNS)
_DESCR_FILE = "aliccp.rst"


@fill_doc
def load_aliccp(path, *, target="click", return_X_y=False, as_frame=True):
    """Load Ali-CCP (Taobao) CSV files with the scenario field ``301`` as the domain.

    Binary classification of impressions [1]_: click (the default) or purchase. Reads
    CSV files in the layout the HAMUR [2]_ and torch-rechub preprocessing writes
    (``ali_ccp_{train,val,test}.csv``; samples of it in the shared data folder): a
    header with ``click``, ``purchase``, 22 label-encoded id fields, the scenario field
    ``301`` and 8 dense fields ``D*``. The domain is ``301``: values 1, 2, 3 become
    domains 0, 1, 2. Ali-CCP itself is not redistributed with this package: it comes
    from Alibaba's Tianchi platform under its own terms.

    Read more in the ``DESCR`` of the returned bunch.

    Parameters
    ----------
    path : str, os.PathLike, or list of them
        One CSV file, or several (read and concatenated in the order given, e.g.
        ``[train, val, test]``).
    target : {"click", "purchase"}, default="click"
        Which label to return; the other is dropped (it is an outcome, not a feature).
    %(return_X_y)s
    %(as_frame)s

    Returns
    -------
    %(bunch)s

        data : {DataFrame, ndarray} of shape (n_rows, 31)
            The 22 id fields (category dtype, ids as strings, so the estimators embed
            them), the 8 dense fields (float64), then ``domain`` (int64: 0, 1, 2).
        target : {Series, ndarray} of shape (n_rows,)
            ``click`` or ``purchase`` (int64, 0 or 1).
        %(domain)s
        frame : DataFrame of shape (n_rows, 32) or None
            ``data`` with the target column; None if ``as_frame=False``.
        %(feature_names)s
        target_names : ndarray of shape (2,)
            ``["0", "1"]``.
        domain_names : ndarray of shape (3,)
            ``["301=1", "301=2", "301=3"]``, indexed by the domain value.
    %(DESCR_and_X_y)s

    Raises
    ------
    FileNotFoundError
        If a file is missing (the message names it).
    ValueError
        If a file lacks one of the layout's columns (for example, because of a wrong
        separator), holds an empty or non-numeric value, a label other than 0/1, or a
        ``301`` value other than 1, 2, 3.

    See Also
    --------
    sklearn_hamur.datasets.load_movielens : MovieLens ratings with age-group domains.
    sklearn_hamur.datasets.load_douban : Douban interactions in three product domains.

    Notes
    -----
    In the full data set (about 85 million impressions) domain 1 (``301 = 2``) is tiny,
    about 0.6M rows. The HAMUR paper buckets categories seen fewer than 10 times into
    one: pass ``min_frequency=10`` to the estimators for the same effect.

    References
    ----------
    .. [1] Ma, Zhao, Huang, Wang, Hu, Zhu, Gai. "Entire Space Multi-Task Model: An
       Effective Approach for Estimating Post-Click Conversion Rate", SIGIR 2018.
    .. [2] Li et al., "HAMUR: Hyper Adapter for Multi-Domain Recommendation", CIKM 2023.

    Examples
    --------
    >>> from sklearn_hamur.datasets import load_aliccp
    >>> ali = load_aliccp("path/to/ali_ccp_train.csv")  # doctest: +SKIP
    >>> ali.data.shape[1]  # doctest: +SKIP
    31
    """
    check_options(
        "load_aliccp",
        {"target": (target, TARGETS)},
        {"return_X_y": return_X_y, "as_frame": as_frame},
    )
    paths = list(path) if isinstance(path, list | tuple) else [path]
    if not paths:
        raise ValueError("load_aliccp: 'path' is an empty list; give at least one CSV file.")
    files = [as_path(p, "load_aliccp") for p in paths]
    for file in files:
        if not file.is_file():
            kind = "is a folder" if file.is_dir() else "not found"
            raise FileNotFoundError(
                f"load_aliccp: {str(file)!r} {kind}; expected a CSV file such as "
                f"ali_ccp_train.csv with the columns {', '.join(COLUMNS)}."
            )
    frame = pd.concat([_read_file(file) for file in files], ignore_index=True)
    data = frame[[*SPARSE_COLUMNS, *DENSE_COLUMNS, "domain"]].astype(
        {c: "category" for c in SPARSE_COLUMNS}
    )
    return make_bunch(
        data=data,
        target=frame[target],
        descr_file=_DESCR_FILE,
        target_names=("0", "1"),
        domain_names=DOMAIN_NAMES,
        as_frame=as_frame,
        return_X_y=return_X_y,
    )


def _read_file(file: os.PathLike):
    dtype = {c: "int64" for c in ("click", "purchase", *SPARSE_COLUMNS, DOMAIN_COLUMN)}
    dtype.update({c: "float64" for c in DENSE_COLUMNS})
    frame = read_with_header(file, required=COLUMNS, dtype=dtype)
    for label in TARGETS:
        if not frame[label].isin([0, 1]).all():
            raise ValueError(f"{str(file)!r}: column {label!r} must hold only 0 and 1.")
    domain = frame[DOMAIN_COLUMN].map(DOMAIN_CODES)
    if domain.isna().any():
        value = frame[DOMAIN_COLUMN][domain.isna()].iloc[0]
        raise ValueError(
            f"{str(file)!r}: column '301' (the scenario) must be 1, 2 or 3; found {value}."
        )
    frame["domain"] = domain.astype("int64")
    for column in SPARSE_COLUMNS:
        frame[column] = frame[column].astype(str)
    return frame
