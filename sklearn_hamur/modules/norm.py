"""Batch normalization that stays defined for one-row batches."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


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
