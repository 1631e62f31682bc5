"""A reproduction of the reference HAMUR implementation's *pattern*, for speed comparison only.

Benchmark-only code: the package never imports it. It mirrors how the reference
implementation (``MLP_adap_2_layer_1_adp``, PyTorch on Torch-RecHub) computes a batch,
with the same widths as :class:`sklearn_hamur.modules.MultiDomainMLP`, so that
``benchmarks/speed.py`` can measure what our routing and factorised adapter save.
It is *not* a faithful copy of the reference model and is not meant to be trained for
accuracy. What it keeps from the reference (the things that cost time and memory):

- every domain's tower runs on the **whole batch**; each row's output is picked
  afterwards with ``torch.where`` per domain, so the work grows linearly with the number
  of domains;
- the hyper-network also runs on the whole batch, and (as in the reference's MLP
  variant) once per domain, inside the domain loop (``hypernetwork_per_domain=True``;
  ``False`` runs it once per batch, as the reference's Wide & Deep variant does);
- the adapter materialises the per-row weights ``W = U @ S @ V`` as a
  ``(batch, m, s)`` tensor with ``einsum``, then applies them with a second ``einsum``;
- ``U``, ``V``, the adapter biases and the "domain norm" are shared by all domains;
  the norm, like the towers' ``BatchNorm1d``, uses the whole mixed-domain batch's
  statistics (the domain norm keeps no running statistics);
- one ``nn.Embedding`` per categorical field (Torch-RecHub's ``EmbeddingLayer``), and the
  hyper-network's last layer is Linear-BatchNorm-ReLU like its hidden ones.

Departures from the reference, chosen so that the comparison isolates the pattern:

- the module returns logits (the reference returns probabilities and trains with
  ``BCELoss``), so both models train with the same ``BCEWithLogitsLoss``;
- each tower block has the same Dropout as ours (the reference's MLP variant has none);
- ``U`` and ``V`` start Gaussian, as ours do, instead of all ones (with all ones the
  generated weights overflow; the cost of a step does not depend on the values).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def _block(d_in: int, d_out: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(d_in, d_out), nn.BatchNorm1d(d_out), nn.ReLU(), nn.Dropout(dropout)
    )


class NaiveHAMUR(nn.Module):
    """HAMUR on a per-domain MLP backbone, computed the way the reference does.

    One adapter after the last hidden block of each tower (the reference's MovieLens
    setting), shared by all domains.

    Parameters
    ----------
    cardinalities : sequence of int
        Vocabulary size of each categorical field.
    n_domains : int
        Number of domains (towers).
    d_embedding : int
        Embedding width per field.
    d_hidden : sequence of int
        Hidden widths of each tower.
    dropout : float
        Dropout rate in the towers.
    adapter_rank : int
        ``k``, side of the instance matrix.
    d_adapter : int
        Bottleneck width ``s`` of the adapter (the reference hard-codes 32).
    d_hyper_hidden : sequence of int
        Hidden widths of the hyper-network.
    hypernetwork_per_domain : bool
        Run the hyper-network once per domain (reference MLP variant) instead of once.

    Shape
    -----
    - ``x_cat``: ``(n, len(cardinalities))`` int64; ``x_num``: ignored (no numeric
      fields); ``domain``: ``(n,)`` int64
    - Output: ``(n,)`` logits

    Examples
    --------
    >>> model = NaiveHAMUR(cardinalities=[5, 7], n_domains=2, d_hidden=[8, 4], d_adapter=3,
    ...                    adapter_rank=2, d_hyper_hidden=[4], dropout=0.0)
    >>> model(torch.tensor([[1, 2], [3, 4]]), None, torch.tensor([0, 1])).shape
    torch.Size([2])
    """

    def __init__(
        self,
        *,
        cardinalities: Sequence[int],
        n_domains: int,
        d_embedding: int = 16,
        d_hidden: Sequence[int] = (256, 128),
        dropout: float = 0.2,
        adapter_rank: int = 35,
        d_adapter: int = 32,
        d_hyper_hidden: Sequence[int] = (64,),
        hypernetwork_per_domain: bool = True,
    ) -> None:
        super().__init__()
        self.n_domains = n_domains
        self.rank = adapter_rank
        self.hypernetwork_per_domain = hypernetwork_per_domain
        self.eps = 1e-5
        self.embeddings = nn.ModuleList(nn.Embedding(c, d_embedding) for c in cardinalities)
        d_in = len(cardinalities) * d_embedding
        widths = [d_in, *d_hidden]
        self.towers = nn.ModuleList(
            nn.ModuleDict(
                {
                    "blocks": nn.Sequential(
                        *(_block(a, b, dropout) for a, b in zip(widths, widths[1:]))
                    ),
                    "head": nn.Linear(widths[-1], 1),
                }
            )
            for _ in range(n_domains)
        )
        # The reference appends k*k to the hidden widths: every layer is Linear-BN-ReLU.
        hyper_widths = [d_in, *d_hyper_hidden, adapter_rank * adapter_rank]
        self.hypernetwork = nn.Sequential(
            *(_block(a, b, 0.0) for a, b in zip(hyper_widths, hyper_widths[1:]))
        )
        m, s, k = widths[-1], d_adapter, adapter_rank
        self.u_down = nn.Parameter(torch.randn(m, k) / math.sqrt(m))
        self.v_down = nn.Parameter(torch.randn(k, s) / math.sqrt(k))
        self.u_up = nn.Parameter(torch.randn(s, k) / math.sqrt(s))
        self.v_up = nn.Parameter(torch.randn(k, m) / math.sqrt(k))
        self.bias_down = nn.Parameter(torch.zeros(s))
        self.bias_up = nn.Parameter(torch.zeros(m))
        self.norm_weight = nn.Parameter(torch.ones(m))
        self.norm_bias = nn.Parameter(torch.zeros(m))

    def _instance_matrix(self, e: torch.Tensor) -> torch.Tensor:
        return self.hypernetwork(e).reshape(-1, self.rank, self.rank)

    def _adapter(self, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        w_down = torch.einsum("mi,bij,jn->bmn", self.u_down, s, self.v_down)  # (n, m, s)
        z = torch.sigmoid(torch.einsum("bf,bfj->bj", h, w_down) + self.bias_down)
        w_up = torch.einsum("mi,bij,jn->bmn", self.u_up, s, self.v_up)  # (n, s, m)
        o = torch.einsum("bf,bfj->bj", z, w_up) + self.bias_up
        # "Domain norm": the whole mixed-domain batch's statistics, no running statistics.
        o = (o - o.mean(dim=0)) / torch.sqrt(o.var(dim=0) + self.eps)
        return h + self.norm_weight * o + self.norm_bias

    def forward(
        self, x_cat: torch.Tensor, x_num: torch.Tensor | None, domain: torch.Tensor
    ) -> torch.Tensor:
        e = torch.cat([emb(x_cat[:, i]) for i, emb in enumerate(self.embeddings)], dim=1)
        s = None if self.hypernetwork_per_domain else self._instance_matrix(e)
        outputs = []
        for tower in self.towers:  # every tower on every row
            s_d = self._instance_matrix(e) if self.hypernetwork_per_domain else s
            h = self._adapter(tower["blocks"](e), s_d)
            outputs.append(tower["head"](h).squeeze(-1))
        logits = torch.zeros_like(outputs[0])
        for d, out in enumerate(outputs):
            logits = torch.where(domain == d, out, logits)
        return logits


__all__ = ["NaiveHAMUR"]
