"""MultiDomainEncoder: turn a DataFrame with a domain column into model-ready arrays."""

from __future__ import annotations

import contextlib
import copy
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted
from skorch.helper import SliceDict

from ._categories import (
    MISSING_INDEX,
    N_RESERVED,
    PADDING_INDEX,
    UNKNOWN_INDEX,
    add_counts,
    canonical_category,
    category_codes,
    check_flat_columns,
    chunk_counts,
    sorted_unique,
    vocabulary_at_frequency,
    vocabulary_indices,
)
from ._distributed import gather_objects, world
from ._docstrings import fill_doc
from ._json_values import check_storable
from ._numeric_columns import numeric_values
from ._numeric_statistics import chunk_moments, merge_moments, scaling_statistics, select_columns
from ._validation import as_frame, check_columns_present, check_domain_column
from .modules.routing import UNKNOWN_DOMAIN

#: The public names; the reserved indices and ``canonical_category`` live in
#: ``_categories`` and are re-exported here, where users and the docs find them.
__all__ = [
    "MISSING_INDEX",
    "MAX_ABS_SCALED",
    "N_RESERVED",
    "PADDING_INDEX",
    "UNKNOWN_INDEX",
    "MultiDomainEncoder",
    "canonical_category",
    "frozen_copy",
    "is_categorical_column",
    "padding_rows",
    "sorted_unique",
]

#: Standardized numeric values are clipped to this magnitude.
MAX_ABS_SCALED = 1e4


def is_categorical_column(column: pd.Series) -> bool:
    """Inferred as categorical: string, category and bool columns, and object columns
    unless every non-missing value is a number."""
    dtype = column.dtype
    if pd.api.types.is_object_dtype(dtype):
        kind = pd.api.types.infer_dtype(column, skipna=True)
        return kind not in ("integer", "floating", "mixed-integer-float", "decimal", "empty")
    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
    )


@fill_doc
class MultiDomainEncoder(TransformerMixin, BaseEstimator):
    """Encode a multi-domain DataFrame into the arrays the torch modules consume.

    - Categorical columns: a vocabulary per column fitted on the training data only.
      Index 0 is reserved for padding, 1 for values unseen in training (or rarer than
      ``min_frequency``), 2 for missing values; known values get ``3, 4, ...`` in sorted
      order of their canonical form (``encoder.canonical_category``): a number equal to an
      integer is that integer (``1``, ``1.0``, ``np.int8(1)`` and ``Decimal("1.0")`` are
      the category ``"1"``), another float its shortest ``repr``, a boolean ``"True"`` or
      ``"False"`` (never ``1`` or ``0``), a string itself (so the string ``"1"`` is the
      category of the number 1, but ``"1.0"`` is not). A value's code depends on that
      value only, never on the dtype of its column or on the other rows.
    - Numeric columns: standardized with the training mean and standard deviation
      (computed ignoring missing values); a missing value becomes 0, the training mean,
      so no NaN reaches the model; standardized values are clipped to +-1e4. Infinite
      values are rejected.
    - The domain column: mapped to ``0..D-1`` in sorted order of the training domains,
      which are kept in ``domains_``. A missing domain is an error.

    :meth:`fit` learns all this from one DataFrame; :meth:`partial_fit` from chunks of
    a data set larger than memory, with the same result.

    Parameters
    ----------
    %(domain_col)s
    %(categorical_cols)s
    %(numeric_cols)s
    %(min_frequency)s
    %(handle_unknown_domain)s

    Attributes
    ----------
    categorical_cols_ : list
        The categorical columns, in the order of the columns of ``x_cat``.
    numeric_cols_ : list
        The numeric columns, in the order of the columns of ``x_num``.
    vocabularies_ : dict of str to pandas.Index
        Known categories of each categorical column (their canonical strings, sorted),
        index ``i`` of which is encoded as ``i + 3``.
    cardinalities_ : list of int
        Vocabulary size of each categorical column, reserved indices included.
    means_ : ndarray of shape (n_numeric,)
        Training mean of each numeric column, subtracted before scaling.
    scales_ : ndarray of shape (n_numeric,)
        Training standard deviation of each numeric column (1 for a constant or entirely
        missing column, which is encoded as 0, with a warning).
    domains_ : ndarray
        The training domain values, sorted; domain ``domains_[i]`` is encoded as ``i``.
    %(n_features_in_)s
    %(feature_names_in_)s

    See Also
    --------
    sklearn_hamur.MultiDomainClassifier : Fits this encoder as its ``encoder_``.
    sklearn_hamur.HAMURClassifier : Fits this encoder as its ``encoder_`` too.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_hamur import MultiDomainEncoder
    >>> X = pd.DataFrame(
    ...     {"domain": ["a", "b", "a"], "item": ["x", "y", None], "price": [1.0, 2.0, 3.0]}
    ... )
    >>> Xt = MultiDomainEncoder().fit_transform(X)
    >>> Xt["x_cat"].ravel().tolist(), Xt["domain"].tolist()
    ([3, 4, 2], [0, 1, 0])
    >>> [round(float(v), 3) for v in Xt["x_num"].ravel()]
    [-1.225, 0.0, 1.225]
    """

    _parameter_constraints: dict = {
        "domain_col": [str, Integral, None],
        "categorical_cols": ["array-like", None],
        "numeric_cols": ["array-like", None],
        "min_frequency": [Interval(Integral, 1, None, closed="left")],
        "handle_unknown_domain": [StrOptions({"error", "average"})],
    }

    def __init__(
        self,
        *,
        domain_col="domain",
        categorical_cols=None,
        numeric_cols=None,
        min_frequency=1,
        handle_unknown_domain="error",
    ):
        self.domain_col = domain_col
        self.categorical_cols = categorical_cols
        self.numeric_cols = numeric_cols
        self.min_frequency = min_frequency
        self.handle_unknown_domain = handle_unknown_domain

    @fill_doc
    def fit(self, X, y=None):
        """Learn the vocabularies, numeric statistics and domains of ``X``.

        The same as one :meth:`partial_fit` on a fresh encoder: whatever an earlier
        ``fit`` or ``partial_fit`` learned is forgotten.

        Parameters
        ----------
        %(X_fit_y_none)s

        Returns
        -------
        self
            The fitted encoder.
        """
        self._fit(X)
        return self

    def partial_fit(self, X, y=None):
        """Add one chunk of rows to what the encoder has learned (out-of-core fitting).

        The category counts, the numeric columns' moments and the domains are summed
        over the chunks, and after each call the fitted attributes are those of one
        :meth:`fit` on all the chunks so far: ``min_frequency`` applies to the total
        count of a category, the means and standard deviations are merged exactly (to
        rounding, about 1e-15 relative), and codes and domains do not depend on how the
        rows were split. The first call fixes the columns (and, when neither
        ``categorical_cols`` nor ``numeric_cols`` is given, which are categorical, from
        that chunk's dtypes: give them explicitly for a stream); later chunks must have
        the same columns.

        :meth:`transform` encodes with the vocabularies as they are when it is called:
        a later ``partial_fit`` may add categories, which shifts the codes of the
        categories sorted after them. A classifier given this encoder
        (``encoder=``) takes a frozen copy of it when its training starts: categories
        first seen after that are unseen (index 1) for that model. A frozen encoder
        (a classifier's ``encoder_``, or one loaded with the classifier) refuses
        ``partial_fit``.

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_columns)
            One chunk of training rows, with the domain column ``domain_col``: a pandas
            or polars DataFrame or a pyarrow Table or RecordBatch (converted to pandas,
            names and dtypes kept).
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self
            The encoder, fitted on every chunk so far.

        Raises
        ------
        ValueError
            When the encoder is frozen, or the chunk's columns differ from the first
            chunk's.

        See Also
        --------
        sklearn_hamur.HAMURClassifier.partial_fit : Trains on the chunks this encodes.

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn_hamur import MultiDomainEncoder
        >>> X = pd.DataFrame({"domain": ["a", "b", "a", "b"], "item": ["x", "y", "x", "z"]})
        >>> chunked = MultiDomainEncoder(min_frequency=2)
        >>> for chunk in (X[:2], X[2:]):
        ...     chunked = chunked.partial_fit(chunk)
        >>> chunked.vocabularies_["item"].tolist()
        ['x']
        >>> one_shot = MultiDomainEncoder(min_frequency=2).fit(X)
        >>> (chunked.transform(X)["x_cat"] == one_shot.transform(X)["x_cat"]).all()
        np.True_
        """
        self._validate_params()
        if getattr(self, "_all_reduced", False):
            raise ValueError(
                "This MultiDomainEncoder holds every torchrun process's counts since "
                "all_reduce(): a partial_fit now would add a chunk to this process's "
                "encoder only, and the processes' encoders would differ. Call partial_fit "
                "on each process's chunks before all_reduce(), or fit a new encoder."
            )
        if hasattr(self, "domains_") and not hasattr(self, "_category_counts"):
            raise ValueError(
                "This MultiDomainEncoder is frozen: its vocabularies are final (it is a "
                "classifier's encoder_, or was loaded with one), so partial_fit cannot add "
                "to them. Fit a new MultiDomainEncoder with partial_fit over the chunks, or "
                "call fit to start afresh."
            )
        with _rolled_back_on_error(self):
            self._accumulate(X, reset=not hasattr(self, "domains_"), stacklevel=2)
        return self

    def all_reduce(self):
        """Merge the encoders of all torchrun processes: every process gets the same one.

        For data-parallel out-of-core training, where no process reads the whole data
        set: each process fits its encoder with :meth:`partial_fit` on its own files or
        row groups only (:func:`~sklearn_hamur.rank_shard`), then every process calls
        ``all_reduce()`` once. It gathers every process's accumulated state and replaces
        its own with their merge, in rank order: the category counts summed
        (``min_frequency`` applies to the totals over all processes), the numeric
        moments merged as :meth:`partial_fit` merges chunks, the domains united. Every
        process then holds the identical encoder (bit for bit), the one
        :meth:`partial_fit` over all the processes' chunks gives (the numeric statistics
        to rounding). A process whose encoder is not fitted (it had no rows) receives
        the merge. Outside torchrun (``WORLD_SIZE`` unset or 1) nothing changes.

        Returns
        -------
        self
            The encoder, fitted on the chunks of every process.

        Raises
        ------
        ValueError
            On every process alike, naming the process at fault: when an encoder is
            frozen or merged already (a second merge would count the other processes'
            rows twice: the merged encoder also refuses :meth:`partial_fit`; :meth:`fit`
            starts afresh), when none is fitted, or when their parameters or columns
            differ.

        See Also
        --------
        sklearn_hamur.rank_shard : The files or row groups of this process.
        sklearn_hamur.HAMURClassifier.partial_fit : Trains data-parallel under torchrun.

        Notes
        -----
        A collective call: each process waits until every process has made it. Each
        process receives every process's counts (``torch.distributed.all_gather_object``
        over gloo), so the merge holds the vocabularies' counts once per process. Joins
        the default process group when it is not joined yet.

        Examples
        --------
        >>> import pandas as pd
        >>> from sklearn_hamur import MultiDomainEncoder
        >>> X = pd.DataFrame({"domain": ["a", "b"], "item": ["x", "y"]})
        >>> encoder = MultiDomainEncoder().partial_fit(X)
        >>> encoder.all_reduce() is encoder  # outside torchrun: nothing to merge
        True
        """
        _, world_size = world(None)
        if world_size <= 1:
            return self
        states = gather_objects(self._reduce_state())
        problems = [f"process {r}: {state['problem']}" for r, state in enumerate(states)]
        problems = [p for p, state in zip(problems, states) if state["problem"]]
        fitted = [state for state in states if state["fitted"]]
        if not problems and not fitted:
            problems = [
                "no process's encoder is fitted; call partial_fit on each process's chunks first"
            ]
        problems = problems or _merge_problems(states, fitted)
        if problems:
            raise ValueError(
                "MultiDomainEncoder.all_reduce() cannot merge the encoders of the torchrun "
                "processes: " + "; ".join(problems) + "."
            )
        with _rolled_back_on_error(self):
            self._merge(fitted)
        return self

    def _reduce_state(self) -> dict:
        """What ``all_reduce`` gathers from this process: its accumulators, or a problem."""
        state = {"problem": None, "fitted": hasattr(self, "domains_")}
        try:
            self._validate_params()
        except ValueError as exc:
            state["problem"] = str(exc)
            return state
        state["params"] = repr(sorted(self.get_params(deep=False).items(), key=str))
        if getattr(self, "_all_reduced", False):
            state["problem"] = (
                "its encoder was merged by all_reduce() already (merging again would count "
                "the other processes' rows twice); fit a new encoder"
            )
        elif state["fitted"] and not hasattr(self, "_category_counts"):
            state["problem"] = (
                "its encoder is frozen (a classifier's encoder_, or loaded with one) and "
                "holds no counts to merge; pass the encoder fitted with partial_fit"
            )
        elif state["fitted"]:
            state["columns"] = (self.categorical_cols_, self.numeric_cols_)
            state["features"] = {
                name: vars(self)[name]
                for name in ("feature_names_in_", "n_features_in_")
                if name in vars(self)
            }
            state["counts"], state["moments"] = self._category_counts, self._moments
            state["domains"] = self.domains_
        return state

    def _merge(self, fitted: list[dict]) -> None:
        """Become the merge of the gathered ``fitted`` states, in their (rank) order."""
        categorical, numeric = fitted[0]["columns"]
        counts, moments = {col: None for col in categorical}, None
        for state in fitted:
            for col in categorical:
                labels, totals = state["counts"][col]
                counts[col] = add_counts(counts[col], (labels.to_numpy(), totals))
            own = select_columns(state["moments"], _positions(state["columns"][1], numeric))
            moments = own if moments is None else merge_moments(moments, own)
        statistics = scaling_statistics(moments, numeric, stacklevel=4)
        domains = None
        if self.domain_col is not None:
            domains = sorted_unique(pd.concat([pd.Series(s["domains"]) for s in fitted]))
        self._set_fitted(categorical, numeric, counts, moments, statistics, domains)
        for name in ("feature_names_in_", "n_features_in_"):
            vars(self).pop(name, None)
        vars(self).update(fitted[0]["features"])
        self._all_reduced = True

    @fill_doc
    def fit_transform(self, X, y=None):
        """Fit on ``X`` and encode it, checking ``X`` and its domain column once.

        Parameters
        ----------
        %(X_fit_y_none)s

        Returns
        -------
        skorch.helper.SliceDict
            ``X`` encoded, as :meth:`transform` returns it.
        """
        return self._encode(*self._fit(X))

    def _fit(self, X) -> tuple[pd.DataFrame, pd.Series | None]:
        """Fit; return ``X`` as a DataFrame and its checked domain column."""
        self._validate_params()
        with _rolled_back_on_error(self):
            return self._accumulate(X, reset=True, stacklevel=3)

    def _accumulate(self, X, *, reset: bool, stacklevel: int):
        """Add the chunk ``X`` (or, with ``reset``, start from it); return it checked.

        Every fitted attribute and accumulator is computed first and assigned at the
        end, replacing (never mutating) the previous ones. ``stacklevel``: the frames
        from the caller up to the user's code, where a warning points.
        """
        X = as_frame(X, reset=reset, estimator=self)
        check_flat_columns(X)
        domain = check_domain_column(X, self.domain_col)
        if reset:
            categorical, numeric = self._resolve_columns(X)
            # Whatever fit keeps must be storable by save: refuse it here, not at save.
            check_storable([*categorical, *numeric], "X's column labels")
            counts, moments, domains = {}, None, None
        else:
            categorical, numeric = self.categorical_cols_, self.numeric_cols_
            check_columns_present(X, [*categorical, *numeric], self)
            counts, moments, domains = self._category_counts, self._moments, self.domains_
        # NOTE[DIFF]: vocabularies come from the training rows only, with reserved indices
        # for unseen and missing values; the reference builds them on train+val+test.
        counts = {
            col: add_counts(counts.get(col), chunk_counts(X[col], col)) for col in categorical
        }
        chunk = chunk_moments(numeric_values(X, numeric))
        moments = chunk if moments is None else merge_moments(moments, chunk)
        means, scales = scaling_statistics(moments, numeric, stacklevel=stacklevel + 1)
        if domain is not None:
            domains = sorted_unique(
                domain if domains is None else pd.concat([pd.Series(domains), domain])
            )
            check_storable(domains, f"Domain column {self.domain_col!r}")
        self._set_fitted(categorical, numeric, counts, moments, (means, scales), domains)
        vars(self).pop("_all_reduced", None)  # holds this process's chunks only (again)
        return X, domain

    def _set_fitted(self, categorical, numeric, counts, moments, statistics, domains) -> None:
        """Replace the fitted attributes and accumulators (``domains=None``: no domain column)."""
        self.categorical_cols_, self.numeric_cols_ = categorical, numeric
        self._category_counts, self._moments = counts, moments
        self.vocabularies_ = {
            col: vocabulary_at_frequency(totals, self.min_frequency)
            for col, totals in counts.items()
        }
        self.cardinalities_ = [len(v) + N_RESERVED for v in self.vocabularies_.values()]
        self.means_, self.scales_ = statistics
        self.domains_ = np.array([0]) if domains is None else domains

    def transform(self, X):
        """Encode ``X`` into a ``SliceDict`` with ``x_cat``, ``x_num`` and ``domain``.

        Parameters
        ----------
        X : DataFrame of shape (n_samples, n_columns)
            Rows with the columns seen in ``fit``, the domain column included (pandas,
            polars or pyarrow).

        Returns
        -------
        skorch.helper.SliceDict
            ``x_cat``: int32 ``(n_samples, n_categorical)`` (int64 only for a vocabulary
            beyond 2**31 values); ``x_num``: float32 ``(n_samples, n_numeric)``;
            ``domain``: int64 ``(n_samples,)``. It slices along rows like an array, so it
            can be split for cross-validation.
        """
        check_is_fitted(self, "domains_")
        return self._transform_frame(as_frame(X, reset=False, estimator=self))

    def _transform_frame(self, X: pd.DataFrame):
        """``transform`` of a frame that ``as_frame`` has already checked."""
        check_flat_columns(X)
        check_columns_present(X, [*self.categorical_cols_, *self.numeric_cols_], self)
        return self._encode(X, check_domain_column(X, self.domain_col))

    def _encode(self, X: pd.DataFrame, domain: pd.Series | None):
        """Encode the checked ``X`` whose checked domain column is ``domain``."""
        x_cat = np.empty((len(X), len(self.categorical_cols_)), dtype=self._index_dtype())
        for j, col in enumerate(self.categorical_cols_):
            x_cat[:, j] = self._encode_categorical(X[col], self.vocabularies_[col], col)
        with np.errstate(over="ignore"):  # beyond float64: inf, clipped below
            x_num = (numeric_values(X, self.numeric_cols_) - self.means_) / self.scales_
        # Missing -> the training mean; values beyond +-1e4 standard deviations are clipped
        # so that extreme inputs cannot overflow float32 into inf or NaN downstream.
        x_num = np.clip(np.nan_to_num(x_num, nan=0.0), -MAX_ABS_SCALED, MAX_ABS_SCALED)
        x_num = x_num.astype(np.float32)
        return SliceDict(x_cat=x_cat, x_num=x_num, domain=self._encode_domain(domain, len(X)))

    def _index_dtype(self) -> type:
        # int32 halves the memory of int64; a vocabulary beyond 2**31 would need int64.
        return np.int32 if max(self.cardinalities_, default=0) < 2**31 else np.int64

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags

    def _resolve_columns(self, X: pd.DataFrame) -> tuple[list, list]:
        rest = [c for c in X.columns if c != self.domain_col]
        categorical = None if self.categorical_cols is None else list(self.categorical_cols)
        numeric = None if self.numeric_cols is None else list(self.numeric_cols)
        for name, cols in (("categorical_cols", categorical), ("numeric_cols", numeric)):
            if cols is not None:
                check_columns_present(X, cols, self, parameter=name)
                if self.domain_col in cols:
                    raise ValueError(
                        f"{name} must not contain the domain column {self.domain_col!r}; "
                        "the domain selects the model's domain path."
                    )
        if categorical is not None and numeric is not None:
            both = sorted(set(categorical) & set(numeric), key=str)
            if both:
                raise ValueError(f"Columns {both} are in both categorical_cols and numeric_cols.")
        if categorical is None and numeric is None:
            categorical = [c for c in rest if is_categorical_column(X[c])]
        if numeric is None:
            numeric = [c for c in rest if c not in set(categorical)]
        if categorical is None:
            categorical = [c for c in rest if c not in set(numeric)]
        return categorical, numeric

    @staticmethod
    def _encode_categorical(column: pd.Series, vocabulary: pd.Index, name) -> np.ndarray:
        codes, labels = category_codes(column, name)
        # Look up each distinct value once, then broadcast to the rows through the codes.
        table = vocabulary_indices(vocabulary, labels)
        # Code -1 (missing) picks the appended last entry.
        return np.append(table, MISSING_INDEX)[codes]

    def _encode_domain(self, domain: pd.Series | None, n_rows: int) -> np.ndarray:
        if domain is None:
            return np.zeros(n_rows, dtype=np.int64)
        codes = pd.Index(self.domains_).get_indexer(domain)
        unknown = codes < 0
        if unknown.any():
            if self.handle_unknown_domain == "error":
                values = pd.unique(domain[unknown])[:5].tolist()
                raise ValueError(
                    f"Column {self.domain_col!r} holds domain value(s) {values} not seen in fit "
                    f"(known: {self.domains_.tolist()}). Set handle_unknown_domain='average' to "
                    "average the predictions of all domains for such rows."
                )
            codes = np.where(unknown, UNKNOWN_DOMAIN, codes)
        return codes.astype(np.int64)


#: The private state ``partial_fit`` accumulates; a fitted encoder without it is frozen.
ACCUMULATORS = ("_category_counts", "_moments")


def _merge_problems(states: list[dict], fitted: list[dict]) -> list[str]:
    """Why the gathered encoder ``states`` cannot be merged (empty when they can)."""
    problems = [
        f"process {rank}'s parameters differ from process 0's ({state['params']} and "
        f"{states[0]['params']}); create the same MultiDomainEncoder on every process"
        for rank, state in enumerate(states)
        if state["params"] != states[0]["params"]
    ]
    first = next(rank for rank, state in enumerate(states) if state["fitted"])
    categorical, numeric = (set(cols) for cols in fitted[0]["columns"])
    names = set(fitted[0]["features"].get("feature_names_in_", ()))
    for rank, state in enumerate(states):
        if not state["fitted"]:
            continue
        own_categorical, own_numeric = (set(cols) for cols in state["columns"])
        if (own_categorical, own_numeric) != (categorical, numeric):
            problems.append(
                f"process {rank}'s categorical and numeric columns differ from process "
                f"{first}'s (categorical {sorted(own_categorical, key=str)} "
                f"and {sorted(categorical, key=str)}); name them with categorical_cols and "
                "numeric_cols instead of letting each process infer them from its dtypes"
            )
        elif set(state["features"].get("feature_names_in_", ())) != names:
            problems.append(f"process {rank}'s chunks have other columns than the others'")
    return problems


def _positions(columns: list, order: list) -> np.ndarray:
    """Where each column of ``order`` is in ``columns``."""
    where = {col: i for i, col in enumerate(columns)}
    return np.array([where[col] for col in order], dtype=np.intp)


def padding_rows(encoder: MultiDomainEncoder, n_rows: int) -> SliceDict:
    """``n_rows`` encoded rows of padding (every category the padding index, numeric
    values 0, domain 0): what a data-parallel process without rows left steps on."""
    return SliceDict(
        x_cat=np.full(
            (n_rows, len(encoder.categorical_cols_)), PADDING_INDEX, encoder._index_dtype()
        ),
        x_num=np.zeros((n_rows, len(encoder.numeric_cols_)), dtype=np.float32),
        domain=np.zeros(n_rows, dtype=np.int64),
    )


def frozen_copy(encoder: MultiDomainEncoder) -> MultiDomainEncoder:
    """A copy of the fitted ``encoder`` that encodes alike and refuses ``partial_fit``.

    The accumulated counts are left out (they are as large as the vocabularies); the
    vocabularies, statistics and domains are shared with ``encoder``, whose
    ``partial_fit`` replaces them instead of changing them, so the copy stays as it is.
    """
    check_is_fitted(encoder, "domains_")
    frozen = copy.copy(encoder)
    for name in (*ACCUMULATORS, "_all_reduced"):
        vars(frozen).pop(name, None)
    frozen.vocabularies_ = dict(encoder.vocabularies_)
    return frozen


@contextlib.contextmanager
def _rolled_back_on_error(encoder: MultiDomainEncoder):
    """Give ``encoder`` back its attributes as they were when the block raises."""
    previous = dict(vars(encoder))
    try:
        yield
    except BaseException:
        vars(encoder).clear()
        vars(encoder).update(previous)
        raise
