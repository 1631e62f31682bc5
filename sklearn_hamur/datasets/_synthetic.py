"""A synthetic multi-domain click data generator with controllable domain shift."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.utils import check_random_state

#: Width of the latent user and item vectors whose dot product drives the label.
_N_FACTORS = 4


def make_multi_domain_classification(
    n_samples=10_000,
    n_domains=3,
    *,
    domain_weights=None,
    domain_shift=1.0,
    n_users=1_000,
    n_items=1_000,
    popularity=1.0,
    n_numeric=2,
    random_state=None,
):
    """Generate multi-domain binary click data with id features and domain shift.

    Each row is a (user, item) impression in one of ``n_domains`` domains, with
    ``n_numeric`` standard-normal context values. The click probability is

    ``sigmoid(shared(row) + domain_shift * specific_d(row))``

    where ``shared`` is the same in every domain (user and item biases, a user-item
    latent-factor interaction and numeric weights) and ``specific_d`` belongs to the
    row's domain ``d`` (an intercept, an item bias and numeric weights drawn for each
    domain). ``domain_shift=0`` gives one function for all domains; larger values
    make domains more different, which is where domain-specific parameters (one tower
    per domain, HAMUR's adapters) should pay off.

    Parameters
    ----------
    n_samples : int, default=10_000
        Number of rows.
    n_domains : int, default=3
        Number of domains (values ``0 .. n_domains - 1``).
    domain_weights : array-like of shape (n_domains,), default=None
        Relative expected size of each domain (normalized to sum to 1); ``None`` gives
        equal sizes. ``[0.9, 0.09, 0.01]`` makes a large, a small and a tiny domain.
    domain_shift : float, default=1.0
        Scale of the domain-specific part of the click logit (0 for none).
    n_users, n_items : int, default=1_000
        Number of distinct user and item ids (high-cardinality categorical features).
    popularity : float, default=1.0
        Zipf exponent of how often ids appear: the id of rank ``r`` is drawn with
        probability proportional to ``r ** -popularity`` (0: uniform; 1: a long tail
        of rare ids).
    n_numeric : int, default=2
        Number of numeric features ``num_0, num_1, ...``.
    random_state : int, RandomState instance or None, default=None
        Seeds every draw; the same value gives the same data.

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, 2 + n_numeric + 1)
        ``user_id`` and ``item_id`` (category dtype of strings ``"u17"``, ``"i3"``, so
        the estimators embed them), ``num_0 ...`` (float64), then ``domain`` (int64).
    y : pandas.Series of shape (n_samples,)
        The clicks, int64 0/1, named ``label``.

    See Also
    --------
    sklearn_hamur.datasets.load_adult : Real multi-domain data, bundled.
    sklearn_hamur.datasets.load_movielens : Real multi-domain data, from GroupLens.

    Examples
    --------
    >>> from sklearn_hamur.datasets import make_multi_domain_classification
    >>> X, y = make_multi_domain_classification(
    ...     1000, 3, domain_weights=[0.8, 0.15, 0.05], random_state=0
    ... )
    >>> X.columns.tolist()
    ['user_id', 'item_id', 'num_0', 'num_1', 'domain']
    >>> X["domain"].value_counts().sort_index().tolist()
    [797, 146, 57]
    >>> round(float(y.mean()), 3)
    0.526
    """
    weights = _check_params(
        n_samples, n_domains, domain_weights, domain_shift, n_users, n_items, popularity, n_numeric
    )
    rng = check_random_state(random_state)
    domain = rng.choice(n_domains, size=n_samples, p=weights)
    user = _zipf_ids(rng, n_users, n_samples, popularity)
    item = _zipf_ids(rng, n_items, n_samples, popularity)
    numeric = rng.standard_normal((n_samples, n_numeric))

    # The shared part: biases, a latent-factor interaction, numeric weights.
    user_bias, item_bias = rng.normal(0, 0.5, n_users), rng.normal(0, 0.5, n_items)
    user_factors = rng.standard_normal((n_users, _N_FACTORS))
    item_factors = rng.standard_normal((n_items, _N_FACTORS))
    weight = rng.normal(0, 0.5, n_numeric)
    interaction = np.einsum("ij,ij->i", user_factors[user], item_factors[item])
    shared = user_bias[user] + item_bias[item] + interaction / _N_FACTORS + numeric @ weight

    # The domain-specific part: intercept, item bias and numeric weights per domain.
    intercept = rng.normal(0, 0.5, n_domains)
    domain_item_bias = rng.normal(0, 0.5, (n_domains, n_items))
    domain_weight = rng.normal(0, 0.5, (n_domains, n_numeric))
    specific = (
        intercept[domain]
        + domain_item_bias[domain, item]
        + np.einsum("ij,ij->i", numeric, domain_weight[domain])
    )
    label = (rng.random(n_samples) < expit(shared + domain_shift * specific)).astype(np.int64)

    X = pd.DataFrame(
        {
            "user_id": pd.Categorical(np.char.add("u", user.astype(str))),
            "item_id": pd.Categorical(np.char.add("i", item.astype(str))),
        }
    )
    for j in range(n_numeric):
        X[f"num_{j}"] = numeric[:, j]
    X["domain"] = domain.astype(np.int64)
    return X, pd.Series(label, name="label")


def _zipf_ids(rng, n_ids, n_samples, exponent):
    """Ids ``0 .. n_ids - 1`` drawn with Zipf-like frequencies, ranks shuffled."""
    p = np.arange(1, n_ids + 1, dtype=np.float64) ** -float(exponent)
    ranks = rng.choice(n_ids, size=n_samples, p=p / p.sum())
    return rng.permutation(n_ids)[ranks]


def _is_int(value, low) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= low


def _check_params(
    n_samples, n_domains, domain_weights, domain_shift, n_users, n_items, popularity, n_numeric
):
    """Every problem at once, as one ValueError; returns the normalized domain weights."""
    func = "make_multi_domain_classification"
    problems = []
    for name, value, low in (
        ("n_samples", n_samples, 1),
        ("n_domains", n_domains, 1),
        ("n_users", n_users, 1),
        ("n_items", n_items, 1),
        ("n_numeric", n_numeric, 0),
    ):
        if not _is_int(value, low):
            problems.append(
                f"The {name!r} parameter of {func} must be an int >= {low}; got {value!r}."
            )
    for name, value in (("domain_shift", domain_shift), ("popularity", popularity)):
        if not (isinstance(value, Real) and not isinstance(value, bool) and value >= 0):
            problems.append(
                f"The {name!r} parameter of {func} must be a float >= 0; got {value!r}."
            )
    weights = None
    if _is_int(n_domains, 1):
        weights = np.full(n_domains, 1.0 / n_domains)
        if domain_weights is not None:
            try:
                w = np.asarray(domain_weights, dtype=np.float64)
            except (TypeError, ValueError):
                w = np.full(n_domains + 1, np.nan)  # reported below
            if (
                w.shape != (n_domains,)
                or not np.all(np.isfinite(w))
                or (w < 0).any()
                or w.sum() <= 0
            ):
                problems.append(
                    f"The 'domain_weights' parameter of {func} must be {n_domains} (n_domains) "
                    f"non-negative numbers with a positive sum; got {domain_weights!r}."
                )
            else:
                weights = w / w.sum()
    if problems:
        raise ValueError("\n".join(problems))
    return weights
