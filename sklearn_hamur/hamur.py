"""HAMURClassifier: a multi-domain backbone with HAMUR's hyper-network adapters."""

from __future__ import annotations

from numbers import Integral

from sklearn.utils._param_validation import Interval, StrOptions

from ._base import BaseMultiDomainClassifier
from ._docstrings import fill_doc
from ._validation import as_units, units_problem
from .modules.backbones import BACKBONES


@fill_doc
class HAMURClassifier(BaseMultiDomainClassifier):
    """HAMUR: Hyper Adapter for Multi-Domain Recommendation, as a scikit-learn classifier.

    HAMUR [1]_ plugs domain-specific adapter cells into a multi-domain backbone (by
    default one MLP tower shared by all domains, the domain an embedded feature,
    ``backbone="shared_mlp"``; ``"mlp"`` is the paper's one tower per domain): the last
    ``n_adapters`` hidden blocks are each followed by the row's domain's adapter, a
    bottleneck with a skip connection and per-domain batch normalization, which starts
    as the identity and whose weights ``W = U_d @ S @ V_d`` are generated for each row:
    ``S`` (``k x k``) comes from a hyper-network shared by all domains, ``U_d`` and
    ``V_d`` belong to domain ``d``. ``X`` is a :class:`pandas.DataFrame` with a domain
    column; training runs through a skorch
    :class:`~skorch.classifier.NeuralNetBinaryClassifier` (``net_``).

    Parameters
    ----------
    %(domain_col)s
    %(categorical_cols)s
    %(numeric_cols)s
    %(min_frequency)s
    %(handle_unknown_domain)s
    %(encoder)s
    %(backbone)s
    %(hidden_units)s
    %(bottom_units)s
    %(tower_units)s
    %(n_experts)s
    %(expert_units)s
    %(n_levels)s
    %(n_shared_experts)s
    %(n_specific_experts)s
    %(n_cross_layers)s
    %(auxiliary_units)s
    %(d_embedding)s
    adapter_rank : int, default=35
        ``k``, the side of the instance matrix ``S`` (reference MovieLens MLP: 35; the
        paper uses 25 to 65).
    d_adapter : int, default=32
        Bottleneck width of the adapter (the reference hard-codes 32).
    hyper_hidden_units : tuple of int or str, default=(64,)
        Hidden widths of the hyper-network (or their string form, ``"64"``).
    n_adapters : int, default=1
        How many of the last hidden blocks get an adapter (reference: 1 on MovieLens, 2
        on Ali-CCP): blocks of ``hidden_units`` for ``"mlp"``, ``"wide_deep"``,
        ``"dcn"``, ``"dcn_v2"``, ``"deepfm"`` and ``"star"``, of each domain's
        ``tower_units`` for ``"shared_bottom"``, ``"mmoe"`` and ``"ple"``. At most the
        number of those blocks.
    share_adapters : bool, default=False
        Share the adapter's U, V, biases and norm across domains, as the reference
        implementation does, instead of one set per domain, as the paper does.
    adapter_training : {"joint", "staged"}, default="joint"
        ``"joint"`` trains the backbone and the adapters together from the first epoch
        (the paper). ``"staged"`` first trains the backbone alone (adapters and
        hyper-network skipped) until early stopping's patience runs out, then goes on
        from its best weights with the adapters switched on; they are kept only if they
        improve the validation score, and ``history_`` records ``adapters_active`` per
        epoch. Without early stopping, training is joint. Measured (5 seeds): staged
        HAMUR 0.7911 vs joint 0.7871 on MovieLens-100K (its backbone 0.7902), a tie on
        Douban, 0.0005 below joint on UCI Adult.
    %(dropout)s
    %(lr)s
    %(weight_decay)s
    %(logistic_offset)s
    %(logistic_blend)s
    %(batch_size)s
    %(max_epochs)s
    %(early_stopping)s
    %(validation_fraction)s
    %(early_stopping_metric)s
    %(patience)s
    %(min_delta)s
    %(device)s
    %(precision)s
    %(compile)s
    %(callbacks)s
    %(random_state)s
    %(verbose)s
    %(checkpoint_dir)s
    %(warm_start)s

    Attributes
    ----------
    %(classes_)s
    %(domains_)s
    %(n_domains_)s
    %(n_features_in_)s
    %(feature_names_in_)s
    %(encoder_)s
    %(net_)s
    %(logistic_blend_weight_)s
    %(history_)s

    See Also
    --------
    sklearn_hamur.MultiDomainClassifier : The same backbones without adapters.
    sklearn_hamur.MultiDomainEncoder : How the DataFrame is turned into model inputs.
    sklearn_hamur.model_selection.hamur_search_space : Distributions for tuning it.
    sklearn_hamur.modules.HyperAdapter : The adapter cell, as a torch module.

    Notes
    -----
    The hyper-network runs once per batch; each tower and its adapters run only on their
    own domain's rows; the generated weight is never materialised
    (``((h @ U) @ S) @ V``); batch normalization keeps running statistics, so a row's
    probability does not depend on the rest of its batch. Departures from the reference
    implementation are listed, with the reasons, in the user guide's page "Departures from
    the reference implementation".

    References
    ----------
    .. [1] X. Li, F. Yan, X. Zhao, Y. Wang, B. Chen, H. Guo and R. Tang, "HAMUR: Hyper
       Adapter for Multi-Domain Recommendation", Proceedings of the 32nd ACM
       International Conference on Information and Knowledge Management (CIKM 2023),
       pp. 1268-1277. https://arxiv.org/abs/2309.06217

    Examples
    --------
    >>> from sklearn_hamur import HAMURClassifier
    >>> from sklearn_hamur.datasets import load_adult
    >>> X, y = load_adult(return_X_y=True)
    >>> clf = HAMURClassifier(max_epochs=2, random_state=0).fit(X[:3000], y[:3000])
    >>> clf.n_domains_
    4
    >>> clf.predict_proba(X[3000:3005]).shape
    (5, 2)
    >>> type(clf.net_.module_.hypernetwork).__name__
    'HyperNetwork'
    """

    _adapters = True

    _parameter_constraints: dict = {
        **BaseMultiDomainClassifier._parameter_constraints,
        "adapter_rank": [Interval(Integral, 1, None, closed="left")],
        "d_adapter": [Interval(Integral, 1, None, closed="left")],
        "hyper_hidden_units": [list, tuple, str],
        "n_adapters": [Interval(Integral, 1, None, closed="left")],
        "share_adapters": ["boolean"],
        "adapter_training": [StrOptions({"joint", "staged"})],
    }

    def __init__(
        self,
        *,
        domain_col="domain",
        categorical_cols=None,
        numeric_cols=None,
        min_frequency=1,
        handle_unknown_domain="error",
        encoder=None,
        backbone="shared_mlp",
        hidden_units=(256, 128),
        bottom_units=(256,),
        tower_units=(128,),
        n_experts=4,
        expert_units=(256,),
        n_levels=2,
        n_shared_experts=2,
        n_specific_experts=1,
        n_cross_layers=2,
        auxiliary_units=(64,),
        d_embedding=16,
        adapter_rank=35,
        d_adapter=32,
        hyper_hidden_units=(64,),
        n_adapters=1,
        share_adapters=False,
        adapter_training="joint",
        dropout=0.2,
        lr=1e-3,
        weight_decay=1e-5,
        logistic_offset=None,
        logistic_blend=1.0,
        batch_size=4096,
        max_epochs=50,
        early_stopping="auto",
        validation_fraction=0.1,
        early_stopping_metric="auc",
        patience=5,
        min_delta=1e-4,
        device="auto",
        precision="32",
        compile=False,
        callbacks=None,
        random_state=None,
        verbose=0,
        checkpoint_dir=None,
        warm_start=False,
    ):
        self.domain_col = domain_col
        self.categorical_cols = categorical_cols
        self.numeric_cols = numeric_cols
        self.min_frequency = min_frequency
        self.handle_unknown_domain = handle_unknown_domain
        self.encoder = encoder
        self.backbone = backbone
        self.hidden_units = hidden_units
        self.bottom_units = bottom_units
        self.tower_units = tower_units
        self.n_experts = n_experts
        self.expert_units = expert_units
        self.n_levels = n_levels
        self.n_shared_experts = n_shared_experts
        self.n_specific_experts = n_specific_experts
        self.n_cross_layers = n_cross_layers
        self.auxiliary_units = auxiliary_units
        self.d_embedding = d_embedding
        self.adapter_rank = adapter_rank
        self.d_adapter = d_adapter
        self.hyper_hidden_units = hyper_hidden_units
        self.n_adapters = n_adapters
        self.share_adapters = share_adapters
        self.adapter_training = adapter_training
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.logistic_offset = logistic_offset
        self.logistic_blend = logistic_blend
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.early_stopping_metric = early_stopping_metric
        self.patience = patience
        self.min_delta = min_delta
        self.device = device
        self.precision = precision
        self.compile = compile
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir
        self.warm_start = warm_start

    _unit_params = (*BaseMultiDomainClassifier._unit_params, "hyper_hidden_units")

    def _extra_param_problems(self, params: dict) -> list[str]:
        problems = super()._extra_param_problems(params)
        hyper = units_problem(
            params["hyper_hidden_units"], "hyper_hidden_units", "HAMURClassifier", (64,)
        )
        if hyper is not None:
            problems.append(hyper)
        backbone = BACKBONES.get(params["backbone"])
        adapted = "hidden_units" if backbone is None else backbone.adapted_param().name
        widths = as_units(params[adapted])
        n_blocks = None if widths is None else len(widths)
        n_adapters = params["n_adapters"]
        if n_blocks is not None and isinstance(n_adapters, Integral) and n_adapters > n_blocks:
            problems.append(
                f"The 'n_adapters' parameter of HAMURClassifier must be at most the number of "
                f"hidden blocks of the adapted layers, len({adapted})={n_blocks} for "
                f"backbone={params['backbone']!r}. Got {n_adapters} instead."
            )
        return problems


__all__ = ["HAMURClassifier"]
