"""Raw cells as the training encoder reads them, with numpy alone (pandas optional).

What :mod:`sklearn_hamur.serving` needs to encode a request as
:class:`~sklearn_hamur.MultiDomainEncoder` encodes training rows: the canonical category
of a cell, numbers as ``pandas.to_numeric`` parses them, missing values as
``pandas.isna`` sees them, domain values as dict keys that match as
``pandas.Index.get_indexer`` does, and the tagged JSON values of
``sklearn_hamur._json_values``. Imports numpy only; pandas when a date or duration
is to be formatted as pandas formats it.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Mapping, Set
from decimal import Decimal
from numbers import Integral, Real

import numpy as np

#: Cells of these types are not categories (as in ``MultiDomainEncoder``).
CONTAINERS = (list, tuple, dict, Mapping, Set, np.ndarray)
#: What ``pandas.to_numeric`` parses in a string: a decimal number or an infinity.
NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity)", re.I | re.A)


def pandas_or_none():
    """pandas when it is installed, else None (imported only when needed)."""
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def is_missing(value) -> bool:
    """Whether ``value`` is missing as ``pandas.isna`` sees a scalar."""
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    if isinstance(value, np.datetime64 | np.timedelta64):
        return bool(np.isnat(value))
    if isinstance(value, Decimal):
        return value.is_nan()
    if isinstance(value, complex | np.complexfloating):
        return math.isnan(value.real) or math.isnan(value.imag)
    return type(value).__name__ in ("NAType", "NaTType")  # pandas.NA and pandas.NaT


def is_container(value) -> bool:
    return isinstance(value, CONTAINERS) or (
        type(value).__module__.startswith("pandas")
        and type(value).__name__ in ("Series", "DataFrame", "Index")
    )


def canonical_category(value) -> str | None:
    """The category of one value, as the training encoder's ``canonical_category``.

    A string is itself; a boolean ``"True"`` or ``"False"``; an integer, or a float or
    ``Decimal`` equal to one, that integer's digits; another float its shortest
    ``repr``; a timestamp its pandas string (in UTC when it has a time zone); anything
    else hashable its ``str``; a missing value ``None``. Lists, tuples, dicts, sets and
    arrays raise a TypeError. Without pandas, a date with a time is formatted as pandas
    does, and a ``numpy.datetime64`` or a duration raises an ImportError.

    Parameters
    ----------
    value : object
        One cell of a categorical column.

    Returns
    -------
    str or None
        The canonical string, or ``None`` for a missing value.

    See Also
    --------
    sklearn_hamur.MultiDomainEncoder : Looks up categories by this same canonical form.

    Examples
    --------
    >>> from sklearn_hamur.serving import canonical_category
    >>> [canonical_category(v) for v in (1, 1.0, "1", True, 2.5, "a", float("nan"))]
    ['1', '1', '1', 'True', '2.5', 'a', None]
    """
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if is_container(value):
        raise TypeError(f"a {type(value).__name__} is not a category")
    if is_missing(value):
        return None
    if isinstance(value, datetime.datetime | np.datetime64):
        return timestamp_label(value)
    if isinstance(value, datetime.timedelta | np.timedelta64):  # before Integral: see numpy
        return str(require_pandas("a duration").Timedelta(value))
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            return str(int(value))
        return repr(float(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def require_pandas(what: str):
    pandas = pandas_or_none()
    if pandas is None:
        raise ImportError(
            f"Encoding {what} as a category needs pandas, which formats it as in training; "
            "install pandas, or send the category as the string the training data held."
        )
    return pandas


def timestamp_label(value) -> str:
    pandas = pandas_or_none()
    if pandas is not None:
        stamp = pandas.Timestamp(value)
        return str(stamp if stamp.tzinfo is None else stamp.tz_convert("UTC"))
    if isinstance(value, np.datetime64):
        require_pandas("a numpy.datetime64")
    if value.tzinfo is not None and value.utcoffset() is not None:
        value = value.astimezone(datetime.UTC)
    return str(value)  # pandas' format for a Python datetime


def category_labels(uniques: np.ndarray, name) -> list:
    """The canonical labels of distinct values (vectorised for numbers, as the encoder)."""
    kind = uniques.dtype.kind
    if kind in "iu":
        return [str(v) for v in uniques.tolist()]
    if kind == "b":
        return np.where(uniques, "True", "False").tolist()
    if kind == "U":
        return uniques.tolist()
    try:
        return [canonical_category(v) for v in uniques]
    except TypeError as exc:
        raise TypeError(
            f"Categorical column {name!r} holds cells that are not single values ({exc}); "
            "each cell must be a string, number, boolean, date or missing."
        ) from None


#: Up to this many cells (a request of one row has one), a typed column is deduplicated
#: cell by cell, as objects: ``numpy.unique`` costs more than the loop. Same labels.
FEW_CELLS = 16


def distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(uniques, inverse)`` of a column: sorted for numbers and strings, else by identity."""
    if values.dtype.kind in "biufUSMm" and len(values) > FEW_CELLS:
        uniques, inverse = np.unique(values, return_inverse=True)
        return uniques, inverse.reshape(-1)
    # Objects: by type and value, so 1, 1.0 and True stay apart (their labels differ).
    index: dict = {}
    inverse = np.empty(len(values), dtype=np.intp)
    uniques = []
    for i, value in enumerate(values):
        try:
            key = (type(value), value)
            code = index.get(key)
        except TypeError:  # unhashable: a list or dict cell, reported by category_labels
            key, code = None, None
        if code is None:
            code = len(uniques)
            uniques.append(value)
            if key is not None and not is_missing(value):
                index[key] = code
        inverse[i] = code
    array = np.empty(len(uniques), dtype=object)
    array[:] = uniques
    return array, inverse


def column_values(column) -> np.ndarray:
    """A column (list, array, pandas / polars Series) as a 1-D numpy array."""
    if isinstance(column, np.ndarray):
        return column.reshape(-1) if column.ndim != 1 else column
    to_numpy = getattr(column, "to_numpy", None)
    if callable(to_numpy):
        values = np.asarray(to_numpy())
    else:
        values = np.empty(len(column), dtype=object)  # lists: every cell as it is
        values[:] = list(column)
    return values.reshape(-1)


def numeric_values(values: np.ndarray, name) -> np.ndarray:
    """A numeric column as float64, NaN for missing values, as ``pandas.to_numeric``."""
    kind = values.dtype.kind
    if kind in "biuf":
        numbers = values.astype(np.float64)
    elif kind in "OUS":
        numbers = np.array([number(value, name) for value in values], dtype=np.float64)
    else:
        raise ValueError(f"Numeric column {name!r} has dtype {values.dtype}; expected numbers.")
    if np.isinf(numbers).any():
        raise ValueError(
            f"Numeric column {name!r} holds infinite values; replace them with finite "
            "numbers or NaN (missing values are imputed with the training mean)."
        )
    return numbers


def number(value, name) -> float:
    if is_missing(value):
        return math.nan
    if isinstance(value, bool | np.bool_ | Real | Decimal) and not isinstance(
        value, np.datetime64 | np.timedelta64
    ):
        return float(value)
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return math.nan
        if NUMBER.fullmatch(text):
            return float(text)
    raise ValueError(
        f"Numeric column {name!r} holds non-numeric values such as {value!r}; send numbers "
        "(or numeric strings), as in training."
    )


def domain_key(value):
    """A domain value as a dict key that matches as ``pandas.Index.get_indexer`` does."""
    if isinstance(value, np.datetime64 | np.timedelta64):
        pandas = pandas_or_none()  # whose Timestamp hashes as the datetime it equals
        if pandas is not None:
            return (
                pandas.Timestamp(value)
                if isinstance(value, np.datetime64)
                else (pandas.Timedelta(value))
            )
        return value
    if isinstance(value, np.generic):
        return value.item()
    return value


def plain(value):
    return value.item() if isinstance(value, np.generic) else value


FROM_TAG = {
    "tuple": lambda v: tuple(from_json(x) for x in v),
    "Decimal": Decimal,
    "datetime": datetime.datetime.fromisoformat,
    "date": datetime.date.fromisoformat,
    "timedelta": lambda v: datetime.timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "datetime64": lambda v: np.datetime64(int(v[0]), v[1]),
    "timedelta64": lambda v: np.timedelta64(int(v[0]), v[1]),
}


def from_json(data):
    """A value ``sklearn_hamur._json_values.to_json`` wrote (pandas only for its types)."""
    if isinstance(data, list):
        return [from_json(v) for v in data]
    if not isinstance(data, dict):
        return data
    name, value = data.get("$type"), data.get("value")
    if name == "Timestamp":
        pandas = pandas_or_none()
        return pandas.Timestamp(value) if pandas else datetime.datetime.fromisoformat(value)
    if name == "Timedelta":
        pandas = pandas_or_none()
        if pandas:
            return pandas.Timedelta(int(value), unit="ns")
        return datetime.timedelta(microseconds=int(value) // 1000)
    if name not in FROM_TAG:
        raise ValueError(f"unknown stored value {data!r} in encoder.json")
    return FROM_TAG[name](value)
