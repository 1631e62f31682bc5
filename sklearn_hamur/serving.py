"""Serve an exported model with onnxruntime and numpy only: no torch, skorch or scikit-learn.

:meth:`HAMURClassifier.export <sklearn_hamur.HAMURClassifier.export>` writes a folder
with ``model.onnx`` and ``encoder.json``; :func:`load_exported` reads it into an
:class:`ExportedModel`, which encodes raw columns exactly as the fitted ``encoder_``
does (the same canonical categories, reserved indices, numeric scaling and domain
codes) and runs the graph with onnxruntime. This module imports numpy and onnxruntime
only (pandas when the input is a pandas DataFrame, or to format a date or duration
category), and so does ``import sklearn_hamur`` before one of the estimators is used:
a serving process need not install torch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ._cells import (
    canonical_category,
    category_labels,
    column_values,
    distinct,
    domain_key,
    from_json,
    is_missing,
    numeric_values,
    plain,
)

#: The layout this module reads (``encoder.json``'s ``format`` and ``format_version``).
FORMAT = "sklearn-hamur-export"
FORMAT_VERSION = 1
ENCODER_FILE = "encoder.json"


class ExportedModel:
    """A model exported by ``export``, predicting from raw columns with onnxruntime.

    Read with :func:`load_exported`. The raw columns are encoded as the fitted
    ``encoder_`` of the exported estimator encodes them: each categorical value's
    canonical category (:func:`canonical_category`) is looked up in its column's
    vocabulary (index 1 when unseen, 2 when missing, known ones from 3), numeric values
    are standardized with the training means and scales (a missing one becomes 0, values
    are clipped to +-1e4), the domain is mapped to its index (-1 for an unseen domain
    with ``handle_unknown_domain="average"``, an error otherwise).

    Parameters
    ----------
    path : str or path-like
        The folder ``export`` wrote (``model.onnx`` and ``encoder.json``).
    n_threads : int, default=None
        The intra-op threads of onnxruntime (None: its default, every core).
    providers : list of str, default=None
        The execution providers of onnxruntime (None: ``["CPUExecutionProvider"]``).

    Attributes
    ----------
    classes_ : list
        The two classes, ``classes_[1]`` the positive one.
    domains_ : list
        The training domains; domain ``domains_[i]`` is encoded as ``i``.
    domain_col : object
        The domain column (None: a single domain).
    handle_unknown_domain : {"error", "average"}
        What a row of an unseen domain gets.
    categorical_cols_ : list
        The categorical columns, in the order of ``x_cat``.
    numeric_cols_ : list
        The numeric columns, in the order of ``x_num``.
    spec : dict
        The parsed ``encoder.json``.
    session : onnxruntime.InferenceSession
        The session that runs ``model.onnx``.

    See Also
    --------
    sklearn_hamur.HAMURClassifier.export : Writes the folder.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from sklearn_hamur import MultiDomainClassifier
    >>> from sklearn_hamur.datasets import load_adult
    >>> from sklearn_hamur.serving import load_exported
    >>> X, y = load_adult(return_X_y=True)
    >>> clf = MultiDomainClassifier(hidden_units=(8,), max_epochs=1, random_state=0)
    >>> clf = clf.fit(X[:1000], y[:1000])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = clf.export(folder)
    ...     served = load_exported(folder, n_threads=1)
    >>> np.allclose(served.predict_proba(X[:5]), clf.predict_proba(X[:5]), atol=1e-5)
    True
    >>> row = X.iloc[0].to_dict()  # one request: a dict of scalars
    >>> np.allclose(served.predict_proba(row), clf.predict_proba(X[:1]), atol=1e-5)
    True
    """

    def __init__(self, path, *, n_threads=None, providers=None):
        folder = Path(path)
        spec = _read_spec(folder / ENCODER_FILE)
        model_path = folder / spec["model"]["file"]
        model = model_path.read_bytes()
        if hashlib.sha256(model).hexdigest() != spec["model"]["sha256"]:
            raise ValueError(
                f"{model_path} is not the model {ENCODER_FILE} describes (its SHA-256 "
                "differs): the two files come from different exports. Export again."
            )
        self.spec = spec
        self.session = _session(model, n_threads, providers)
        self.classes_ = [from_json(c) for c in spec["classes"]]
        domain = spec["domain"]
        self.domain_col = from_json(domain["column"])
        self.domains_ = [from_json(d) for d in domain["values"]]
        self.handle_unknown_domain = domain["handle_unknown"]
        self._unknown_domain = int(domain["unknown_index"])
        self._domain_codes = _domain_table(self.domains_)
        categorical, numeric = spec["categorical"], spec["numeric"]
        self.categorical_cols_ = [from_json(c) for c in categorical["columns"]]
        self.numeric_cols_ = [from_json(c) for c in numeric["columns"]]
        first = int(categorical["first_index"])
        self._vocabularies = [
            {label: first + i for i, label in enumerate(vocabulary)}
            for vocabulary in categorical["vocabularies"]
        ]
        self._unknown_index = int(categorical["unknown_index"])
        self._missing_index = int(categorical["missing_index"])
        self._means = np.asarray(numeric["means"], dtype=np.float64)
        self._scales = np.asarray(numeric["scales"], dtype=np.float64)
        self._missing_value = float(numeric["missing_value"])
        self._clip = float(numeric["clip"])

    # -- encoding ---------------------------------------------------------------------

    def encode(self, X) -> dict:
        """Encode raw rows into the graph's inputs, as the training encoder does.

        Parameters
        ----------
        X : pandas DataFrame, mapping or list of mappings
            The rows: a DataFrame (pandas, or polars / pyarrow through pandas); a mapping
            of column to values (lists or arrays, one value per row) or to scalars (one
            row); or a list of such one-row mappings. Columns the model does not use
            are ignored.

        Returns
        -------
        dict
            ``x_cat`` (int64, ``(n_rows, n_categorical)``), ``x_num`` (float32,
            ``(n_rows, n_numeric)``) and ``domain`` (int64, ``(n_rows,)``).
        """
        columns, n_rows = self._columns(X)
        x_cat = np.empty((n_rows, len(self.categorical_cols_)), dtype=np.int64)
        for j, (col, vocabulary) in enumerate(zip(self.categorical_cols_, self._vocabularies)):
            x_cat[:, j] = self._encode_categorical(columns[col], vocabulary, col)
        x_num = np.empty((n_rows, len(self.numeric_cols_)), dtype=np.float64)
        for j, col in enumerate(self.numeric_cols_):
            x_num[:, j] = numeric_values(columns[col], col)
        with np.errstate(over="ignore", invalid="ignore"):
            x_num = (x_num - self._means) / self._scales
        x_num = np.nan_to_num(x_num, nan=self._missing_value)
        x_num = np.clip(x_num, -self._clip, self._clip).astype(np.float32)
        if self.domain_col is None:
            domain = np.zeros(n_rows, dtype=np.int64)
        else:
            domain = self._encode_domain(columns[self.domain_col])
        return {"x_cat": x_cat, "x_num": x_num, "domain": domain}

    def _columns(self, X) -> tuple[dict, int]:
        """The needed columns of ``X`` as 1-D arrays of one length, and that length."""
        X = _as_mapping(X)
        needed = [*self.categorical_cols_, *self.numeric_cols_]
        if self.domain_col is not None:
            needed.append(self.domain_col)
        missing = [col for col in needed if col not in X]
        if missing:
            raise ValueError(
                f"Column(s) {missing} that the model was trained on are missing from X; X "
                f"has columns {list(X)[:20]}."
            )
        columns = {col: column_values(X[col]) for col in needed}
        lengths = {col: len(values) for col, values in columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"The columns of X have different lengths: {lengths}.")
        n_rows = next(iter(lengths.values()), 0)
        if n_rows == 0:
            raise ValueError("X has no row: nothing to predict.")
        return columns, n_rows

    def _encode_categorical(self, values: np.ndarray, vocabulary: dict, name) -> np.ndarray:
        uniques, inverse = distinct(values)
        table = np.array(
            [
                self._missing_index if label is None else vocabulary.get(label, self._unknown_index)
                for label in category_labels(uniques, name)
            ],
            dtype=np.int64,
        )
        return table[inverse]

    def _encode_domain(self, values: np.ndarray) -> np.ndarray:
        uniques, inverse = distinct(values)
        missing = [i for i, value in enumerate(uniques) if is_missing(value)]
        if missing:
            n = int(np.isin(inverse, missing).sum())
            raise ValueError(
                f"Domain column {self.domain_col!r} has {n} missing value(s); every row "
                "needs a domain."
            )
        codes = np.array([self._domain_code(value) for value in uniques], dtype=np.int64)
        unknown = codes < 0
        if unknown.any() and self.handle_unknown_domain == "error":
            values = [plain(v) for v in uniques[unknown][:5]]
            raise ValueError(
                f"Column {self.domain_col!r} holds domain value(s) {values} not seen in fit "
                f"(known: {self.domains_}). Export a model with handle_unknown_domain="
                "'average' to average the predictions of all domains for such rows."
            )
        return np.where(unknown, self._unknown_domain, codes)[inverse]

    def _domain_code(self, value) -> int:
        try:
            return self._domain_codes.get(domain_key(value), -1)
        except TypeError:  # unhashable
            return -1

    # -- prediction -------------------------------------------------------------------

    def decision_function(self, X) -> np.ndarray:
        """The logit of ``classes_[1]`` for each row of ``X``, float64.

        Parameters
        ----------
        X : pandas DataFrame, mapping or list of mappings
            The rows, as :meth:`encode` takes them.

        Returns
        -------
        ndarray of shape (n_rows,)
            The graph's float32 logits, as float64.
        """
        inputs = self.encode(X)
        (logit,) = self.session.run(["logit"], inputs)
        return logit.astype(np.float64)

    def predict_proba(self, X) -> np.ndarray:
        """The probability of each class for each row of ``X``.

        Computed from the logit in float64, as the estimator's ``predict_proba`` is, so the
        two agree to float32 rounding of the graph (about 1e-6).

        Parameters
        ----------
        X : pandas DataFrame, mapping or list of mappings
            The rows, as :meth:`encode` takes them.

        Returns
        -------
        ndarray of shape (n_rows, 2)
            The probabilities, columns in ``classes_`` order.
        """
        with np.errstate(over="ignore"):
            p = 1.0 / (1.0 + np.exp(-self.decision_function(X)))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        """The more likely class of each row of ``X`` (threshold 0.5).

        Parameters
        ----------
        X : pandas DataFrame, mapping or list of mappings
            The rows, as :meth:`encode` takes them.

        Returns
        -------
        ndarray of shape (n_rows,)
            Values of ``classes_``.
        """
        classes = np.empty(2, dtype=object)
        classes[:] = self.classes_
        return classes[(self.decision_function(X) > 0).astype(int)]

    def __repr__(self) -> str:
        return (
            f"ExportedModel(estimator={self.spec['estimator']}, "
            f"backbone={self.spec['backbone']!r}, domains={self.domains_})"
        )


def load_exported(path, *, n_threads=None, providers=None) -> ExportedModel:
    """Read a folder written by ``export`` into an :class:`ExportedModel`.

    Parameters
    ----------
    path : str or path-like
        The folder with ``model.onnx`` and ``encoder.json``.
    n_threads : int, default=None
        The intra-op threads of onnxruntime (None: its default, every core).
    providers : list of str, default=None
        The execution providers of onnxruntime (None: ``["CPUExecutionProvider"]``).

    Returns
    -------
    ExportedModel
        The model, ready to predict from raw columns.

    Raises
    ------
    ValueError
        When ``encoder.json`` is not an export of this format version, or
        ``model.onnx`` is not the graph it describes.

    See Also
    --------
    ExportedModel : The loaded model; its docstring has an example.
    sklearn_hamur.HAMURClassifier.export : Writes the folder.

    Examples
    --------
    >>> from sklearn_hamur.serving import load_exported
    >>> load_exported("no-such-folder")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: ...encoder.json...
    """
    return ExportedModel(path, n_threads=n_threads, providers=providers)


def _read_spec(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: load_exported takes the folder that export wrote."
        )
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not an export's {ENCODER_FILE}: {exc}") from exc
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise ValueError(f"{path} is not an export's {ENCODER_FILE} (format {FORMAT!r}).")
    version = spec.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{path} has export format version {version!r} (written by sklearn-hamur "
            f"{spec.get('sklearn_hamur_version')}); this sklearn-hamur reads version "
            f"{FORMAT_VERSION}. Export the model again with this version."
        )
    return spec


def _session(model: bytes, n_threads, providers):
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImportError(
            "Serving an exported model needs onnxruntime: pip install onnxruntime"
        ) from exc
    options = onnxruntime.SessionOptions()
    if n_threads is not None:
        options.intra_op_num_threads = int(n_threads)
        options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        model, options, providers=providers or ["CPUExecutionProvider"]
    )


def _as_mapping(X) -> Mapping:
    """``X`` as a mapping of column to values (a one-row mapping of scalars as lists)."""
    if isinstance(X, list | tuple) and X and all(isinstance(row, Mapping) for row in X):
        names = list(dict.fromkeys(name for row in X for name in row))
        return {name: [row.get(name) for row in X] for name in names}
    if isinstance(X, Mapping):
        if all(_is_scalar(value) for value in X.values()):
            return {name: [value] for name, value in X.items()}
        return X
    if (hasattr(X, "columns") or hasattr(X, "column_names")) and hasattr(X, "__getitem__"):
        return _FrameColumns(X)
    raise TypeError(
        f"X must be a DataFrame, a mapping of column to values, or a list of one-row "
        f"mappings; got {type(X).__name__}."
    )


def _is_scalar(value) -> bool:
    """Whether ``value`` is one cell (a number, string, date...) rather than a column."""
    if isinstance(value, np.ndarray):
        return value.ndim == 0
    return not (
        isinstance(value, list | tuple)
        or (hasattr(value, "__len__") and not isinstance(value, str | bytes))
    )


class _FrameColumns(Mapping):
    """A DataFrame's (pandas, polars) or Arrow table's columns as a mapping."""

    def __init__(self, frame) -> None:
        self.frame = frame
        names = getattr(frame, "column_names", None)  # pyarrow: .columns are the arrays
        self.names = list(frame.columns if names is None else names)

    def __getitem__(self, name):
        return self.frame[name]

    def __iter__(self):
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name) -> bool:
        return name in self.names


def _domain_table(domains: list) -> dict:
    table: dict = {}
    for i, value in enumerate(domains):
        table.setdefault(domain_key(value), i)
    return table


__all__ = ["ExportedModel", "canonical_category", "load_exported"]
