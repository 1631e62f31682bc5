"""MultiDomainClassifier: the MLP backbone with one tower per domain, without adapters."""

from __future__ import annotations

from ._base import BaseMultiDomainClassifier


class MultiDomainClassifier(BaseMultiDomainClassifier):
    """Multi-domain CTR classifier: shared embeddings and one MLP tower per domain.

    The "pure backbone" of the HAMUR paper: exactly :class:`HAMURClassifier`'s model
    without the adapter cells and the hyper-network, and the baseline every HAMUR number
    is compared with. Training runs through a skorch
    :class:`~skorch.classifier.NeuralNetBinaryClassifier` (``net_``).

    Parameters
    ----------
    domain_col : str, int or None, default="domain"
        Column of ``X`` that holds each row's domain. ``None`` treats all rows as one
        domain.
    categorical_cols, numeric_cols : list or None, default=None
        Columns to embed / to use as standardized values. ``None`` infers them from the
        dtypes: object, string, category and bool columns are categorical, numbers are
        numeric (so integer ids must be listed in ``categorical_cols`` to be embedded).
        See :class:`MultiDomainEncoder`.
    min_frequency : int, default=1
        Categories seen fewer times in training share the unknown-value embedding.
    handle_unknown_domain : {"error", "average"}, default="error"
        A domain not seen in training raises a ``ValueError`` naming it, or gets the
        average probability of every domain's tower.
    backbone : str, default="mlp"
        The multi-domain model: "mlp" (one MLP tower per domain), "wide_deep",
        "dcn", "dcn_v2", "deepfm" (each with per-domain output heads),
        "shared_bottom", "mmoe", "ple" (shared parts and one tower per domain) or
        "star" (star-topology layers with partitioned normalization). See
        :mod:`sklearn_hamur.modules.backbones` for the papers and shapes.
    hidden_units : tuple of int, default=(256, 128)
        Hidden widths of each domain's tower for "mlp" (reference MovieLens setting),
        of the deep part for "wide_deep", "dcn", "dcn_v2", "deepfm", and of the
        star-topology layers for "star".
    bottom_units, tower_units, n_experts, expert_units, n_levels, n_shared_experts, \
n_specific_experts, n_cross_layers, auxiliary_units
        Backbone-specific sizes: "shared_bottom" uses ``bottom_units`` (default
        (256,)) and ``tower_units`` ((128,)); "mmoe" ``n_experts`` (4),
        ``expert_units`` ((256,)) and ``tower_units``; "ple" ``n_levels`` (2),
        ``n_shared_experts`` (2), ``n_specific_experts`` (1), ``expert_units`` and
        ``tower_units``; "dcn" and "dcn_v2" ``n_cross_layers`` (2); "star"
        ``auxiliary_units`` ((64,), the auxiliary network). A parameter that does not
        apply to the chosen backbone is ignored, so one parameter grid can span
        several backbones.
    d_embedding : int, default=16
        Embedding width of each categorical column.
    dropout : float, default=0.2
        Dropout rate after each hidden block.
    lr : float, default=1e-3
        Adam learning rate.
    weight_decay : float, default=1e-5
        Adam weight decay (not applied to embeddings, biases and norms).
    batch_size : int, default=4096
        Rows per training and prediction batch.
    max_epochs : int, default=50
        Maximum number of passes over the training data.
    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of the rows (stratified by domain and label,
        shuffled with ``random_state``), stop when the validation AUC has not improved
        for ``patience`` epochs, and restore the best epoch's weights. ``"auto"``
        enables it from 10,000 training rows on.
    validation_fraction : float, default=0.1
        Share of each domain-and-label group held out for early stopping.
    early_stopping_metric : {"auc", "auc_mean", "auc_min", "loss"}, default="auc"
        What early stopping watches on the validation rows: the overall AUC, the mean of
        the per-domain AUCs, the worst domain's AUC, or the log loss. An AUC that cannot
        be computed (a single class) falls back to the loss.
    patience : int, default=5
        Epochs without improvement before early stopping ends training.
    device : str, default="auto"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"``, or ``"auto"`` (CUDA when available).
    precision : {"32", "bf16-mixed", "16-mixed"}, default="32"
        Arithmetic of training and prediction: float32, or mixed precision with
        autocast to bfloat16 or float16 (float16 adds a gradient scaler). Mixed
        precision pays off on GPUs; parameters and the loss stay in float32.
    compile : bool, default=False
        Compile the module with ``torch.compile``. Where it is unavailable (no dynamo
        support, or no C++ compiler for CPU code) a warning says so and training runs
        eagerly. Per-domain routing makes shapes vary from batch to batch, so expect
        recompilations; measure before relying on it.
    callbacks : list or None, default=None
        Extra skorch callbacks (or ``(name, callback)`` tuples) added to the net.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, dropout, shuffling and the validation split. The same value
        gives identical probabilities on CPU.
    verbose : int, default=0
        Above 0, print a progress bar and a table of per-epoch losses.
    checkpoint_dir : str, path-like or None, default=None
        Folder where the training state (weights, optimizer, history) is saved after
        every epoch, atomically (a temporary file renamed over the previous one).
    warm_start : bool, default=False
        Continue a previous training run instead of starting afresh: the checkpoint in
        ``checkpoint_dir`` if there is one, else the previous ``fit`` in memory. Training
        goes on until ``history_`` holds ``max_epochs`` epochs, so a run killed midway
        and started again with the same data and parameters ends with the same number of
        epochs (raise ``max_epochs`` to train further). Shuffling and early stopping's
        patience restart at the resumed epoch, so the result is not bit-identical to an
        uninterrupted run.

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        The two labels; ``predict_proba`` columns follow this order.
    domains_ : ndarray
        Domain values seen in training; domain ``domains_[i]`` uses tower ``i``.
    n_domains_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when ``X`` has string column names.
    encoder_ : MultiDomainEncoder
    net_ : skorch NeuralNetBinaryClassifier
        The trained net; ``net_.module_`` is the torch module.
    history_ : skorch.History
        Per-epoch ``train_loss``; with early stopping also ``valid_loss``, ``valid_auc``,
        ``valid_auc_per_domain`` (domain index to AUC), ``valid_auc_mean`` and
        ``valid_auc_min``.

    See Also
    --------
    HAMURClassifier : the same backbone with HAMUR's hyper-network adapters.

    References
    ----------
    .. [1] Li et al., "HAMUR: Hyper Adapter for Multi-Domain Recommendation", CIKM 2023.

    Examples
    --------
    >>> from sklearn_hamur import MultiDomainClassifier
    >>> from sklearn_hamur.datasets import load_adult
    >>> X, y = load_adult(return_X_y=True)
    >>> clf = MultiDomainClassifier(max_epochs=2, random_state=0).fit(X[:3000], y[:3000])
    >>> clf.predict_proba(X[3000:3005]).shape
    (5, 2)
    """

    def __init__(
        self,
        *,
        domain_col="domain",
        categorical_cols=None,
        numeric_cols=None,
        min_frequency=1,
        handle_unknown_domain="error",
        backbone="mlp",
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
        batch_size=4096,
        max_epochs=50,
        early_stopping="auto",
        validation_fraction=0.1,
        early_stopping_metric="auc",
        patience=5,
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
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.early_stopping_metric = early_stopping_metric
        self.patience = patience
        self.device = device
        self.precision = precision
        self.compile = compile
        self.callbacks = callbacks
        self.random_state = random_state
        self.verbose = verbose
        self.checkpoint_dir = checkpoint_dir
        self.warm_start = warm_start
