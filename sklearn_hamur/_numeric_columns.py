"""Numeric columns as float64 arrays, with clear errors for what is not a number."""

from __future__ import annotations

import numpy as np
import pandas as pd


def numeric_values(X: pd.DataFrame, columns: list) -> np.ndarray:
    """The numeric ``columns`` of ``X`` as float64, NaN for missing values."""
    values = np.empty((len(X), len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        values[:, j] = numeric_column(X[col], col)
    return values


def numeric_column(column: pd.Series, name) -> np.ndarray:
    if pd.api.types.is_complex_dtype(column.dtype):
        raise ValueError(f"Numeric column {name!r}: complex data not supported.")
    if isinstance(column.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_object_dtype(column.dtype)
    ):
        if not pd.api.types.is_bool_dtype(column.dtype):
            raise ValueError(
                f"Numeric column {name!r} has dtype {column.dtype}; expected numbers. "
                "List it in categorical_cols to embed it instead."
            )
    try:
        values = pd.to_numeric(column, errors="raise").astype("float64").to_numpy(na_value=np.nan)
    except (TypeError, ValueError) as exc:
        bad = column[pd.to_numeric(column, errors="coerce").isna() & column.notna()]
        raise ValueError(
            f"Numeric column {name!r} holds non-numeric values such as {bad.iloc[:3].tolist()}; "
            "list it in categorical_cols to embed it, or convert it to numbers."
        ) from exc
    if np.isinf(values).any():
        raise ValueError(
            f"Numeric column {name!r} holds infinite values; replace them with finite "
            "numbers or NaN (missing values are imputed with the training mean)."
        )
    return values
