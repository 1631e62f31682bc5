"""Categories: one canonical form per value, vocabularies with counts, their indices.

What the encoder does with a categorical column, cell by cell: every value gets one
canonical string (:func:`canonical_category`), the same in ``fit``, ``partial_fit`` and
``transform``; vocabularies are sorted canonical strings with their counts, merged chunk
by chunk; a row's index is its category's position plus the reserved indices.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

import numpy as np
import pandas as pd

# One canonical form for training and serving: the serving module's numpy-only version,
# which formats dates with pandas when pandas is there (always, in training).
from ._cells import canonical_category

#: Reserved indices of every categorical field's vocabulary.
PADDING_INDEX = 0
UNKNOWN_INDEX = 1
MISSING_INDEX = 2
N_RESERVED = 3


def chunk_counts(column: pd.Series, name) -> tuple[np.ndarray, np.ndarray]:
    """The distinct categories of ``column`` (canonical strings) and their row counts."""
    codes, labels = category_codes(column, name)
    counts = np.bincount(codes[codes >= 0], minlength=len(labels))
    labels = np.asarray(labels, dtype=object)
    # Distinct numbers have distinct forms; other values may share one (1 and "1").
    numbers = not isinstance(column.dtype, pd.CategoricalDtype) and column.dtype.kind in "iufb"
    if not numbers and not pd.Index(labels, dtype=object).is_unique:
        merged, uniques = pd.factorize(labels)  # hashed, not sorted
        counts = np.bincount(merged, weights=counts, minlength=len(uniques)).astype(np.int64)
        labels = np.asarray(uniques, dtype=object)
    return labels, counts


def add_counts(total, chunk: tuple[np.ndarray, np.ndarray]) -> tuple[pd.Index, np.ndarray]:
    """``(sorted categories, counts)`` of ``total`` and the chunk's counts together.

    Only the categories new to ``total`` are sorted and inserted in place, so a chunk
    costs about its own number of categories, not a sort of the whole vocabulary.
    """
    labels, counts = chunk
    if total is None:
        order = np.argsort(labels)
        return pd.Index(labels[order], dtype=object), counts[order].astype(np.int64)
    known, known_counts = total
    position = known.get_indexer(labels)
    new = position < 0
    known_counts = known_counts.copy()  # the previous state is replaced, never changed
    known_counts[position[~new]] += counts[~new]  # positions are distinct
    if new.any():
        order = np.argsort(labels[new])
        new_labels, new_counts = labels[new][order], counts[new][order]
        at = np.searchsorted(known.to_numpy(), new_labels)
        known = pd.Index(np.insert(known.to_numpy(), at, new_labels), dtype=object)
        known_counts = np.insert(known_counts, at, new_counts)
    return known, known_counts


def vocabulary_at_frequency(total: tuple[pd.Index, np.ndarray], min_frequency: int) -> pd.Index:
    """The categories counted at least ``min_frequency`` times, sorted."""
    known, counts = total
    if min_frequency <= 1:
        return known  # the same Index: its lookup table is built once
    return pd.Index(known.to_numpy()[counts >= min_frequency], dtype=object)


#: Up to this many distinct values in a column (a one-row prediction has one), each is
#: looked up on its own in the vocabulary's hash table: building an Index of them for
#: ``get_indexer`` costs more than the lookups. Both give the same indices.
FEW_LABELS = 8


def vocabulary_indices(vocabulary: pd.Index, labels: list) -> np.ndarray:
    """The index of each canonical label: its position in ``vocabulary`` plus
    ``N_RESERVED``, ``UNKNOWN_INDEX`` when it is not there, ``MISSING_INDEX`` for None."""
    if len(labels) <= FEW_LABELS and vocabulary.is_unique:
        return np.array([_vocabulary_index(vocabulary, label) for label in labels], np.intp)
    labels = pd.Index(labels, dtype=object)
    table = vocabulary.get_indexer(labels)
    table = np.where(table < 0, UNKNOWN_INDEX, table + N_RESERVED)
    table[labels.isna()] = MISSING_INDEX  # e.g. a NaN category of a categorical dtype
    return table


def _vocabulary_index(vocabulary: pd.Index, label) -> int:
    if pd.isna(label):
        return MISSING_INDEX
    try:
        return vocabulary.get_loc(label) + N_RESERVED
    except KeyError:
        return UNKNOWN_INDEX


def sorted_unique(values: pd.Series) -> np.ndarray:
    """Distinct values, sorted; by their string form when they cannot be compared."""
    unique = np.asarray(pd.unique(values), dtype=object)
    try:
        return np.asarray(sorted(unique))
    except TypeError:  # mixed types, e.g. 1 and "a"
        return np.asarray(sorted(unique, key=lambda v: (type(v).__name__, str(v))), dtype=object)


def check_flat_columns(X: pd.DataFrame) -> None:
    """Raise a TypeError for MultiIndex columns: a column label must select one column."""
    if isinstance(X.columns, pd.MultiIndex):
        raise TypeError(
            f"X has MultiIndex columns (e.g. column {X.columns[0]!r}); each column label must "
            "select one column. Flatten them first, e.g. "
            "X.columns = ['_'.join(map(str, c)) for c in X.columns]."
        )


#: ``infer_dtype`` kinds of object columns whose values are all of one family, so that
#: two values pandas finds equal when factorizing (``1`` and ``1.0``) have the same
#: canonical form: such a column is factorized in one pass.
UNIFORM_KINDS = frozenset(
    {"string", "integer", "floating", "mixed-integer-float", "decimal", "boolean", "empty"}
    | {"datetime", "datetime64", "date", "timedelta", "timedelta64", "bytes"}
)

#: Cells of these types are not categories: encoding one raises a TypeError.
CONTAINER_TYPES = (list, tuple, Mapping, Set, np.ndarray, pd.Series, pd.DataFrame, pd.Index)

_TYPE_OF = np.frompyfunc(type, 1, 1)


def _canonical_labels(uniques, name) -> list:
    """The canonical form of distinct values (vectorised for integer and float arrays)."""
    values = np.asarray(uniques)
    if values.dtype.kind in "iu":
        return [str(v) for v in values.tolist()]  # the fastest way on 2 CPU cores
    if values.dtype.kind == "b":
        return np.where(values, "True", "False").tolist()
    if values.dtype.kind == "f":
        labels = np.empty(len(values), dtype=object)
        with np.errstate(invalid="ignore"):
            integral = (np.floor(values) == values) & (np.abs(values) < 2.0**63)
        labels[integral] = [str(v) for v in values[integral].astype(np.int64).tolist()]
        labels[~integral] = [canonical_category(v) for v in values[~integral]]
        return labels.tolist()
    try:
        return [canonical_category(value) for value in uniques]
    except TypeError as exc:
        raise _cell_type_error(name, exc) from None


def _cell_type_error(name, exc) -> TypeError:
    return TypeError(
        f"Categorical column {name!r} holds cells that are not single values ({exc}); "
        "each cell must be a string, number, boolean, date or missing. Expand lists or "
        "dicts into columns of their own, or join them into strings."
    )


def category_codes(column: pd.Series, name) -> tuple[np.ndarray, list]:
    """Per row, an index into the returned canonical labels (-1 for missing).

    The label of a row depends on its value only (:func:`canonical_category`), never on
    the other rows: pandas' factorization, which keeps one of several values it finds
    equal (``1``, ``1.0`` and ``True``), is applied only to values of one type at a time
    when a column mixes types. Distinct values may share a label (``1`` and ``"1"``).
    Vectorised: only the distinct values, never the rows, become Python strings.
    """
    dtype = column.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy().astype(np.intp)
        return codes, _canonical_labels(dtype.categories, name)
    if pd.api.types.is_object_dtype(dtype):
        if pd.api.types.infer_dtype(column, skipna=True) not in UNIFORM_KINDS:
            return _codes_by_type(column.to_numpy(), name)
    # Of a numpy dtype, factorize the array: Series.factorize does the same, then wraps the
    # uniques in an Index, which costs more than the rest for a few rows.
    numpy_values = isinstance(dtype, np.dtype) and dtype.kind in "iufbO"
    values = column.to_numpy() if numpy_values else column
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, _canonical_labels(uniques, name)


def _codes_by_type(values: np.ndarray, name) -> tuple[np.ndarray, list]:
    """``category_codes`` of an object array that mixes types: factorized type by type."""
    missing = pd.isna(values)
    type_codes, types = pd.factorize(_TYPE_OF(values))
    containers = [t.__name__ for t in types if issubclass(t, CONTAINER_TYPES)]
    if containers:
        raise _cell_type_error(name, f"{containers[0]} values")
    codes = np.full(len(values), -1, dtype=np.intp)
    labels: list = []
    for t in range(len(types)):
        rows = np.flatnonzero((type_codes == t) & ~missing)
        if len(rows):
            sub_codes, uniques = pd.factorize(values[rows])
            codes[rows] = sub_codes + len(labels)
            labels.extend(_canonical_labels(uniques, name))
    return codes, labels
