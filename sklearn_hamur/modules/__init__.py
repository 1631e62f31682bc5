"""PyTorch modules of sklearn-hamur: each returns logits and is usable on its own."""

from .adapter import HyperAdapter
from .backbones import (
    BACKBONES,
    DCN,
    DCNV2,
    PLE,
    STAR,
    AdapterSpec,
    Backbone,
    DeepFM,
    MMoE,
    MultiDomainMLP,
    SharedBottom,
    SharedMLP,
    WideDeep,
    make_backbone,
)
from .embedding import FeatureEmbedding
from .grouped import GroupedLinear, every_domain_matmul, grouped_linear, segment_matmul
from .hypernetwork import HyperNetwork
from .mlp import MLP, GroupedMLP
from .norm import BatchNorm, GroupedBatchNorm
from .offset import LinearOffset
from .routing import UNKNOWN_DOMAIN, DomainGroups, average_unknown_domains, export_formulation

__all__ = [
    "BACKBONES",
    "AdapterSpec",
    "Backbone",
    "DCN",
    "DCNV2",
    "PLE",
    "STAR",
    "DeepFM",
    "MMoE",
    "SharedBottom",
    "SharedMLP",
    "WideDeep",
    "make_backbone",
    "BatchNorm",
    "FeatureEmbedding",
    "GroupedBatchNorm",
    "GroupedLinear",
    "GroupedMLP",
    "HyperAdapter",
    "HyperNetwork",
    "LinearOffset",
    "MLP",
    "MultiDomainMLP",
    "UNKNOWN_DOMAIN",
    "DomainGroups",
    "average_unknown_domains",
    "every_domain_matmul",
    "export_formulation",
    "grouped_linear",
    "segment_matmul",
]
