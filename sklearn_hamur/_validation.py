"""Input checks shared by the encoder and the estimators: clear errors, no copies."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import _check_feature_names, _check_n_features, column_or_1d


def is_positive_int_sequence(value) -> bool:
    """Whether ``value`` is a non-empty list or tuple of positive ints (layer widths)."""
    return (
        isinstance(value, list | tuple)
        and len(value) > 0
        and all(isinstance(v, Integral) and not isinstance(v, bool) and v > 0 for v in value)
    )


def units_from_string(value: str, name: str = "hidden_units") -> tuple:
    """Widths from their storable string form: ``"256-128"`` -> ``(256, 128)``.

    Raises a ValueError naming the parameter ``name`` unless ``value`` is positive
    integers separated by ``"-"``.
    """
    parts = value.split("-")
    if not all(part.strip().isdecimal() and int(part) > 0 for part in parts):
        raise ValueError(
            f"{name}={value!r} is not a '-'-separated list of positive widths such as "
            "'256-128' (for (256, 128)) or '64' (for (64,))."
        )
    return tuple(int(part) for part in parts)


def as_units(value) -> tuple | None:
    """A width parameter as a tuple of positive ints, or ``None`` when it is not one.

    Accepts a non-empty list or tuple of positive ints and its string form
    (``"256-128"``, as :func:`~sklearn_hamur.model_selection.hamur_search_space` and
    Optuna store it).
    """
    if isinstance(value, str):
        try:
            return units_from_string(value)
        except ValueError:
            return None
    return tuple(int(v) for v in value) if is_positive_int_sequence(value) else None


def units_problem(value, name: str, owner: str, example: tuple = (256, 128)) -> str | None:
    """The message for a bad width parameter of ``owner``; ``None`` when it is valid.

    Only list, tuple and str values are judged here (the parameter constraints report
    another type), so each problem is reported once.
    """
    if not isinstance(value, list | tuple | str) or as_units(value) is not None:
        return None
    return (
        f"The {name!r} parameter of {owner} must be a non-empty tuple of positive ints, "
        f"e.g. {example}, or the same widths as a string, e.g. "
        f"{'-'.join(map(str, example))!r}. Got {value!r} instead."
    )


def to_pandas(X):
    """``X`` as a pandas DataFrame when it is another library's DataFrame, else ``X``.

    A pandas DataFrame is returned as is. A polars DataFrame, a pyarrow Table or another
    frame that speaks Arrow (``__arrow_c_stream__``) or the dataframe interchange
    protocol (``__dataframe__``) is converted by its ``to_pandas()`` method, else by
    :func:`pandas.api.interchange.from_dataframe`. Column names and dtypes are kept (a
    categorical or dictionary column becomes a pandas ``category``); neither library is
    imported here. Anything else (an array, a polars Series) is returned unchanged.
    """
    if isinstance(X, pd.DataFrame):
        return X
    frame_like = hasattr(X, "__dataframe__") or hasattr(X, "__arrow_c_stream__")
    if frame_like and callable(getattr(X, "to_pandas", None)):
        converted = X.to_pandas()
        return converted if isinstance(converted, pd.DataFrame) else X
    if hasattr(X, "__dataframe__"):
        return pd.api.interchange.from_dataframe(X)
    return X


def _is_lazy_frame(X) -> bool:
    """A frame to ``collect()`` first, such as a polars LazyFrame."""
    return (
        not isinstance(X, pd.DataFrame)
        and callable(getattr(X, "collect", None))
        and not callable(getattr(X, "to_pandas", None))
    )


def as_frame(X, *, reset: bool, estimator) -> pd.DataFrame:
    """Return ``X`` as a DataFrame (a DataFrame is used as is, never copied or modified).

    A polars DataFrame, a pyarrow Table or another library's frame is converted to
    pandas, keeping its column names and dtypes (:func:`to_pandas`). Array-likes become
    a DataFrame with integer column labels ``0..p-1``. Feature names and the number of
    columns are checked against ``fit`` the way scikit-learn does.
    """
    if sparse.issparse(X):
        raise TypeError(
            f"{type(estimator).__name__} does not accept sparse input; pass a pandas "
            "DataFrame (or a dense array)."
        )
    if _is_lazy_frame(X):
        raise TypeError(
            f"{type(estimator).__name__} got a lazy frame ({type(X).__name__}); call "
            "X.collect() first and pass the DataFrame it returns."
        )
    X = to_pandas(X)
    if not isinstance(X, pd.DataFrame):
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(
                f"Expected 2D input (a DataFrame or a 2D array), got {array.ndim}D input "
                f"of shape {array.shape}. Reshape your data, e.g. with array.reshape(-1, 1) "
                "for a single feature or array.reshape(1, -1) for a single sample."
            )
        if np.iscomplexobj(array):
            raise ValueError("Complex data not supported.")
        X = pd.DataFrame(array)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"Found array with {X.shape[0]} sample(s) and {X.shape[1]} feature(s) (shape="
            f"{X.shape}) while a minimum of 1 is required: X is empty."
        )
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if not reset and fitted_names is not None and X.columns.tolist() == fitted_names.tolist():
        # The columns seen in fit, in the same order (and unique, as they were then): the
        # checks below would find nothing, and cost more than a small prediction.
        return X
    duplicated = X.columns[X.columns.duplicated()].unique().tolist()
    if duplicated:
        raise ValueError(
            f"X has duplicated column names {duplicated}; column names must be unique."
        )
    if (
        not reset
        and fitted_names is not None
        and list(X.columns) != list(fitted_names)
        and set(X.columns) == set(fitted_names)
    ):
        # Same columns in another order: select by name (a DataFrame is addressed by name).
        X = X[list(fitted_names)]
    _check_feature_names(estimator, X, reset=reset)
    _check_n_features(estimator, X, reset=reset)
    return X


def check_columns_present(
    X: pd.DataFrame, columns: Sequence, estimator, *, parameter: str | None = None
) -> None:
    """Raise a ValueError that lists every column of ``columns`` missing from ``X``."""
    missing = [c for c in columns if c not in X.columns]
    if missing:
        origin = f" (named in {parameter})" if parameter else " (seen in fit)"
        raise ValueError(
            f"{type(estimator).__name__}: column(s) {missing}{origin} are missing from X; "
            f"X has columns {list(X.columns)[:20]}."
        )


def renamed_hint(columns, domain_col) -> str:
    """A hint when ``columns`` hold ``domain_col`` under a prefixed name, else ``""``.

    A ColumnTransformer (with its default ``verbose_feature_names_out=True``) renames
    column ``domain`` to ``<transformer>__domain``, e.g. ``remainder__domain``.
    """
    if not isinstance(domain_col, str):
        return ""
    renamed = [c for c in columns if isinstance(c, str) and c.endswith(f"__{domain_col}")]
    if not renamed:
        return ""
    return (
        f" Column {renamed[0]!r} looks like {domain_col!r} renamed by a ColumnTransformer "
        "(its verbose_feature_names_out=True prefixes each name with its transformer's): "
        "create the ColumnTransformer with verbose_feature_names_out=False to keep the "
        f"names, or set domain_col={renamed[0]!r}."
    )


def check_domain_column(X: pd.DataFrame, domain_col) -> pd.Series | None:
    """The domain column of ``X`` (``None`` when ``domain_col`` is ``None``), checked."""
    if domain_col is None:
        return None
    if domain_col not in X.columns:
        hint = renamed_hint(X.columns, domain_col)
        raise ValueError(
            f"domain_col={domain_col!r} is not a column of X; X has columns "
            f"{list(X.columns)[:20]}."
            + (
                hint
                or " Set domain_col to the column that holds each row's domain, or "
                "domain_col=None for a single domain."
            )
        )
    domain = X[domain_col]
    if domain.isna().any():
        n = int(domain.isna().sum())
        raise ValueError(
            f"Domain column {domain_col!r} has {n} missing value(s); every row needs a domain. "
            "Drop those rows or fill them with a domain value."
        )
    return domain


def labels_1d(y, n_samples: int) -> np.ndarray:
    """``y`` (not None) as a 1-D array of ``n_samples`` labels, none of them missing."""
    y = np.asarray(y.to_numpy() if isinstance(y, pd.Series | pd.DataFrame) else y)
    if y.ndim != 1 and not (y.ndim == 2 and y.shape[1] == 1):
        raise ValueError(f"y must be 1-dimensional, got shape {y.shape}.")
    y = column_or_1d(y, warn=True)
    if len(y) != n_samples:
        raise ValueError(
            f"X has {n_samples} rows but y has {len(y)} values; they must have the same length."
        )
    if pd.isna(y).any():
        raise ValueError(f"y contains {int(pd.isna(y).sum())} NaN/missing value(s); remove them.")
    return y


def check_binary_target(y, n_samples: int, estimator) -> np.ndarray:
    """``y`` as a 1-D array of exactly two classes, aligned with ``X``."""
    name = type(estimator).__name__
    if y is None:
        raise ValueError(f"{name} requires y to be passed, but the target y is None.")
    y = labels_1d(y, n_samples)
    kind = type_of_target(y, input_name="y")
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            f"Unknown label type: {name} is a binary classifier and needs a binary "
            f"target with two classes; y is {kind!r}."
        )
    classes = np.unique(y)
    if len(classes) != 2:
        raise ValueError(
            f"Only binary classification is supported. The type of the target is {kind!r}: "
            f"{name} needs y with exactly 2 classes, got {len(classes)} class(es): "
            f"{classes[:5].tolist()}."
        )
    return y
