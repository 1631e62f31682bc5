"""Every backbone, with and without HAMUR adapters: training, gradients, routing, state."""

import copy
import pickle

import pytest
import torch
import torch.nn.functional as F

from sklearn_hamur.modules import UNKNOWN_DOMAIN, DomainGroups, HyperAdapter
from sklearn_hamur.modules.backbones import BACKBONES, AdapterSpec, make_backbone

N_DOMAINS = 3

COMMON = dict(
    cardinalities=[10, 7],
    n_numeric=2,
    n_domains=N_DOMAINS,
    d_embedding=4,
)
# The adapter options of every model with adapters.
ADAPTER = dict(rank=3, d_bottleneck=4, d_hyper_hidden=(6,))

# Tiny widths; two hidden layers where the adapters go, so n_adapters can be 0, 1 or 2.
OWN = {
    "shared_mlp": dict(d_hidden=(8, 8), dropout=0.1),
    "mlp": dict(d_hidden=(8, 8), dropout=0.1),
    "wide_deep": dict(d_hidden=(8, 8), dropout=0.1),
    "dcn": dict(n_cross_layers=2, d_hidden=(8, 8), dropout=0.1),
    "dcn_v2": dict(n_cross_layers=2, d_hidden=(8, 8), dropout=0.1),
    "deepfm": dict(d_hidden=(8, 8), dropout=0.1),
    "shared_bottom": dict(d_bottom=(8,), d_tower=(8, 8), dropout=0.1),
    "mmoe": dict(n_experts=2, d_expert=(8,), d_tower=(8, 8), dropout=0.1),
    "ple": dict(
        n_levels=2,
        n_shared_experts=1,
        n_specific_experts=1,
        d_expert=(8,),
        d_tower=(8, 8),
        dropout=0.1,
    ),
    "star": dict(d_hidden=(8, 8), d_auxiliary=(4,), dropout=0.1),
}

NAMES = list(BACKBONES)
CASES = [(name, n_adapters) for name in NAMES for n_adapters in (0, 1)]


def make_model(name, n_adapters=1, seed=0, share_adapters=False, **overrides):
    torch.manual_seed(seed)
    adapters = AdapterSpec(n_adapters=n_adapters, shared=share_adapters, **ADAPTER)
    return make_backbone(name, **{**COMMON, **OWN[name], "adapters": adapters, **overrides})


def make_batch(n=96, seed=0):
    """Rows of every domain whose label depends on the domain."""
    g = torch.Generator().manual_seed(seed)
    x_cat = torch.stack(
        [torch.randint(0, 10, (n,), generator=g), torch.randint(0, 7, (n,), generator=g)], 1
    )
    x_num = torch.randn(n, 2, generator=g)
    domain = torch.arange(n) % N_DOMAINS
    sign = 1.0 - 2.0 * (domain % 2)
    logit = 2.0 * sign * x_num[:, 0] + (x_cat[:, 0] % 3 - 1).float()
    return x_cat, x_num, domain, (logit > 0).float()


def train(model, batch, steps, lr=0.02):
    x_cat, x_num, domain, y = batch
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        F.binary_cross_entropy_with_logits(model(x_cat, x_num, domain), y).backward()
        optimizer.step()
    return model.eval()


def eval_loss(model, batch):
    x_cat, x_num, domain, y = batch
    with torch.no_grad():
        return F.binary_cross_entropy_with_logits(model.eval()(x_cat, x_num, domain), y).item()


def test_every_backbone_is_tested():
    assert set(OWN) == set(BACKBONES)
    assert set(BACKBONES) == {
        "shared_mlp",
        "mlp",
        "wide_deep",
        "dcn",
        "dcn_v2",
        "deepfm",
        "shared_bottom",
        "mmoe",
        "ple",
        "star",
    }


@pytest.mark.parametrize("name, n_adapters", CASES)
def test_training_lowers_the_loss(name, n_adapters):
    model = make_model(name, n_adapters)
    batch = make_batch()
    before = eval_loss(model, batch)
    after = eval_loss(train(model, batch, steps=30), batch)
    assert after < 0.5 * before, (before, after)


@pytest.mark.parametrize("name, n_adapters", CASES)
def test_gradients_reach_every_parameter(name, n_adapters):
    model = make_model(name, n_adapters)
    x_cat, x_num, domain, y = make_batch()
    names = [n for n, _ in model.named_parameters()]
    if n_adapters:
        assert any(n.startswith("hypernetwork.") for n in names)
        assert any(n.endswith("u_down") for n in names)
    if n_adapters:  # identity-initialised adapters: one step, then every part is live
        train(model, (x_cat, x_num, domain, y), steps=1)
    # Training mode: every parameter is used. (A linear bias right before a batch norm
    # gets no gradient from batch statistics, so non-zero is checked in evaluation mode.)
    F.binary_cross_entropy_with_logits(model.train()(x_cat, x_num, domain), y).backward()
    for n, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), n
    model.zero_grad(set_to_none=True)
    F.binary_cross_entropy_with_logits(model.eval()(x_cat, x_num, domain), y).backward()
    for n, param in model.named_parameters():
        assert param.grad is not None and torch.count_nonzero(param.grad) > 0, n


@pytest.mark.parametrize("name, n_adapters", CASES)
def test_eval_prediction_does_not_depend_on_the_batch(name, n_adapters):
    batch = make_batch()
    model = train(make_model(name, n_adapters), batch, steps=3)
    x_cat, x_num, domain, _ = batch
    rows = range(0, 96, 7)
    with torch.no_grad():
        together = model(x_cat, x_num, domain)
        alone = torch.cat(
            [model(x_cat[i : i + 1], x_num[i : i + 1], domain[i : i + 1]) for i in rows]
        )
        # A batch in which domain 1 is absent, rows not sorted by domain.
        keep = torch.nonzero(domain != 1).squeeze(1).flip(0)
        without_one = model(x_cat[keep], x_num[keep], domain[keep])
    torch.testing.assert_close(alone, together[list(rows)], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(without_one, together[keep], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name, n_adapters", CASES)
def test_one_row_training_batch_is_finite(name, n_adapters):
    model = make_model(name, n_adapters).train()
    x_cat, x_num, domain, y = make_batch(n=1)
    out = model(x_cat, x_num, domain)
    F.binary_cross_entropy_with_logits(out, y).backward()
    assert out.shape == (1,) and torch.isfinite(out).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("name, n_adapters", CASES)
def test_pickle_and_deepcopy_round_trip(name, n_adapters):
    batch = make_batch()
    model = train(make_model(name, n_adapters), batch, steps=2)
    x_cat, x_num, domain, _ = batch
    with torch.no_grad():
        expected = model(x_cat, x_num, domain)
        for other in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model)):
            assert torch.equal(other(x_cat, x_num, domain), expected)


@pytest.mark.parametrize("name, n_adapters", CASES)
def test_unknown_domain_gets_mean_probability_of_all_domains(name, n_adapters):
    model = make_model(name, n_adapters).eval()
    x_cat, x_num, domain, _ = make_batch(n=8)
    domain = domain.clone()
    domain[::3] = UNKNOWN_DOMAIN
    unknown = domain == UNKNOWN_DOMAIN
    with torch.no_grad():
        out = model(x_cat, x_num, domain)
        per_domain = torch.stack(
            [model(x_cat, x_num, torch.full_like(domain, d)) for d in range(N_DOMAINS)]
        )
        known = model(x_cat[~unknown], x_num[~unknown], domain[~unknown])
    expected = torch.logit(torch.sigmoid(per_domain).mean(0), eps=1e-7)
    torch.testing.assert_close(out[unknown], expected[unknown], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out[~unknown], known, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_hamur_adds_exactly_adapters_and_hypernetwork_parameters(name):
    backbone = dict(make_model(name, n_adapters=0).named_parameters())
    hamur = dict(make_model(name, n_adapters=2).named_parameters())
    extra = set(hamur) - set(backbone)
    assert set(backbone) <= set(hamur)
    assert extra and all(n.startswith(("hypernetwork.", "adapters.")) for n in extra)
    # Same seed: the backbone's own parameters start identical with and without HAMUR.
    for n, param in backbone.items():
        assert torch.equal(param, hamur[n]), n
    # Domain-specific by default: one adapter set per domain and adapted layer.
    assert [hamur[n].shape[0] for n in sorted(extra) if n.endswith("u_down")] == [N_DOMAINS] * 2
    shared = dict(make_model(name, n_adapters=2, share_adapters=True).named_parameters())
    assert sum(1 for n in shared if n.endswith("u_down")) == 2


@pytest.mark.parametrize("name", NAMES)
def test_too_many_adapters_is_rejected(name):
    with pytest.raises(ValueError, match="n_adapters must be in"):
        make_model(name, n_adapters=3)


@pytest.mark.parametrize("name", ["dnc", "", "MLP", None])
def test_unknown_backbone_lists_the_valid_names(name):
    with pytest.raises(ValueError, match="Unknown backbone") as info:
        make_backbone(name, **COMMON)
    for valid in BACKBONES:
        assert repr(valid) in str(info.value)


def test_star_domain_weights_are_shared_times_domain():
    model = make_model("star", n_adapters=0).eval()
    layer = model.star_layers[0]
    with torch.no_grad():
        layer.domain_weight[1].mul_(2.0)
        layer.domain_bias[1].add_(1.0)
    h = torch.randn(4, layer.shared.in_features)
    expected = h @ (2.0 * layer.shared.weight).T + layer.shared.bias + 1.0
    groups = DomainGroups(torch.tensor([0, 0, 1, 1]), n_domains=N_DOMAINS)
    out = layer(h, groups)
    torch.testing.assert_close(out[2:], expected[2:])
    torch.testing.assert_close(out[:2], layer.shared(h[:2]))


def test_partitioned_norm_keeps_running_statistics_per_domain():
    model = make_model("star", n_adapters=0).train()
    x_cat, x_num, domain, _ = make_batch()
    keep = domain == 2
    model(x_cat[keep], x_num[keep], domain[keep])
    stats = model.partitioned_norm.statistics
    assert stats.num_batches_tracked.tolist() == [0, 0, 1]
    assert torch.equal(stats.running_mean[:2], torch.zeros_like(stats.running_mean[:2]))
    assert not torch.equal(stats.running_mean[2], torch.zeros_like(stats.running_mean[2]))


def test_dcn_v2_cross_layer_is_full_rank():
    dcn = make_model("dcn", n_adapters=0)
    dcn_v2 = make_model("dcn_v2", n_adapters=0)
    d_in = dcn.embedding.d_out
    assert dcn.cross.weight.shape == (2, d_in)
    assert [layer.weight.shape for layer in dcn_v2.cross.layers] == [(d_in, d_in)] * 2


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("cardinalities, n_numeric", [([10, 7], 0), ([], 2)])
def test_only_categorical_or_only_numeric_fields(name, cardinalities, n_numeric):
    model = make_model(name, cardinalities=cardinalities, n_numeric=n_numeric).train()
    x_cat = torch.randint(0, 7, (12, len(cardinalities)))
    x_num, domain = torch.randn(12, n_numeric), torch.arange(12) % N_DOMAINS
    out = model(x_cat, x_num, domain)
    out.sum().backward()
    assert out.shape == (12,) and torch.isfinite(out).all()


@pytest.mark.parametrize("training", [False, True])
def test_grouped_adapter_matches_each_domain_adapter_alone(training):
    """Every domain's rows at once give what that domain's parameter set gives its rows alone."""
    torch.manual_seed(0)
    groups = DomainGroups(torch.tensor([2, 0, 2, 1, 0, 2, 1, 1]), n_domains=3)
    grouped = HyperAdapter(d_in=6, d_bottleneck=3, rank=2, n_groups=3, identity_init=False)
    grouped.domain_norm.running_mean.normal_()
    grouped.train(training)
    h, s = groups.sort(torch.randn(8, 6)), groups.sort(torch.randn(8, 2, 2))
    out = grouped(h, s, groups)
    for d, rows in enumerate(groups.domain == d for d in range(3)):
        alone = HyperAdapter(d_in=6, d_bottleneck=3, rank=2, identity_init=False)
        alone.load_state_dict({k: v[d : d + 1] for k, v in grouped.state_dict().items()})
        alone.train(training)
        torch.testing.assert_close(out[rows], alone(h[rows], s[rows]), atol=1e-5, rtol=1e-5)
