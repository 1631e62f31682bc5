"""Values as JSON that reads back to equal values: what a saved file's header holds.

Plain JSON carries ``None``, booleans, integers, floats (NaN and infinities included),
strings and lists. The other values an estimator keeps (parameters, column labels,
domain values, classes) are written as tagged objects ``{"$type": name, "value": ...}``:
tuples, :class:`~decimal.Decimal`, dates, times and durations (Python's, pandas' and
numpy's). numpy scalars become the Python number they equal. Anything else raises a
``TypeError`` that names where the value came from, so the estimators can refuse it at
``fit`` instead of failing at ``save``.
"""

from __future__ import annotations

import datetime
import os
from decimal import Decimal
from numbers import Integral, Real

import numpy as np
import pandas as pd

TYPE_KEY = "$type"


def _tag(name: str, value) -> dict:
    return {TYPE_KEY: name, "value": value}


def _temporal_to_json(value) -> dict | None:
    """A date, time or duration as a tagged ISO string, or None for other values."""
    if isinstance(value, pd.Timestamp):
        return _tag("Timestamp", value.isoformat())
    if isinstance(value, datetime.datetime):
        return _tag("datetime", value.isoformat())
    if isinstance(value, datetime.date):
        return _tag("date", value.isoformat())
    if isinstance(value, pd.Timedelta):
        return _tag("Timedelta", int(value.value))
    if isinstance(value, datetime.timedelta):
        return _tag("timedelta", [value.days, value.seconds, value.microseconds])
    if isinstance(value, np.datetime64 | np.timedelta64):
        unit = np.datetime_data(value.dtype)[0]
        return _tag(type(value).__name__, [int(value.view("i8")), unit])
    return None


def to_json(value, where: str = "value"):
    """``value`` as JSON data that :func:`from_json` turns back into an equal value.

    Raises ``TypeError`` naming ``where`` for a value of another type.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # np.str_ too
    if isinstance(value, np.bool_):
        return bool(value)
    temporal = _temporal_to_json(value)  # before numbers: np.timedelta64 is an integer type
    if temporal is not None:
        return temporal
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, Decimal):
        return _tag("Decimal", str(value))
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, tuple):
        return _tag("tuple", [to_json(v, where) for v in value])
    if isinstance(value, list | pd.Index | np.ndarray):
        return [to_json(v, where) for v in value]
    if isinstance(value, Real):  # another kind of real number, e.g. fractions.Fraction
        return float(value)
    raise TypeError(
        f"{where} holds {value!r} of type {type(value).__name__}, which a saved model cannot "
        "store. Use strings, numbers, booleans, dates or Decimals."
    )


_FROM_TAG = {
    "tuple": lambda v: tuple(from_json(x) for x in v),
    "Decimal": Decimal,
    "Timestamp": pd.Timestamp,
    "datetime": datetime.datetime.fromisoformat,
    "date": datetime.date.fromisoformat,
    "Timedelta": lambda v: pd.Timedelta(int(v), unit="ns"),
    "timedelta": lambda v: datetime.timedelta(days=v[0], seconds=v[1], microseconds=v[2]),
    "datetime64": lambda v: np.datetime64(int(v[0]), v[1]),
    "timedelta64": lambda v: np.timedelta64(int(v[0]), v[1]),
}


def from_json(data):
    """The value :func:`to_json` wrote as ``data``; ``ValueError`` for unknown tags."""
    if isinstance(data, list):
        return [from_json(v) for v in data]
    if isinstance(data, dict):
        name = data.get(TYPE_KEY)
        if name not in _FROM_TAG or set(data) != {TYPE_KEY, "value"}:
            raise ValueError(f"unknown stored value {data!r}")
        try:
            return _FROM_TAG[name](data["value"])
        except (TypeError, ValueError, OverflowError, ArithmeticError) as exc:
            raise ValueError(f"stored {name} {data['value']!r} is invalid: {exc}") from exc
    return data


def array_to_json(values, where: str = "array") -> dict:
    """An array as ``{"dtype", "values"}``; dates and durations by their integer ticks."""
    array = np.asarray(values)
    if array.dtype.kind in "biufU":
        return {"dtype": array.dtype.str, "values": array.tolist()}
    if array.dtype.kind in "Mm":
        return {"dtype": array.dtype.str, "values": array.view("i8").tolist()}
    return {"dtype": "object", "values": [to_json(v, where) for v in array.ravel()]}


def array_from_json(data) -> np.ndarray:
    """The 1-D array :func:`array_to_json` wrote; ``ValueError`` when ``data`` is not one."""
    if not (isinstance(data, dict) and set(data) == {"dtype", "values"}):
        raise ValueError("expected {'dtype': ..., 'values': [...]}")
    values, dtype = data["values"], data["dtype"]
    if not isinstance(values, list) or not isinstance(dtype, str):
        raise ValueError("expected a dtype string and a list of values")
    if dtype == "object":
        array = np.empty(len(values), dtype=object)
        array[:] = [from_json(v) for v in values]
        return array
    try:
        kind = np.dtype(dtype).kind
        if kind not in "biufUMm":
            raise TypeError(dtype)
        if kind in "Mm":
            return np.array(values, dtype=np.int64).view(dtype)
        array = np.array(values, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"values do not fit dtype {dtype!r}: {exc}") from exc
    if array.ndim != 1:
        raise ValueError(f"expected a flat list of values, got shape {array.shape}")
    return array


def check_storable(values, where: str) -> None:
    """Raise ``TypeError`` naming ``where`` unless every one of ``values`` can be saved."""
    array_to_json(values, where)
