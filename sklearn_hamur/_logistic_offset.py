"""Fit the one-hot logistic regression whose logit a model's ``LinearOffset`` adds."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.linear_model import LogisticRegression

from ._data import MultiDomainDataset
from .modules.embedding import field_offsets


def one_hot_design(dataset: MultiDomainDataset, cardinalities, n_domains: int) -> sp.csr_matrix:
    """The encoded rows as logistic regression sees them: one-hot ids, domain, numbers.

    The columns follow :class:`~sklearn_hamur.modules.LinearOffset`'s coefficients: every
    field's ids (the field's offset plus its code), then the domains, then the encoded
    (standardised, imputed) numeric values.
    """
    x_cat = dataset.X["x_cat"].numpy().astype(np.int64, copy=False)
    domain = dataset.X["domain"].numpy().astype(np.int64, copy=False)
    x_num = dataset.X["x_num"].numpy().astype(np.float64, copy=False)
    n, n_ids = len(domain), int(sum(cardinalities))
    ids = (x_cat + field_offsets(cardinalities).numpy()).reshape(-1)
    rows = np.repeat(np.arange(n), x_cat.shape[1])
    one_hot = sp.csr_matrix((np.ones(len(ids)), (rows, ids)), shape=(n, n_ids))
    domains = sp.csr_matrix((np.ones(n), (np.arange(n), domain)), shape=(n, n_domains))
    return sp.hstack([one_hot, domains, sp.csr_matrix(x_num)], format="csr")


def fit_logistic_offset(
    dataset: MultiDomainDataset, *, cardinalities, n_domains: int, C: float
) -> tuple[torch.Tensor, float]:
    """``(coef, intercept)`` of ``LogisticRegression(C)`` fitted on the training rows.

    The rows' sample weights (if any) weigh the fit as they weigh the network's loss.
    lbfgs is deterministic, so every process of a data-parallel fit, which all hold the
    same rows at this point, finds the same coefficients.
    """
    weight = dataset.X.get("sample_weight")
    model = LogisticRegression(C=C, max_iter=1000)
    model.fit(
        one_hot_design(dataset, cardinalities, n_domains),
        dataset.y.numpy().astype(np.int64),
        sample_weight=None if weight is None else weight.numpy(),
    )
    return torch.as_tensor(model.coef_[0], dtype=torch.float32), float(model.intercept_[0])
