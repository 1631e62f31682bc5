"""Embeddings of the categorical fields, concatenated with the numeric fields."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def field_offsets(cardinalities: Sequence[int]) -> torch.Tensor:
    """Where each field's ids start in a table shared by all fields: ``[0, c0, c0 + c1, ...]``.

    Parameters
    ----------
    cardinalities : sequence of int
        Vocabulary size of each categorical field.

    Returns
    -------
    torch.Tensor of shape (len(cardinalities),)
        The int64 offset of each field's first id.

    Examples
    --------
    >>> field_offsets([5, 7, 2])
    tensor([ 0,  5, 12])
    """
    cardinalities = [int(c) for c in cardinalities]
    offsets = torch.tensor([0, *cardinalities[:-1]], dtype=torch.int64).cumsum(0)
    return offsets[: len(cardinalities)]


class FeatureEmbedding(nn.Module):
    """Look up one embedding per categorical field and append the numeric values.

    All fields share one table, addressed through per-field offsets, so the lookup is a
    single gather whatever the number of fields.

    Parameters
    ----------
    cardinalities : sequence of int
        Vocabulary size of each categorical field (including the reserved indices
        for padding, unknown and missing values).
    d_embedding : int
        Width of each field's embedding.
    n_numeric : int
        Number of numeric fields, used as values.

    Attributes
    ----------
    d_out : int
        Width of the output, ``len(cardinalities) * d_embedding + n_numeric``.

    See Also
    --------
    sklearn_hamur.MultiDomainEncoder : Encodes a DataFrame into ``x_cat`` and ``x_num``.
    sklearn_hamur.modules.MultiDomainMLP : A model built on this embedding.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import FeatureEmbedding
    >>> emb = FeatureEmbedding(cardinalities=[5, 7], d_embedding=4, n_numeric=3)
    >>> emb(torch.tensor([[1, 6]]), torch.zeros(1, 3)).shape
    torch.Size([1, 11])
    """

    offsets: torch.Tensor

    def __init__(self, *, cardinalities: Sequence[int], d_embedding: int, n_numeric: int) -> None:
        super().__init__()
        cardinalities = [int(c) for c in cardinalities]
        self.register_buffer("offsets", field_offsets(cardinalities), persistent=False)
        self.n_categorical = len(cardinalities)
        self.n_numeric = n_numeric
        self.d_out = self.n_categorical * d_embedding + n_numeric
        self.embedding = nn.Embedding(max(sum(cardinalities), 1), d_embedding)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw new embeddings from a normal distribution with standard deviation 0.01."""
        # Small random vectors (the reference's torch-rechub layer uses a similar scale);
        # the normalized blocks after it make the exact scale unimportant.
        nn.init.normal_(self.embedding.weight, std=0.01)

    def forward(self, x_cat: torch.Tensor, x_num: torch.Tensor) -> torch.Tensor:
        """Concatenate the embeddings of every categorical field and the numeric values.

        Parameters
        ----------
        x_cat : torch.Tensor of shape (n, len(cardinalities))
            Integer indices, local to each field (``0 .. cardinalities[j] - 1``).
        x_num : torch.Tensor of shape (n, n_numeric)
            Numeric values, float32.

        Returns
        -------
        torch.Tensor of shape (n, d_out)
            Field ``j``'s embedding in columns ``j * d_embedding`` onwards, then the
            numeric values.
        """
        parts = []
        if self.n_categorical:
            parts.append(self.embedding(x_cat + self.offsets).flatten(1))
        if self.n_numeric:
            parts.append(x_num)
        return torch.cat(parts, dim=1)
