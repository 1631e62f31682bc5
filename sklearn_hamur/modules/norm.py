"""Batch normalization that stays defined for one-row batches, alone or per domain."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .routing import DomainGroups


class BatchNorm(nn.BatchNorm1d):
    """``BatchNorm1d`` that falls back to running statistics on a one-row batch.

    Rows are routed to domain-specific layers, so even a large training batch can hand
    a single row to one domain; plain ``BatchNorm1d`` raises on that ("Expected more
    than 1 value per channel"). Here such a batch is normalized with the running
    statistics (as in evaluation) and leaves them unchanged; an empty batch is returned
    as is. In evaluation mode the running statistics are always used, so a row's output
    never depends on the other rows of its batch.

    Parameters
    ----------
    num_features : int
        Number of features (columns) of the input.
    eps : float, default=1e-5
        Added to the variance for numerical stability.
    momentum : float or None, default=0.1
        Weight of the current batch in the running statistics; ``None`` makes them a
        cumulative average.
    affine : bool, default=True
        Learn a per-feature scale and shift.
    track_running_stats : bool, default=True
        Keep running statistics (else the batch's own statistics are used in
        evaluation too, and a one-row training batch is normalized with none).
    device : torch.device, str or None, default=None
        Where to create the parameters and buffers.
    dtype : torch.dtype or None, default=None
        Floating-point type of the parameters and buffers.
    bias : bool, default=True
        With ``affine``, learn the per-feature shift too (keyword-only; in the torch
        versions whose :class:`torch.nn.BatchNorm1d` takes it).

    See Also
    --------
    torch.nn.BatchNorm1d : The parent class, for the other behaviour and parameters.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import BatchNorm
    >>> norm = BatchNorm(4).train()
    >>> norm(torch.randn(1, 4)).shape
    torch.Size([1, 4])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize ``x``; a training batch of at most one row uses the running statistics.

        Parameters
        ----------
        x : torch.Tensor of shape (n, num_features)
            The input rows.

        Returns
        -------
        torch.Tensor of shape (n, num_features)
            The normalized rows (``x`` itself when ``n`` is 0).
        """
        if self.training and x.shape[0] <= 1:
            if x.shape[0] == 0:
                return x
            # NOTE[DIFF]: the reference's norm uses the batch's own statistics and gives
            # NaN for a single row; running statistics keep it finite.
            return F.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
            )
        return super().forward(x)


class GroupedBatchNorm(nn.Module):
    """One batch normalization per domain, every domain's rows normalized at once.

    Each domain's rows are normalized with that domain's own statistics, as one
    :class:`BatchNorm` per domain applied to its rows would: in training the batch's
    statistics of the domain's rows (running statistics updated for that domain only), in
    evaluation the domain's running statistics. A domain with one row in a training batch
    uses its running statistics and leaves them unchanged (see :class:`BatchNorm`); one
    with no row is untouched. The per-domain means and variances are segment sums
    (``index_add``) over the sorted rows, so the kernels a batch launches do not depend on
    the number of domains.

    Parameters
    ----------
    n_groups : int
        Number of domains (1: one normalization for every row).
    d : int
        Number of features.
    eps : float, default=1e-5
        Added to the variance for numerical stability.
    momentum : float, default=0.1
        Weight of the current batch in a domain's running statistics.
    affine : bool, default=True
        Learn a per-domain, per-feature scale and shift.

    Attributes
    ----------
    running_mean, running_var : torch.Tensor of shape (n_groups, d)
        Each domain's running statistics (buffers).
    num_batches_tracked : torch.Tensor of shape (n_groups,)
        Training batches that updated each domain's statistics.

    See Also
    --------
    BatchNorm : The one-domain normalization it equals, domain by domain.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import DomainGroups, GroupedBatchNorm
    >>> norm = GroupedBatchNorm(n_groups=2, d=3).train()
    >>> groups = DomainGroups(torch.tensor([0, 0, 1]), n_domains=2)
    >>> norm(torch.randn(3, 3), groups).shape
    torch.Size([3, 3])
    """

    running_mean: torch.Tensor
    running_var: torch.Tensor
    num_batches_tracked: torch.Tensor
    weight: nn.Parameter | None
    bias: nn.Parameter | None

    def __init__(
        self,
        *,
        n_groups: int,
        d: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
    ) -> None:
        super().__init__()
        self.n_groups, self.d, self.eps, self.momentum, self.affine = (
            n_groups,
            d,
            eps,
            momentum,
            affine,
        )
        if affine:
            self.weight = nn.Parameter(torch.empty(n_groups, d))
            self.bias = nn.Parameter(torch.empty(n_groups, d))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        self.register_buffer("running_mean", torch.zeros(n_groups, d))
        self.register_buffer("running_var", torch.ones(n_groups, d))
        self.register_buffer("num_batches_tracked", torch.zeros(n_groups, dtype=torch.long))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reset every domain's statistics, scale (1) and shift (0)."""
        for group in range(self.n_groups):
            self.reset_group(group)

    def reset_group(self, group: int) -> None:
        """Reset domain ``group``'s statistics, scale and shift (draws no random number).

        Parameters
        ----------
        group : int
            The domain (index of the parameter set) to reset.
        """
        with torch.no_grad():
            self.running_mean[group].zero_()
            self.running_var[group].fill_(1.0)
            self.num_batches_tracked[group].zero_()
            if self.weight is not None and self.bias is not None:
                self.weight[group].fill_(1.0)
                self.bias[group].zero_()

    def forward(self, x: torch.Tensor, groups: DomainGroups) -> torch.Tensor:
        """Normalize each row with its domain's statistics.

        Parameters
        ----------
        x : torch.Tensor of shape (n, d)
            Rows sorted by domain.
        groups : DomainGroups
            The batch's segments.

        Returns
        -------
        torch.Tensor of shape (n, d)
            The normalized rows.
        """
        if self.n_groups == 1:
            return self._forward_one(x, 0)
        if groups.single is not None:  # every row of one domain: that domain's norm
            return self._forward_one(x, groups.single)
        # Statistics in float32 under mixed precision, as autocast runs batch norm.
        x = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        domain = groups.domain
        if self.training:
            mean, var = self._batch_statistics(x, domain, groups.counts)
        else:
            mean, var = self.running_mean, self.running_var
        scale = torch.rsqrt(var + self.eps)
        if self.weight is not None:
            scale = scale * self.weight
        out = (x - mean.index_select(0, domain)) * scale.index_select(0, domain)
        return out if self.bias is None else out + self.bias.index_select(0, domain)

    def _batch_statistics(
        self, x: torch.Tensor, domain: torch.Tensor, counts: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each domain's mean and (biased) variance; running ones where it has < 2 rows."""
        n = counts.to(x.dtype).unsqueeze(1)
        size = (self.n_groups, x.shape[1])
        mean = x.new_zeros(size).index_add(0, domain, x) / n.clamp(min=1)
        centred = x - mean.index_select(0, domain)
        var = x.new_zeros(size).index_add(0, domain, centred * centred) / n.clamp(min=1)
        from_batch = (counts > 1).unsqueeze(1)
        with torch.no_grad():
            m = self.momentum
            unbiased = var * (n / (n - 1).clamp(min=1))
            self.running_mean.copy_(
                torch.where(from_batch, (1 - m) * self.running_mean + m * mean, self.running_mean)
            )
            self.running_var.copy_(
                torch.where(from_batch, (1 - m) * self.running_var + m * unbiased, self.running_var)
            )
            self.num_batches_tracked.add_(from_batch.squeeze(1).long())
        return (
            torch.where(from_batch, mean, self.running_mean),
            torch.where(from_batch, var, self.running_var),
        )

    def _forward_one(self, x: torch.Tensor, group: int) -> torch.Tensor:
        """Every row with parameter set ``group``: :class:`BatchNorm`'s computation."""
        weight = None if self.weight is None else self.weight[group]
        bias = None if self.bias is None else self.bias[group]
        running_mean, running_var = self.running_mean[group], self.running_var[group]
        if not self.training or x.shape[0] <= 1:
            if x.shape[0] == 0:
                return x
            return F.batch_norm(x, running_mean, running_var, weight, bias, False, 0.0, self.eps)
        self.num_batches_tracked[group].add_(1)
        return F.batch_norm(
            x, running_mean, running_var, weight, bias, True, self.momentum, self.eps
        )
