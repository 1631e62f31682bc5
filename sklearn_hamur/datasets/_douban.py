"""Loader of the three-domain Douban (music, book, movie) files preprocessed for Diff-MSR."""

from __future__ import annotations

import warnings

import pandas as pd

from ._common import (
    as_path,
    check_options,
    fill_doc,
    make_bunch,
    read_with_header,
)

SPLITS = ("all", "train", "val", "test")
#: Domain index -> name; the files' domain_id column uses these indices.
DOMAIN_NAMES = ("music", "book", "movie")
_DESCR_FILE = "douban.rst"
#: The files' header is "0,1,2,3".
_COLUMNS = {"0": "domain", "1": "user_id", "2": "item_id", "3": "label"}


def douban_files(split: str) -> list[str]:
    """The file names of ``split`` in domain order (music, book, movie)."""
    splits = ("train", "val", "test") if split == "all" else (split,)
    return [f"douban_{name}_{s}.csv" for s in splits for name in DOMAIN_NAMES]


@fill_doc
def load_douban(path, *, split="all", return_X_y=False, as_frame=True):
    """Load the Douban music / book / movie interactions, one domain per product.

    Binary classification of user-item interactions in three domains: music (0), book
    (1) and movie (2), with the files of the Diff-MSR preprocessing [1]_
    (``douban_<domain>_<split>.csv``, header ``0,1,2,3`` = domain_id, user_id,
    item_id, label). Users are shared across domains; item ids are disjoint per domain.
    The files are not redistributed with this package: pass their folder.

    The public copy lacks ``douban_movie_train.csv`` (too large for the snapshot it
    comes from). A missing file is skipped with a ``UserWarning`` that names it, and
    the returned bunch lists it in ``missing_files``: ``split="train"`` then has no
    movie rows. ``split="all"`` (the default) pools every file that exists, which is
    what a random split of your own (as in ``benchmarks/run.py``) should start from.

    Read more in the ``DESCR`` of the returned bunch.

    Parameters
    ----------
    path : str or os.PathLike
        The folder that holds the ``douban_*.csv`` files.
    split : {"all", "train", "val", "test"}, default="all"
        Which of the preprocessing's splits to read; ``"all"`` concatenates the three
        (train, then val, then test; music, book, movie within each).
    %(return_X_y)s
    %(as_frame)s

    Returns
    -------
    %(bunch)s

        data : {DataFrame, ndarray} of shape (n_rows, 3)
            ``user_id`` and ``item_id`` (category dtype, ids as strings, so the
            estimators embed them) and ``domain`` (int64: 0 music, 1 book, 2 movie).
        target : {Series, ndarray} of shape (n_rows,)
            The file's label (int64, 0 or 1). Named ``label``.
        %(domain)s
        frame : DataFrame of shape (n_rows, 4) or None
            ``data`` with the ``label`` column; None if ``as_frame=False``.
        %(feature_names)s
        target_names : ndarray of shape (2,)
            ``["0", "1"]``.
        domain_names : ndarray of shape (3,)
            ``["music", "book", "movie"]``, indexed by the domain value.
        files : list of str
            The files read, in order.
        missing_files : list of str
            The files of ``split`` that were not found (and skipped).
    %(DESCR_and_X_y)s

    Raises
    ------
    FileNotFoundError
        If the folder holds none of the files of ``split``.
    ValueError
        If a file lacks a column of the header ``0,1,2,3`` (for example, a wrong
        separator), holds a non-integer value, a label other than 0/1, or a domain id
        other than its own.

    See Also
    --------
    sklearn_hamur.datasets.load_movielens : MovieLens ratings with age-group domains.
    sklearn_hamur.datasets.load_aliccp : Ali-CCP impressions in three scenarios.

    Notes
    -----
    ``douban_music_sparse.csv`` is the union of the three music files (the same
    3,123 rows) and is not read. The movie files repeat some rows: 745 exact duplicates
    within ``douban_movie_val.csv``, 736 within ``douban_movie_test.csv``, and 1,492
    (user, item, label) rows are in both; they are kept, as in the files. With the
    public files, ``split="all"`` gives 325,848 rows: music 3,123, book 96,041, movie
    226,684; 209,551 positives (64.3%).

    References
    ----------
    .. [1] "Diff-MSR: A Diffusion Model Enhanced Paradigm for Cold-Start Multi-Scenario
       Recommendation", WSDM 2024. Data, preprocessing and authors:
       https://github.com/Applied-Machine-Learning-Lab/Diff-MSR

    Examples
    --------
    >>> from sklearn_hamur.datasets import load_douban
    >>> douban = load_douban("path/to/douban")  # doctest: +SKIP
    >>> douban.domain.value_counts().sort_index().tolist()  # doctest: +SKIP
    [3123, 96041, 226684]
    """
    check_options(
        "load_douban",
        {"split": (split, SPLITS)},
        {"return_X_y": return_X_y, "as_frame": as_frame},
    )
    folder = as_path(path, "load_douban")
    names = douban_files(split)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"load_douban: folder {str(folder)!r} not found (or not a folder); expected the "
            f"folder of the Douban files {', '.join(names)}."
        )
    found = [name for name in names if (folder / name).is_file()]
    missing = [name for name in names if name not in found]
    if not found:
        raise FileNotFoundError(
            f"load_douban: none of the files of split={split!r} ({', '.join(names)}) is in "
            f"{str(folder)!r}."
        )
    if missing:
        known = " (the public copy lacks it)" if missing == ["douban_movie_train.csv"] else ""
        warnings.warn(
            f"load_douban: file(s) {missing} not found in {str(folder)!r}{known}; "
            f"split={split!r} returns the rows of the other files only.",
            UserWarning,
            stacklevel=2,
        )
    frame = pd.concat([_read_file(folder / name) for name in found], ignore_index=True)
    data = frame[["user_id", "item_id", "domain"]].astype(
        {"user_id": "category", "item_id": "category"}
    )
    return make_bunch(
        data=data,
        target=frame["label"],
        descr_file=_DESCR_FILE,
        target_names=("0", "1"),
        domain_names=DOMAIN_NAMES,
        as_frame=as_frame,
        return_X_y=return_X_y,
        files=found,
        missing_files=missing,
    )


def _read_file(file):
    """One file, columns renamed, ids as strings, its domain and labels checked."""
    raw = read_with_header(file, required=list(_COLUMNS), dtype={c: "int64" for c in _COLUMNS})
    frame = raw[list(_COLUMNS)].rename(columns=_COLUMNS)
    expected = DOMAIN_NAMES.index(file.name.split("_")[1])
    wrong = frame["domain"] != expected
    if wrong.any():
        raise ValueError(
            f"{str(file)!r}: column '0' (domain_id) must be {expected} "
            f"({DOMAIN_NAMES[expected]}) in every row; found {frame['domain'][wrong].iloc[0]}."
        )
    if not frame["label"].isin([0, 1]).all():
        raise ValueError(f"{str(file)!r}: column '3' (label) must hold only 0 and 1.")
    for column in ("user_id", "item_id"):
        frame[column] = frame[column].astype(str)
    return frame
