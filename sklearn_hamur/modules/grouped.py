"""Layers with one parameter set per domain, computed for every domain at once.

Rows arrive sorted by domain (:class:`~sklearn_hamur.modules.DomainGroups`), so each
domain's rows are one segment of consecutive rows. A per-domain matrix product is then a
grouped matrix multiply over those segments (:func:`segment_matmul`), and a per-domain
vector (a bias, a one-output head) is gathered per row: the number of kernels a batch
launches does not depend on the number of domains.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .routing import DomainGroups, is_compiling

#: torch's grouped matrix multiply over row segments (torch >= 2.10), or None.
_GROUPED_MM = getattr(F, "grouped_mm", None) or getattr(torch, "_grouped_mm", None)
#: grouped_mm wants every stride a multiple of 16 bytes.
_ALIGNMENT_BYTES = 16


def _autocast_dtype(device_type: str) -> torch.dtype | None:
    """The dtype autocast runs matrix products in on ``device_type``, or None when it is off."""
    try:
        if torch.is_autocast_enabled(device_type):
            return torch.get_autocast_dtype(device_type)
        return None
    except (TypeError, AttributeError):  # torch < 2.4
        if device_type == "cpu":
            return torch.get_autocast_cpu_dtype() if torch.is_autocast_cpu_enabled() else None
        return torch.get_autocast_gpu_dtype() if torch.is_autocast_enabled() else None


def _contiguous_grad(grad: torch.Tensor) -> torch.Tensor:
    # grouped_mm's backward rejects an expanded (stride-0) gradient, as ``y.sum()`` gives.
    return grad.contiguous()


def _padded_to_alignment(x: torch.Tensor, weight: torch.Tensor):
    """``x`` and ``weight`` zero-padded so every stride is 16-byte aligned (copies if needed)."""
    align = _ALIGNMENT_BYTES // x.element_size()
    d_in, d_out = weight.shape[1:]
    pad_in, pad_out = -d_in % align, -d_out % align
    if pad_in or x.stride(-1) != 1 or x.stride(0) % align:
        x = F.pad(x, (0, pad_in))
    if pad_in or pad_out or any(s % align for s in weight.stride() if s != 1):
        weight = F.pad(weight, (0, pad_out, 0, pad_in))
    return x, weight, d_out


_SUPPORTED: dict[tuple[str, torch.dtype], bool] = {}


def grouped_mm_supported(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether torch's grouped_mm runs (forward and backward) on ``device`` for ``dtype``.

    Tried once per device type and dtype on a tiny problem, then remembered: builds and
    devices differ in what they cover (some CUDA builds only bf16 on recent GPUs).
    """
    key = (device.type, dtype)
    if key not in _SUPPORTED:
        _SUPPORTED[key] = _try_grouped_mm(device, dtype)
    return _SUPPORTED[key]


def _try_grouped_mm(device: torch.device, dtype: torch.dtype) -> bool:
    if _GROUPED_MM is None or device.type == "meta":
        return False
    try:
        with torch.enable_grad():
            x = torch.ones(4, 8, device=device, dtype=dtype, requires_grad=True)
            w = torch.ones(2, 8, 8, device=device, dtype=dtype, requires_grad=True)
            offs = torch.tensor([1, 4], device=device, dtype=torch.int32)
            y = _GROUPED_MM(x, w, offs=offs)
            y.float().square().sum().backward()
        return bool(torch.isfinite(y.float()).all())
    except (RuntimeError, NotImplementedError, TypeError):
        return False


def segment_matmul(
    x: torch.Tensor, weight: torch.Tensor, groups: DomainGroups | None
) -> torch.Tensor:
    """Row-wise ``x[i] @ weight[domain[i]]`` for rows sorted by domain.

    One call of torch's grouped matrix multiply (``torch.nn.functional.grouped_mm``)
    over the domains' segments of rows, with the widths zero-padded to its 16-byte
    alignment where needed; a single parameter set is one plain matrix product. On a
    torch without grouped_mm each segment is multiplied in turn.

    Parameters
    ----------
    x : torch.Tensor of shape (n, d_in)
        Rows sorted by domain.
    weight : torch.Tensor of shape (n_groups, d_in, d_out)
        One matrix per domain (``n_groups == groups.n_domains``), or one for all
        (``n_groups == 1``).
    groups : DomainGroups or None
        The batch's segments (``None`` is enough for ``n_groups == 1``).

    Returns
    -------
    torch.Tensor of shape (n, d_out)
        Each row times its domain's matrix.

    See Also
    --------
    sklearn_hamur.modules.GroupedLinear : A linear layer per domain built on it.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import DomainGroups, segment_matmul
    >>> groups = DomainGroups(torch.tensor([0, 1, 1]), n_domains=2)
    >>> weight = torch.stack([torch.eye(2), 2 * torch.eye(2)])
    >>> segment_matmul(torch.ones(3, 2), weight, groups).tolist()
    [[1.0, 1.0], [2.0, 2.0], [2.0, 2.0]]
    """
    if weight.shape[0] == 1:
        return x @ weight[0]
    assert groups is not None, "one weight per domain needs the batch's DomainGroups"
    if groups.single is not None:  # every row of one domain: that domain's matrix
        return x @ weight[groups.single]
    # grouped_mm is not one of autocast's ops: cast as autocast casts a matrix product.
    dtype = _autocast_dtype(x.device.type) or x.dtype
    x, weight = x.to(dtype), weight.to(dtype)
    if not groups.rows_sorted:  # export_formulation: rows in any order
        return every_domain_matmul(x, weight, groups.domain)
    # Under torch.compile, grouped_mm's fake-tensor kernel takes bfloat16 only (torch 2.13)
    # although the eager CPU kernel takes float32: compiled code loops instead.
    compiling = is_compiling() and x.dtype != torch.bfloat16
    if compiling or not grouped_mm_supported(x.device, x.dtype):
        # torch < 2.10, or a device / dtype its grouped_mm does not cover: a loop over the
        # domains' segments (one host synchronisation for their sizes).
        chunks = x.split(groups.counts.tolist())
        return torch.cat([chunk @ w for chunk, w in zip(chunks, weight.unbind(0))])
    x_aligned, weight_aligned, d_out = _padded_to_alignment(x, weight)
    assert _GROUPED_MM is not None and groups is not None
    y = _GROUPED_MM(x_aligned, weight_aligned, offs=groups.offsets)
    if y.requires_grad:
        y.register_hook(_contiguous_grad)
    return y if y.shape[1] == d_out else y[:, :d_out]


def every_domain_matmul(
    x: torch.Tensor, weight: torch.Tensor, domain: torch.Tensor
) -> torch.Tensor:
    """Row-wise ``x[i] @ weight[domain[i]]`` for rows in any order: every domain's, then one.

    One matrix product of each row with every domain's matrix side by side, then a
    gather of the row's own domain's product: ``n_groups`` times the arithmetic of
    :func:`segment_matmul`, but no sort, no grouped matrix multiply and no shape that
    depends on the data, so it traces into an ONNX graph. ``segment_matmul`` uses it
    inside :func:`~sklearn_hamur.modules.export_formulation`.

    Parameters
    ----------
    x : torch.Tensor of shape (n, d_in)
        Rows in any order.
    weight : torch.Tensor of shape (n_groups, d_in, d_out)
        One matrix per domain.
    domain : torch.Tensor of shape (n,)
        Each row's domain, in ``0..n_groups-1``.

    Returns
    -------
    torch.Tensor of shape (n, d_out)
        Each row times its domain's matrix.

    See Also
    --------
    segment_matmul : The same product on rows sorted by domain.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules.grouped import every_domain_matmul
    >>> weight = torch.stack([torch.eye(2), 2 * torch.eye(2)])
    >>> every_domain_matmul(torch.ones(3, 2), weight, torch.tensor([1, 0, 1])).tolist()
    [[2.0, 2.0], [1.0, 1.0], [2.0, 2.0]]
    """
    n_groups, d_in, d_out = weight.shape
    side_by_side = weight.transpose(0, 1).reshape(d_in, n_groups * d_out)
    # Row i's products with every domain are rows i * n_groups .. of the flat view: one
    # row gather (no index of the output's size to build). The positions come from the
    # data, not from x.shape, which a trace may fix to the example's size.
    every = (x @ side_by_side).view(-1, d_out)
    position = torch.ones_like(domain).cumsum(0) - 1
    rows = position * n_groups + domain
    return every.index_select(0, rows)


def grouped_linear(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, groups: DomainGroups
) -> torch.Tensor:
    """``x[i] @ weight[d].T + bias[d]`` for row ``i`` of domain ``d``, rows sorted by domain.

    Parameters
    ----------
    x : torch.Tensor of shape (n, d_in)
        Rows sorted by domain.
    weight : torch.Tensor of shape (n_groups, d_out, d_in)
        One :class:`torch.nn.Linear`-layout weight per domain, or one for all.
    bias : torch.Tensor of shape (n_groups, d_out)
        One bias per domain, or one for all.
    groups : DomainGroups
        The batch's segments.

    Returns
    -------
    torch.Tensor of shape (n, d_out)
        The outputs, in the rows' (sorted) order.

    See Also
    --------
    sklearn_hamur.modules.GroupedLinear : The layer holding such a weight and bias.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import DomainGroups, grouped_linear
    >>> groups = DomainGroups(torch.tensor([0, 1]), n_domains=2)
    >>> weight, bias = torch.ones(2, 1, 3), torch.tensor([[0.0], [10.0]])
    >>> grouped_linear(torch.ones(2, 3), weight, bias, groups).tolist()
    [[3.0], [13.0]]
    """
    if weight.shape[0] == 1:
        return F.linear(x, weight[0], bias[0])
    if groups.single is not None:  # every row of one domain: that domain's layer
        return F.linear(x, weight[groups.single], bias[groups.single])
    per_row_bias = bias.index_select(0, groups.domain)
    if weight.shape[1] == 1:
        # A head: one weight vector per row, gathered, is cheaper than a grouped product.
        per_row_weight = weight[:, 0].index_select(0, groups.domain)
        return (x * per_row_weight).sum(1, keepdim=True) + per_row_bias
    return segment_matmul(x, weight.transpose(-2, -1), groups) + per_row_bias


class GroupedLinear(nn.Module):
    """One linear layer per domain, every domain's rows computed at once.

    ``y[i] = x[i] @ W[d].T + b[d]`` for row ``i`` of domain ``d``. The weights are stored
    stacked, ``(n_groups, d_out, d_in)`` (each slice laid out as
    :class:`torch.nn.Linear`'s weight), and slice ``d`` starts as ``nn.Linear(d_in, d_out)``
    would. A one-output layer (a head) multiplies each row by its domain's gathered
    weight vector; wider ones use :func:`segment_matmul`.

    Parameters
    ----------
    n_groups : int
        Number of parameter sets: the number of domains, or 1 for one shared layer.
    d_in : int
        Input width.
    d_out : int
        Output width.

    See Also
    --------
    sklearn_hamur.modules.GroupedMLP : Per-domain MLP towers built from it.

    Examples
    --------
    >>> import torch
    >>> from sklearn_hamur.modules import DomainGroups, GroupedLinear
    >>> layer = GroupedLinear(n_groups=3, d_in=4, d_out=2)
    >>> groups = DomainGroups(torch.tensor([0, 2, 2]), n_domains=3)
    >>> layer(torch.randn(3, 4), groups).shape
    torch.Size([3, 2])
    """

    def __init__(self, *, n_groups: int, d_in: int, d_out: int) -> None:
        super().__init__()
        self.n_groups, self.d_in, self.d_out = n_groups, d_in, d_out
        self.weight = nn.Parameter(torch.empty(n_groups, d_out, d_in))
        self.bias = nn.Parameter(torch.empty(n_groups, d_out))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw every slice as :class:`torch.nn.Linear` draws its weight and bias."""
        for group in range(self.n_groups):
            self.reset_group(group)

    def reset_group(self, group: int) -> None:
        """Draw slice ``group`` as a fresh ``nn.Linear(d_in, d_out)`` (same random draws).

        Parameters
        ----------
        group : int
            The domain (index of the parameter set) to reset.
        """
        with torch.no_grad():
            weight, bias = self.weight[group], self.bias[group]
            nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
            bound = 1 / math.sqrt(self.d_in) if self.d_in > 0 else 0.0
            nn.init.uniform_(bias, -bound, bound)

    def forward(self, x: torch.Tensor, groups: DomainGroups) -> torch.Tensor:
        """Apply each row's domain's layer.

        Parameters
        ----------
        x : torch.Tensor of shape (n, d_in)
            Rows sorted by domain.
        groups : DomainGroups
            The batch's segments.

        Returns
        -------
        torch.Tensor of shape (n, d_out)
            The outputs, in the rows' (sorted) order.
        """
        return grouped_linear(x, self.weight, self.bias, groups)


__all__ = [
    "GroupedLinear",
    "every_domain_matmul",
    "grouped_linear",
    "grouped_mm_supported",
    "segment_matmul",
]
