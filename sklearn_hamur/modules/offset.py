"""A fixed linear logit combined with a backbone's: added under it, or blended with it."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .._docstrings import fill_doc
from .embedding import field_offsets


@fill_doc
class LinearOffset(nn.Module):
    """A linear model over one-hot ids, one-hot domain and numeric values, not trained.

    ``offset(x) = intercept + w_domain[domain] + sum_f w_ids[offset_f + x_cat[:, f]]
    + x_num @ w_numeric``: the logit of a one-hot logistic regression, whose coefficients
    are set once (:meth:`set_coefficients`) and then kept as buffers, so they are saved,
    loaded and exported with the module but never touched by the optimizer. A backbone
    with an offset adds it to its own logit; trained on top of it, the network fits
    what the linear model leaves. With ``network_weight`` ``1 - w`` and the coefficients
    scaled by ``w`` (``logistic_blend``), the backbone's logit becomes the blend
    ``(1 - w) * network + w * linear`` of two models trained apart.

    Parameters
    ----------
    %(backbone_inputs)s

    See Also
    --------
    sklearn_hamur.HAMURClassifier : Fits the offset's logistic regression
        (``logistic_offset=C``).
    sklearn_hamur.modules.backbones.Backbone : Adds the offset (``linear_offset=True``).

    Notes
    -----
    Inputs: ``x_cat`` of shape ``(n, len(cardinalities))`` int64, ``x_num`` of shape
    ``(n, n_numeric)`` and ``domain`` of shape ``(n,)`` int64 in ``[0, n_domains)``.
    Output: ``(n,)``, the offset logits (zero until the coefficients are set).
    :meth:`combine` applies it to a network's logits: ``network_weight * logit + offset``
    (``network_weight`` 1 unless a blend set it).

    Examples
    --------
    >>> import torch
    >>> offset = LinearOffset(cardinalities=[3, 2], n_numeric=1, n_domains=2)
    >>> offset.set_coefficients(torch.arange(8.0), intercept=0.5)
    >>> offset(torch.tensor([[2, 1]]), torch.tensor([[1.0]]), torch.tensor([1]))
    tensor([19.5000])
    """

    offsets: torch.Tensor
    id_weight: torch.Tensor
    domain_weight: torch.Tensor
    numeric_weight: torch.Tensor
    intercept: torch.Tensor
    network_weight: torch.Tensor

    def __init__(self, *, cardinalities: Sequence[int], n_numeric: int, n_domains: int) -> None:
        super().__init__()
        self.register_buffer("offsets", field_offsets(cardinalities), persistent=False)
        self.n_ids = sum(int(c) for c in cardinalities)
        self.n_numeric = n_numeric
        self.n_domains = n_domains
        self.register_buffer("id_weight", torch.zeros(self.n_ids))
        self.register_buffer("domain_weight", torch.zeros(n_domains))
        self.register_buffer("numeric_weight", torch.zeros(n_numeric))
        self.register_buffer("intercept", torch.zeros(()))
        self.register_buffer("network_weight", torch.ones(()))
        # Whether combine changes a logit. Kept on the host, so that the training steps
        # of a blend (whose linear part is cleared while the network trains) skip the
        # lookup entirely instead of adding zeros; refreshed when a state is loaded.
        self.active = False
        # Files written before the blend existed lack network_weight: theirs is 1.
        self._register_load_state_dict_pre_hook(_default_network_weight)
        self.register_load_state_dict_post_hook(_refresh_active)

    @property
    def n_coefficients(self) -> int:
        """Length of the coefficient vector: ids, then domains, then numeric fields."""
        return self.n_ids + self.n_domains + self.n_numeric

    def set_coefficients(
        self, coef: torch.Tensor, *, intercept: float, network_weight: float = 1.0
    ) -> None:
        """Set the linear model: ``coef`` over the ids, then the domains, then the numbers.

        Parameters
        ----------
        coef : torch.Tensor of shape (n_coefficients,)
            The weights of the one-hot columns (ids in the order of the fields' offsets,
            then the domains) and of the numeric fields.
        intercept : float
            The linear model's intercept.
        network_weight : float, default=1.0
            The factor of the network's logit in :meth:`combine`: 1 adds the linear
            logit under the network (an offset); ``1 - w``, with ``coef`` and
            ``intercept`` already scaled by ``w``, blends the two.
        """
        coef = torch.as_tensor(coef, dtype=torch.float32).reshape(-1)
        if coef.numel() != self.n_coefficients:
            raise ValueError(
                f"coef must have {self.n_coefficients} entries ({self.n_ids} ids, "
                f"{self.n_domains} domains, {self.n_numeric} numeric); got {coef.numel()}."
            )
        with torch.no_grad():
            device = self.id_weight.device
            ids, domains = self.n_ids, self.n_ids + self.n_domains
            self.id_weight.copy_(coef[:ids].to(device))
            self.domain_weight.copy_(coef[ids:domains].to(device))
            self.numeric_weight.copy_(coef[domains:].to(device))
            self.intercept.fill_(float(intercept))
            self.network_weight.fill_(float(network_weight))
        self.active = True

    def clear(self) -> None:
        """Zero the linear model and give the network weight 1: ``combine`` is a no-op."""
        with torch.no_grad():
            for buffer in (self.id_weight, self.domain_weight, self.numeric_weight):
                buffer.zero_()
            self.intercept.zero_()
            self.network_weight.fill_(1.0)
        self.active = False

    def combine(
        self, logit: torch.Tensor, x_cat: torch.Tensor, x_num: torch.Tensor, domain: torch.Tensor
    ) -> torch.Tensor:
        """``network_weight * logit`` plus this model's logit of the same rows.

        Parameters
        ----------
        logit : torch.Tensor of shape (n,)
            The network's logits, in the order of the rows.
        x_cat, x_num, domain : torch.Tensor
            The rows, as in :meth:`forward`.

        Returns
        -------
        torch.Tensor of shape (n,)
            The combined logits, in ``logit``'s dtype.
        """
        if not self.active:  # cleared or never set: the logit as it is
            return logit
        offset = self(x_cat, x_num, domain).to(logit.dtype)
        # Multiplying by exactly 1 leaves every bit of an offset model's logit as it was.
        return logit * self.network_weight.to(logit.dtype) + offset

    def forward(
        self, x_cat: torch.Tensor, x_num: torch.Tensor, domain: torch.Tensor
    ) -> torch.Tensor:
        """Compute the linear model's logit of each row.

        Parameters
        ----------
        x_cat : torch.Tensor of shape (n, n_fields)
            Categorical codes, int64.
        x_num : torch.Tensor of shape (n, n_numeric)
            Encoded numeric values.
        domain : torch.Tensor of shape (n,)
            Domain indices in ``[0, n_domains)``.

        Returns
        -------
        torch.Tensor of shape (n,)
            The offset logits.
        """
        out = self.intercept + self.domain_weight[domain]
        if x_cat.shape[1]:
            out = out + self.id_weight[x_cat + self.offsets].sum(1)
        if self.n_numeric:
            out = out + x_num.to(self.numeric_weight.dtype) @ self.numeric_weight
        return out


def _default_network_weight(state_dict, prefix, *args) -> None:
    state_dict.setdefault(prefix + "network_weight", torch.ones(()))


def _refresh_active(module: LinearOffset, incompatible_keys) -> None:
    buffers = (module.id_weight, module.domain_weight, module.numeric_weight, module.intercept)
    if module.network_weight.is_meta:  # a shape check only: nothing to read
        module.active = True
        return
    module.active = bool(float(module.network_weight) != 1.0 or any(b.any() for b in buffers))


__all__ = ["LinearOffset"]
