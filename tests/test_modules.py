import pytest
import torch

from sklearn_hamur.modules import (
    UNKNOWN_DOMAIN,
    AdapterSpec,
    BatchNorm,
    DomainGroups,
    HyperAdapter,
    HyperNetwork,
    MultiDomainMLP,
)


def make_model(n_adapters=1, share_adapters=False, n_domains=3, d_hidden=(16, 8)):
    torch.manual_seed(0)
    return MultiDomainMLP(
        cardinalities=[10, 7],
        n_numeric=2,
        n_domains=n_domains,
        d_embedding=4,
        d_hidden=d_hidden,
        dropout=0.1,
        adapters=AdapterSpec(
            n_adapters=n_adapters,
            rank=3,
            d_bottleneck=5,
            d_hyper_hidden=(6,),
            shared=share_adapters,
        ),
    )


def make_batch(n=64, n_domains=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x_cat = torch.stack(
        [torch.randint(0, 10, (n,), generator=g), torch.randint(0, 7, (n,), generator=g)], 1
    )
    x_num = torch.randn(n, 2, generator=g)
    domain = torch.randint(0, n_domains, (n,), generator=g)
    return x_cat, x_num, domain


@pytest.mark.parametrize("n_adapters", [0, 1, 2])
@pytest.mark.parametrize("share_adapters", [False, True])
def test_gradients_reach_every_parameter(n_adapters, share_adapters):
    model = make_model(n_adapters=n_adapters, share_adapters=share_adapters).train()
    x_cat, x_num, domain = make_batch()
    # Identity-initialised adapters: at the first step only the norm's scale and shift
    # get a gradient (the cell outputs h); after one step every parameter does.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(x_cat, x_num, domain).sum().backward()
    optimizer.step()
    optimizer.zero_grad()
    model(x_cat, x_num, domain).sum().backward()
    names = [name for name, _ in model.named_parameters()]
    if n_adapters:
        assert any(name.startswith("hypernetwork.") for name in names)
        assert any(name.endswith("u_down") for name in names)
        assert any("domain_norm" in name for name in names)
    for name, param in model.named_parameters():
        assert param.grad is not None, name
        assert torch.count_nonzero(param.grad) > 0, name


def test_hamur_adds_exactly_adapters_and_hypernetwork_parameters():
    backbone = dict(make_model(n_adapters=0).named_parameters())
    hamur = dict(make_model(n_adapters=2).named_parameters())
    extra = set(hamur) - set(backbone)
    assert set(backbone) <= set(hamur)
    assert extra and all(n.startswith(("hypernetwork.", "adapters.")) for n in extra)
    # Domain-specific by default: one adapter set per domain (stacked first) and block.
    u_down = [p for n, p in hamur.items() if n.endswith("u_down")]
    assert [p.shape[0] for p in u_down] == [3, 3]
    shared = dict(make_model(n_adapters=2, share_adapters=True).named_parameters())
    assert [p.shape[0] for n, p in shared.items() if n.endswith("u_down")] == [1, 1]


def test_eval_prediction_does_not_depend_on_the_batch():
    model = make_model(n_adapters=2)
    x_cat, x_num, domain = make_batch(n=512)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for _ in range(5):  # move the running statistics away from their initial values
        opt.zero_grad()
        model(x_cat, x_num, domain).sum().backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        batch = model(x_cat, x_num, domain)
        alone = torch.cat(
            [model(x_cat[i : i + 1], x_num[i : i + 1], domain[i : i + 1]) for i in range(20)]
        )
    torch.testing.assert_close(alone, batch[:20], atol=1e-5, rtol=1e-5)


def test_one_row_training_batch_is_finite():
    model = make_model(n_adapters=1).train()
    x_cat, x_num, domain = make_batch(n=1)
    out = model(x_cat, x_num, domain)
    out.sum().backward()
    assert torch.isfinite(out).all()


def test_domain_absent_from_batch_and_output_order():
    model = make_model(n_adapters=1).eval()
    x_cat, x_num, _ = make_batch(n=6)
    domain = torch.tensor([2, 0, 2, 0, 2, 0])
    with torch.no_grad():
        out = model(x_cat, x_num, domain)
        by_row = torch.cat(
            [model(x_cat[i : i + 1], x_num[i : i + 1], domain[i : i + 1]) for i in range(6)]
        )
    torch.testing.assert_close(out, by_row, atol=1e-5, rtol=1e-5)


def test_unknown_domain_gets_mean_probability_of_all_domains():
    model = make_model(n_adapters=1).eval()
    x_cat, x_num, _ = make_batch(n=4)
    with torch.no_grad():
        unknown = model(x_cat, x_num, torch.full((4,), UNKNOWN_DOMAIN))
        per_domain = torch.stack([model(x_cat, x_num, torch.full((4,), d)) for d in range(3)])
    expected = torch.logit(torch.sigmoid(per_domain).mean(0), eps=1e-7)
    torch.testing.assert_close(unknown, expected, atol=1e-5, rtol=1e-5)


def test_adapter_matches_materialised_weights():
    torch.manual_seed(0)
    adapter = HyperAdapter(d_in=6, d_bottleneck=3, rank=2).eval()
    h, s = torch.randn(4, 6), torch.randn(4, 2, 2)
    w_down = adapter.u_down[0] @ s @ adapter.v_down[0]  # (4, 6, 3): the per-row weights
    w_up = adapter.u_up[0] @ s @ adapter.v_up[0]
    z = torch.sigmoid(torch.einsum("nm,nms->ns", h, w_down) + adapter.bias_down[0])
    o = torch.einsum("ns,nsm->nm", z, w_up) + adapter.bias_up[0]
    expected = h + adapter.domain_norm(o, None)
    torch.testing.assert_close(adapter(h, s), expected, atol=1e-5, rtol=1e-5)


def test_initialisation_is_not_constant():
    adapter = HyperAdapter(d_in=8, d_bottleneck=4, rank=3)
    assert adapter.u_down.std() > 0 and adapter.v_up.std() > 0
    hyper = HyperNetwork(d_in=5, d_hidden=[4], rank=3, n_matrices=1).eval()
    (s,) = hyper(torch.randn(10, 5))
    assert s.std(0).mean() > 0  # instance-specific
    torch.testing.assert_close(s.mean(0), torch.eye(3), atol=0.5, rtol=0)


def test_batchnorm_one_row_uses_running_statistics():
    norm = BatchNorm(3).train()
    norm.running_mean.fill_(1.0)
    out = norm(torch.ones(1, 3))
    torch.testing.assert_close(out, torch.zeros(1, 3))
    assert torch.equal(norm.running_mean, torch.ones(3))
    assert norm(torch.empty(0, 3)).shape == (0, 3)


def test_domain_groups_round_trip():
    domain = torch.tensor([2, 0, 1, 0, 2])
    groups = DomainGroups(domain, n_domains=4)
    values = groups.sort(torch.arange(5.0))
    assert groups.domain.tolist() == [0, 0, 1, 2, 2]
    assert values.tolist() == [1.0, 3.0, 2.0, 0.0, 4.0]  # stable within a domain
    assert groups.counts.tolist() == [2, 1, 2, 0]
    assert groups.offsets.tolist() == [2, 3, 5, 5]
    torch.testing.assert_close(groups.restore(values), torch.arange(5.0))


@pytest.mark.parametrize("name", ["shared_mlp", "mlp", "dcn", "mmoe", "star"])
def test_identity_initialised_adapters_start_as_the_backbone(name):
    """With identity init, HAMUR's first predictions are its backbone's, for a given seed."""
    from sklearn_hamur.modules import make_backbone

    own = {"mmoe": dict(d_expert=(8,), d_tower=(8, 8)), "dcn": dict(d_hidden=(8, 8))}
    kwargs = dict(cardinalities=[10, 7], n_numeric=2, n_domains=3, d_embedding=4, dropout=0.0)
    kwargs.update(own.get(name, dict(d_hidden=(8, 8))))
    x_cat, x_num, domain = make_batch()
    torch.manual_seed(0)
    backbone = make_backbone(name, **kwargs).eval()
    torch.manual_seed(0)
    hamur = make_backbone(name, **kwargs, adapters=AdapterSpec(n_adapters=2, rank=3)).eval()
    with torch.no_grad():
        torch.testing.assert_close(hamur(x_cat, x_num, domain), backbone(x_cat, x_num, domain))
    torch.manual_seed(0)
    reference = make_backbone(
        name, **kwargs, adapters=AdapterSpec(n_adapters=2, rank=3, identity_init=False)
    ).eval()
    with torch.no_grad():
        assert not torch.allclose(reference(x_cat, x_num, domain), backbone(x_cat, x_num, domain))


def test_identity_init_still_trains_the_adapters():
    model = make_model(n_adapters=1).train()
    x_cat, x_num, domain = make_batch()
    model(x_cat, x_num, domain).sum().backward()
    norm_scale = model.adapters[0].domain_norm.weight
    assert torch.count_nonzero(norm_scale) == 0  # starts as the identity
    assert norm_scale.grad is not None and torch.count_nonzero(norm_scale.grad) > 0
