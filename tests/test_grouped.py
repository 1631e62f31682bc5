"""Per-domain layers computed for every domain at once equal the per-domain module loop."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from sklearn_hamur.modules import (
    MLP,
    BatchNorm,
    DomainGroups,
    GroupedBatchNorm,
    GroupedLinear,
    GroupedMLP,
    make_backbone,
    segment_matmul,
)
from sklearn_hamur.modules.backbones import upgrade_state_dict

REFERENCE = Path(__file__).parent / "data" / "grouped_reference"


def _recorder():
    spec = importlib.util.spec_from_file_location("grouped_reference", REFERENCE / "make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RECORDER = _recorder()
RECORDED = torch.load(REFERENCE / "reference.pt")


@pytest.mark.parametrize("key", sorted(RECORDED))
def test_every_backbone_equals_the_per_domain_loop_it_replaced(key):
    """Same seed, same batches: the same logits in training and evaluation, after 3 SGD steps.

    ``reference.pt`` was recorded by the per-domain module loop (one module per domain,
    Python loop over the domains present). Identical logits after three optimizer steps
    mean identical forward passes, gradients and running statistics, including a batch
    with a one-row domain and an empty one, and an unknown domain at evaluation.
    """
    name, adapters = key.split("/")
    got = RECORDER.record(RECORDER.build(name, adapters))
    expected = RECORDED[key]
    if adapters == "shared":
        # One shared adapter set: its norm now normalizes the whole batch at once (as the
        # reference implementation does); the loop normalized each domain's rows apart and
        # updated the one running average once per domain. The first step (identity
        # adapters) still agrees; training then differs by design.
        expected = {"train_logits_0": expected["train_logits_0"]}
    for part, value in expected.items():
        torch.testing.assert_close(got[part], value, atol=2e-5, rtol=1e-4, msg=part)


def _groups(counts):
    domain = torch.repeat_interleave(torch.arange(len(counts)), torch.tensor(counts))
    return DomainGroups(domain, n_domains=len(counts), counts=list(counts))


@pytest.mark.parametrize("d_in, d_out", [(5, 3), (8, 36), (16, 16), (7, 1)])
def test_grouped_linear_equals_one_linear_per_domain(d_in, d_out):
    torch.manual_seed(0)
    counts = [3, 0, 1, 5]
    layer = GroupedLinear(n_groups=4, d_in=d_in, d_out=d_out)
    x = torch.randn(sum(counts), d_in, requires_grad=True)
    out = layer(x, _groups(counts))
    chunks = x.split(counts)
    expected = torch.cat(
        [chunk @ layer.weight[d].T + layer.bias[d] for d, chunk in enumerate(chunks)]
    )
    torch.testing.assert_close(out, expected)
    # The gradient of a plain sum (an expanded, stride-0 gradient) reaches every domain
    # that has rows, and no other.
    out.sum().backward()
    assert layer.weight.grad is not None
    assert [bool(g.abs().sum() > 0) for g in layer.weight.grad] == [True, False, True, True]


def test_segment_matmul_handles_empty_batches_and_unaligned_widths():
    weight = torch.randn(3, 5, 7)
    empty = segment_matmul(torch.randn(0, 5), weight, _groups([0, 0, 0]))
    assert empty.shape == (0, 7)
    x = torch.randn(6, 5)
    out = segment_matmul(x, weight, _groups([2, 2, 2]))
    expected = torch.cat([c @ w for c, w in zip(x.split(2), weight)])
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("training", [True, False])
def test_grouped_batch_norm_equals_one_batch_norm_per_domain(training):
    torch.manual_seed(0)
    counts = [4, 1, 0, 6]
    grouped = GroupedBatchNorm(n_groups=4, d=3).train(training)
    with torch.no_grad():
        grouped.weight.normal_()
        grouped.bias.normal_()
        grouped.running_mean.normal_()
        grouped.running_var.uniform_(0.5, 2.0)
    singles = []
    for d in range(4):
        norm = BatchNorm(3).train(training)
        norm.load_state_dict({k: v[d] for k, v in grouped.state_dict().items()})
        singles.append(norm)
    x = 3 * torch.randn(sum(counts), 3) + 1
    out = grouped(x, _groups(counts))
    expected = torch.cat([singles[d](chunk) for d, chunk in enumerate(x.split(counts))])
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    for d, single in enumerate(singles):
        torch.testing.assert_close(grouped.running_mean[d], single.running_mean)
        torch.testing.assert_close(grouped.running_var[d], single.running_var)
        assert grouped.num_batches_tracked[d] == single.num_batches_tracked


def test_grouped_mlp_draws_the_same_towers_as_a_list_of_mlps():
    torch.manual_seed(3)
    grouped = GroupedMLP(n_groups=3, d_in=6, d_hidden=[5, 4], d_out=1, dropout=0.0)
    after_grouped = torch.rand(1)
    torch.manual_seed(3)
    towers = [MLP(d_in=6, d_hidden=[5, 4], d_out=1, dropout=0.0) for _ in range(3)]
    assert torch.equal(after_grouped, torch.rand(1))  # the same number of random draws
    for d, tower in enumerate(towers):
        assert torch.equal(grouped.blocks[0].linear.weight[d], tower.blocks[0].linear.weight)
        assert torch.equal(grouped.head.bias[d], tower.head.bias)


def per_domain_layout(state, containers):
    """``state`` as the per-domain modules stored it: ``<container>.<d>.<rest>``."""
    old = {}
    for key, value in state.items():
        parts = key.split(".")
        cut = next((i + 1 for i, part in enumerate(parts) if part in containers), None)
        if cut is None:
            old[key] = value.clone()
            continue
        for d in range(value.shape[0]):
            old[".".join([*parts[:cut], str(d), *parts[cut:]])] = value[d].clone()
    return old


def test_old_per_domain_state_dicts_load_into_the_stacked_layout():
    """A state dict of the per-domain layout (old files, checkpoints) is stacked on load."""
    state = RECORDER.build("ple", "two").state_dict()
    old = per_domain_layout(state, {"towers", "adapters", "specific_experts", "gates"})
    assert "towers.2.blocks.0.linear.weight" in old
    assert "levels.0.specific_experts.3.1.blocks.0.norm.running_mean" in old
    fresh = RECORDER.build("ple", "two")
    with torch.no_grad():
        for parameter in fresh.parameters():
            parameter.zero_()
    keys_before = set(old)
    fresh.load_state_dict(old)
    assert set(old) == keys_before  # the caller's dict is not modified
    for key, value in fresh.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert upgrade_state_dict(state, state).keys() == state.keys()


def test_unknown_domain_rows_average_every_domain_in_one_pass():
    torch.manual_seed(0)
    model = make_backbone(
        "mlp",
        cardinalities=[5],
        n_numeric=1,
        n_domains=3,
        d_embedding=2,
        d_hidden=(4,),
        dropout=0.0,
    ).eval()
    x_cat, x_num = torch.tensor([[1], [2]]), torch.randn(2, 1)
    with torch.no_grad():
        unknown = model(x_cat, x_num, torch.tensor([-1, 1]))
        every = torch.stack([model(x_cat[:1], x_num[:1], torch.tensor([d])) for d in range(3)])
    expected = torch.logit(torch.sigmoid(every).mean(0), eps=1e-7)
    torch.testing.assert_close(unknown[:1], expected, atol=1e-6, rtol=1e-6)


def test_the_segment_loop_fallback_equals_grouped_mm(monkeypatch):
    """Where grouped_mm is missing or does not cover a device / dtype, the loop gives the same."""
    from sklearn_hamur.modules import grouped

    torch.manual_seed(0)
    x, weight = torch.randn(9, 6), torch.randn(3, 6, 4)
    groups = _groups([4, 0, 5])
    fast = segment_matmul(x, weight, groups)
    monkeypatch.setattr(grouped, "_SUPPORTED", {("cpu", torch.float32): False})
    torch.testing.assert_close(segment_matmul(x, weight, groups), fast)
    assert not grouped.grouped_mm_supported(torch.device("cpu"), torch.float32)


@pytest.mark.parametrize("name", ["mlp", "ple", "star", "shared_mlp"])
def test_a_batch_of_one_domain_takes_that_domains_layers_directly(name):
    """All rows of one domain: the plain-layer path gives what the grouped path gives."""
    torch.manual_seed(0)
    x_cat, x_num, domain, _ = RECORDER.batch(5, 12, [2])
    model = RECORDER.build(name, "two")
    groups = DomainGroups(domain, n_domains=RECORDER.N_DOMAINS)
    assert groups.single == 2
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.train()
    direct = model(x_cat, x_num, domain)  # CPU batch of one domain: the direct path
    after_direct = {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    counts = [0, 0, 12, 0]  # given counts of a sorted batch, but grouped on purpose:
    grouped_groups = DomainGroups(domain, n_domains=RECORDER.N_DOMAINS, counts=counts)
    grouped_groups.single = None
    from unittest import mock

    with mock.patch(
        "sklearn_hamur.modules.backbones.base.DomainGroups", return_value=grouped_groups
    ):
        grouped = model(x_cat, x_num, domain)
    torch.testing.assert_close(direct, grouped, atol=1e-5, rtol=1e-5)
    for key, value in model.state_dict().items():  # running statistics updated alike
        torch.testing.assert_close(value, after_direct[key], atol=1e-6, rtol=1e-5, msg=key)
