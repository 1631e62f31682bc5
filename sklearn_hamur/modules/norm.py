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

    Shape
    -----
    - Input: ``(n, d_in)``
    - Output: ``(n, d_in)``

    Examples
    --------
    >>> norm = BatchNorm(4).train()
    >>> norm(torch.randn(1, 4)).shape
    torch.Size([1, 4])
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and x.shape[0] <= 1:
            if x.shape[0] == 0:
                return x
            # NOTE[DIFF]: the reference's norm uses the batch's own statistics and gives
            # NaN for a single row; running statistics keep it finite.
            return F.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
            )
        return super().forward(x)
