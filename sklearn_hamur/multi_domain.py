"""MultiDomainClassifier: a multi-domain backbone without HAMUR's adapters."""

from __future__ import annotations

from ._base import BaseMultiDomainClassifier
from ._docstrings import fill_doc


@fill_doc
class MultiDomainClassifier(BaseMultiDomainClassifier):
    """Multi-domain CTR classifier: a multi-domain backbone without HAMUR's adapters.

    The "pure backbone" of the HAMUR paper [1]_: exactly
    :class:`~sklearn_hamur.HAMURClassifier`'s model without the adapter cells and the
    hyper-network, and the baseline every HAMUR number is compared with. By default one
    MLP tower shared by all domains, the domain an embedded feature
    (``backbone="shared_mlp"``); the paper's one tower per domain (``"mlp"``) and the
    other multi-domain backbones (Wide & Deep, DCN, DCN-V2, DeepFM, Shared-Bottom, MMoE,
    PLE, STAR) are one parameter away (``backbone``). ``X`` is a :class:`pandas.DataFrame`
    with a domain column; :class:`~sklearn_hamur.MultiDomainEncoder` turns it into model
    inputs, and training runs through a skorch
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
    sklearn_hamur.HAMURClassifier : The same backbones with HAMUR's hyper-network adapters.
    sklearn_hamur.MultiDomainEncoder : How the DataFrame is turned into model inputs.
    sklearn_hamur.model_selection.tune : Tune the hyper-parameters with Optuna.

    Notes
    -----
    Each domain's tower (or head) runs only on its own domain's rows, so the cost of a
    batch does not grow with the number of domains. Batch normalization keeps running
    statistics, so a row's probability does not depend on the rest of its batch.

    References
    ----------
    .. [1] X. Li, F. Yan, X. Zhao, Y. Wang, B. Chen, H. Guo and R. Tang, "HAMUR: Hyper
       Adapter for Multi-Domain Recommendation", Proceedings of the 32nd ACM
       International Conference on Information and Knowledge Management (CIKM 2023),
       pp. 1268-1277. https://arxiv.org/abs/2309.06217

    Examples
    --------
    >>> from sklearn_hamur import MultiDomainClassifier
    >>> from sklearn_hamur.datasets import load_adult
    >>> X, y = load_adult(return_X_y=True)
    >>> clf = MultiDomainClassifier(max_epochs=2, random_state=0).fit(X[:3000], y[:3000])
    >>> clf.domains_.tolist()
    ['government', 'other', 'private', 'self_employed']
    >>> clf.predict_proba(X[3000:3005]).shape
    (5, 2)
    >>> clf.predict(X[3000:3005]).shape
    (5,)
    """

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
