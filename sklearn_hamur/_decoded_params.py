"""A meta-estimator that decodes string-encoded widths (``"256-128"``) before fitting.

Public through :mod:`sklearn_hamur.model_selection`.
"""

from __future__ import annotations

from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from ._search_space import decode_params


def _estimator_has(attr):
    return lambda self: hasattr(self.estimator, attr)


def _delegate(method: str, summary: str, rows: str, shape: str, *, optional: bool = False):
    """A method of :class:`DecodedParamsClassifier` that returns ``estimator_.<method>(X)``.

    ``summary``, ``rows`` (what ``X`` holds) and ``shape`` (of the result) fill in its
    docstring. With ``optional=True`` the method exists only when ``estimator`` has it.
    """

    def delegated(self, X):
        check_is_fitted(self)
        return getattr(self.estimator_, method)(X)

    only = f"Only available when ``estimator`` has ``{method}``.\n\n" if optional else ""
    delegated.__name__ = method
    delegated.__qualname__ = f"DecodedParamsClassifier.{method}"
    delegated.__doc__ = (
        f"{summary} with the fitted clone, ``estimator_``.\n\n{only}"
        "Parameters\n----------\n"
        "X : pandas.DataFrame of shape (n_samples, n_columns)\n"
        f"    {rows}\n\n"
        "Returns\n-------\n"
        f"ndarray of shape {shape}\n"
        f"    ``estimator_.{method}(X)``.\n"
    )
    return available_if(_estimator_has(method))(delegated) if optional else delegated


class DecodedParamsClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit a classifier whose tuple parameters were set as strings (``"256-128"``).

    Optuna stores only strings and numbers, so a search over ``hidden_units`` offers
    strings such as ``"256-128"``. Searches that call ``set_params`` themselves
    (optuna-integration's ``OptunaSearchCV``) set those strings on the model; this
    wrapper decodes them (:func:`decode_params`) on a clone of ``estimator`` just
    before fitting it. Search over ``estimator__<name>`` (``hamur_search_space(
    prefix="estimator__")``). :class:`~sklearn_hamur.HAMURClassifier` and
    :class:`~sklearn_hamur.MultiDomainClassifier` accept the strings themselves, so
    they need no wrapper; it serves estimators that take only tuples.

    Parameters
    ----------
    estimator : classifier
        The model (or a Pipeline ending in one), e.g. a
        :class:`~sklearn_hamur.HAMURClassifier`. Its parameters may hold encoded strings.

    Attributes
    ----------
    estimator_ : classifier
        The fitted clone, with decoded parameters.
    classes_ : ndarray of shape (n_classes,)
        The labels, ``estimator_.classes_``.

    See Also
    --------
    sklearn_hamur.model_selection.tune : Decodes the suggested values itself; it needs no
        wrapper.
    sklearn_hamur.model_selection.hamur_search_space : String-encoded distributions.

    Examples
    --------
    >>> from sklearn_hamur import HAMURClassifier
    >>> from sklearn_hamur.datasets import load_adult
    >>> from sklearn_hamur.model_selection import DecodedParamsClassifier
    >>> X, y = load_adult(return_X_y=True)
    >>> clf = DecodedParamsClassifier(HAMURClassifier(max_epochs=1, random_state=0))
    >>> clf = clf.set_params(estimator__hidden_units="32-16").fit(X[:2000], y[:2000])
    >>> clf.estimator_.hidden_units
    (32, 16)
    >>> clf.predict_proba(X[:3]).shape
    (3, 2)
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y, **fit_params):
        """Decode the estimator's parameters on a clone and fit it.

        Parameters
        ----------
        X : pandas.DataFrame of shape (n_samples, n_columns)
            Training data, passed to ``estimator.fit``.
        y : array-like of shape (n_samples,)
            Labels, passed to ``estimator.fit``.
        **fit_params : dict
            Passed to ``estimator.fit`` (e.g. ``sample_weight``).

        Returns
        -------
        self
            The fitted wrapper.
        """
        params = self.estimator.get_params(deep=True)
        decoded = {
            name: value
            for name, value in decode_params(params).items()
            if value is not params[name]
        }
        self.estimator_ = clone(self.estimator).set_params(**decoded).fit(X, y, **fit_params)
        self.classes_ = self.estimator_.classes_
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimator_, name):
                setattr(self, name, getattr(self.estimator_, name))
        return self

    predict = _delegate(
        "predict", "Predict the class of each row", "Rows to classify.", "(n_samples,)"
    )
    predict_proba = _delegate(
        "predict_proba",
        "Predict class probabilities",
        "Rows to score.",
        "(n_samples, n_classes)",
        optional=True,
    )
    decision_function = _delegate(
        "decision_function",
        "Compute decision scores",
        "Rows to score.",
        "(n_samples,)",
        optional=True,
    )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags = inner.input_tags
        tags.classifier_tags = inner.classifier_tags
        return tags


__all__ = ["DecodedParamsClassifier"]
