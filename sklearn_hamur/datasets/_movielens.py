"""Loader of the GroupLens MovieLens 100K and 1M files, with HAMUR's age-group domains."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import (
    as_path,
    check_no_missing,
    check_options,
    fill_doc,
    make_bunch,
    read_headerless,
    require_files,
)

VARIANTS = ("100k", "1m")
_TARGET_COLUMN = "rating_gt_3"
_TARGET_NAMES = ("rating <= 3", "rating > 3")
_DESCR_FILE = "movielens.rst"
#: What domain 0, 1 and 2 are.
DOMAIN_NAMES = ("under 25", "25-34", "35 and over")
#: The columns of ``data``, ``domain`` last.
FEATURES = ("user_id", "movie_id", "gender", "occupation", "zip", "genre", "genres", "year")
_CATEGORICAL = ("user_id", "movie_id", "gender", "occupation", "zip", "genre", "genres")

#: The 19 genre flags of ml-100k's u.item, in file order (u.genre).
GENRES_100K = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
#: ml-1m's occupation codes (users.dat), as listed in its README.
OCCUPATIONS_1M = (
    "other",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
)
#: ml-1m's age codes to HAMUR's domains: {1 (under 18), 18 (18-24)} -> 0, {25 (25-34)} -> 1,
#: {35 (35-44), 45 (45-49), 50 (50-55), 56 (56+)} -> 2.
AGE_CODE_DOMAINS_1M = {1: 0, 18: 0, 25: 1, 35: 2, 45: 2, 50: 2, 56: 2}

#: The three files of each variant: ratings, users, movies.
FILES = {
    "100k": ("u.data", "u.user", "u.item"),
    "1m": ("ratings.dat", "users.dat", "movies.dat"),
}
_RATING_COLUMNS = ("user_id", "movie_id", "rating", "timestamp")
_INT_RATINGS = {"user_id": "int64", "movie_id": "int64", "rating": "int64", "timestamp": "int64"}


@fill_doc
def load_movielens(path, *, variant="100k", return_X_y=False, as_frame=True):
    """Load MovieLens 100K or 1M ratings with HAMUR's user-age-group domains.

    Binary classification: did the user rate the movie above 3 stars? One row per rating of
    the MovieLens data [1]_. The ``domain`` of a row is the age group of its user, as in the
    HAMUR paper's MovieLens experiments [2]_: under 25 (domain 0), 25 to 34 (domain 1), 35
    and over (domain 2). The files are not redistributed with this package (GroupLens
    licence): download them from https://grouplens.org/datasets/movielens/ and pass the
    unpacked folder, or use :func:`~sklearn_hamur.datasets.fetch_movielens`.

    Read more in the ``DESCR`` of the returned bunch.

    Parameters
    ----------
    path : str or os.PathLike
        The folder of the unpacked GroupLens archive: ``ml-100k/`` with ``u.data``,
        ``u.user`` and ``u.item``, or ``ml-1m/`` with ``ratings.dat``, ``users.dat``
        and ``movies.dat``. The files are read unchanged.
    variant : {"100k", "1m"}, default="100k"
        Which MovieLens release the folder holds.
    %(return_X_y)s
    as_frame : bool, default=True
        If True, ``data`` is a DataFrame and ``target``, ``domain`` are Series. If False,
        ``data`` is an object array, ``target`` an int64 array, ``domain`` an int64 array
        and ``frame`` is None.

    Returns
    -------
    %(bunch)s

        data : {DataFrame, ndarray} of shape (n_ratings, 9)
            ``user_id``, ``movie_id``, ``gender``, ``occupation``, ``zip`` (category
            dtype; ids as strings, so the estimators embed them), ``genre`` (the first
            genre listed for the movie) and ``genres`` (all of them, joined by ``"|"``,
            category dtype), ``year`` (release year, float64, NaN where unknown), then
            ``domain`` (int64: 0, 1, 2).
        target : {Series, ndarray} of shape (n_ratings,)
            1 where the rating is 4 or 5, else 0 (int64). Named ``rating_gt_3``.
        domain : {Series, ndarray} of shape (n_ratings,)
            The age-group domain of each row; the same values as ``data["domain"]``.
        frame : DataFrame of shape (n_ratings, 10) or None
            ``data`` with the target column; None if ``as_frame=False``.
        %(feature_names)s
        target_names : ndarray of shape (2,)
            ``["rating <= 3", "rating > 3"]``, indexed by the target value.
        domain_names : ndarray of shape (3,)
            ``["under 25", "25-34", "35 and over"]``, indexed by the domain value.
    %(DESCR_and_X_y)s

    Raises
    ------
    FileNotFoundError
        If the folder or one of its three files is missing (the message names them).
    ValueError
        If a file has the wrong separator or number of fields, a value of the wrong
        type, or a rating of an unknown user or movie (the message names the file).

    See Also
    --------
    sklearn_hamur.datasets.fetch_movielens : Download the archive once, then load it.

    Notes
    -----
    MovieLens-100K has raw ages (7 to 73): under 25, 25-34 and 35-and-over give the
    same three groups as MovieLens-1M's age codes {1, 18}, {25}, {35, 45, 50, 56}. The
    user's age itself, the rating value and its timestamp are not in ``data``.
    MovieLens-100K: 100,000 rows, domains 0/1/2 with 26,551 / 35,444 / 38,005 rows,
    55,375 positives (55.4%).

    References
    ----------
    .. [1] F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets:
       History and Context. ACM Transactions on Interactive Intelligent Systems 5, 4,
       Article 19. https://doi.org/10.1145/2827872
    .. [2] Li et al., "HAMUR: Hyper Adapter for Multi-Domain Recommendation", CIKM 2023.

    Examples
    --------
    >>> from sklearn_hamur.datasets import load_movielens
    >>> ml = load_movielens("path/to/ml-100k")  # doctest: +SKIP
    >>> ml.data.shape, ml.domain.value_counts().sort_index().tolist()  # doctest: +SKIP
    ((100000, 9), [26551, 35444, 38005])
    """
    check_options(
        "load_movielens",
        {"variant": (variant, VARIANTS)},
        {"return_X_y": return_X_y, "as_frame": as_frame},
    )
    folder = as_path(path, "load_movielens")
    what = f"the files of the GroupLens ml-{variant} archive, unpacked"
    files = require_files(folder, FILES[variant], "load_movielens", what)
    reader, sep = (_read_100k, "\t") if variant == "100k" else (_read_1m, "::")
    ratings = _read_ratings(files[0], sep)
    users, movies = reader(*files[1:])
    frame = _join(ratings, users, movies, files)
    target = (frame["rating"] > 3).astype("int64").rename(_TARGET_COLUMN)
    data = frame[list(FEATURES) + ["domain"]].astype({c: "category" for c in _CATEGORICAL})
    return make_bunch(
        data=data,
        target=target,
        descr_file=_DESCR_FILE,
        target_names=_TARGET_NAMES,
        domain_names=DOMAIN_NAMES,
        as_frame=as_frame,
        return_X_y=return_X_y,
    )


def _read_ratings(file, sep):
    ratings = read_headerless(file, sep=sep, names=_RATING_COLUMNS, dtype=_INT_RATINGS)
    bad = ~ratings["rating"].between(1, 5)
    if bad.any():
        raise ValueError(
            f"{str(file)!r}: ratings must be 1 to 5; found {ratings['rating'][bad].iloc[0]} "
            f"in row {int(np.flatnonzero(bad)[0]) + 1}."
        )
    return ratings


def _read_100k(user_file, item_file):
    users = read_headerless(
        user_file,
        sep="|",
        names=["user_id", "age", "gender", "occupation", "zip"],
        dtype={"user_id": "int64", "age": "int64", "gender": str, "occupation": str, "zip": str},
    )
    check_no_missing(users, ["gender", "occupation"], user_file)
    # Under 25 -> 0, 25 to 34 -> 1, 35 and over -> 2 (ml-1m's {1, 18}, {25}, {35+} codes).
    users["domain"] = np.select([users["age"] < 25, users["age"] < 35], [0, 1], 2)
    names = ["movie_id", "title", "release_date", "video_release_date", "imdb_url"]
    movies = read_headerless(
        item_file,
        sep="|",
        names=[*names, *GENRES_100K],
        dtype={"movie_id": "int64", **{g: "int64" for g in GENRES_100K}},
        encoding="latin-1",
    )
    flags = movies[list(GENRES_100K)].to_numpy() == 1
    listed = [[g for g, on in zip(GENRES_100K, row) if on] for row in flags]
    movies["genres"] = ["|".join(g) if g else "unknown" for g in listed]
    # release_date is "01-Jan-1995"; one movie has none.
    movies["year"] = pd.to_numeric(movies["release_date"].str[-4:], errors="coerce")
    return users, movies


def _read_1m(user_file, movie_file):
    users = read_headerless(
        user_file,
        sep="::",
        names=["user_id", "gender", "age", "occupation", "zip"],
        dtype={
            "user_id": "int64",
            "gender": str,
            "age": "int64",
            "occupation": "int64",
            "zip": str,  # keeps leading zeros
        },
    )
    domain = users["age"].map(AGE_CODE_DOMAINS_1M)
    occupation = users["occupation"].map(dict(enumerate(OCCUPATIONS_1M)))
    for column, mapped, expected in (
        ("age", domain, sorted(AGE_CODE_DOMAINS_1M)),
        ("occupation", occupation, "0 to 20"),
    ):
        if mapped.isna().any():
            value = users[column][mapped.isna()].iloc[0]
            raise ValueError(
                f"{str(user_file)!r}: unknown {column} code {value}; expected {expected}."
            )
    users["domain"], users["occupation"] = domain.astype("int64"), occupation
    movies = read_headerless(
        movie_file,
        sep="::",
        names=["movie_id", "title", "genres"],
        dtype={"movie_id": "int64", "title": str, "genres": str},
        encoding="latin-1",
    )
    # Titles end with the release year: "Toy Story (1995)".
    year = movies["title"].str.extract(r"\((\d{4})\)\s*$", expand=False)
    movies["year"] = pd.to_numeric(year, errors="coerce")
    return users, movies


def _join(ratings, users, movies, files):
    """Ratings with their user's and movie's columns; unknown ids are an error."""
    movies = movies.assign(genre=movies["genres"].str.split("|").str[0])
    frame = ratings.merge(users, on="user_id", how="left", validate="many_to_one")
    frame = frame.merge(
        movies[["movie_id", "genre", "genres", "year"]],
        on="movie_id",
        how="left",
        validate="many_to_one",
    )
    for column, file, key in (("domain", files[1], "user_id"), ("genres", files[2], "movie_id")):
        unknown = frame[column].isna()
        if unknown.any():
            raise ValueError(
                f"{str(files[0])!r} rates {key} {frame[key][unknown].iloc[0]}, which "
                f"{str(file)!r} does not list. Are the files from the same archive?"
            )
    frame["domain"] = frame["domain"].astype("int64")
    frame["year"] = frame["year"].astype("float64")
    for column in ("user_id", "movie_id"):
        frame[column] = frame[column].astype(str)
    return frame
