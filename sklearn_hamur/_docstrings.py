"""One source for the docstring entries that several public objects share.

:class:`~sklearn_hamur.MultiDomainClassifier` and :class:`~sklearn_hamur.HAMURClassifier`
take the same data, backbone and training parameters and learn the same attributes,
:class:`~sklearn_hamur.MultiDomainEncoder` takes the same column parameters, and the
``forward`` methods of the multi-domain torch modules take the same inputs. Their
docstrings name a shared entry with a marker line such as ``%(domain_col)s`` in the
Parameters or Attributes section; :func:`fill_doc`, applied as a decorator, replaces
every marker line with the numpydoc entry below, indented like the marker. The
``__doc__`` (what ``help()``, numpydoc, Sphinx and doctest read) is then complete, and
each description is written once.
"""

from __future__ import annotations

import re
import textwrap
from typing import TypeVar

T = TypeVar("T")

#: Numpydoc entries ("name : type, default=..." and an indented description), by name.
_ENTRIES: dict[str, str] = {
    # -- data --------------------------------------------------------------------------
    "domain_col": """
domain_col : str, int or None, default="domain"
    Column of ``X`` that holds each row's domain. ``None`` puts every row in a single
    domain.
""",
    "categorical_cols": """
categorical_cols : list or None, default=None
    Columns to embed, each with a vocabulary fitted on the training rows. ``None``
    infers them from the dtypes of the columns other than the domain column: string,
    category and bool columns are categorical, and object columns unless every value
    is a number. Integer ids (user or item ids) are numbers to pandas: list them here
    (or cast them to ``category``) to embed them. When only one of
    ``categorical_cols`` and ``numeric_cols`` is given, every other column (but the
    domain column) goes to the other.
""",
    "numeric_cols": """
numeric_cols : list or None, default=None
    Columns used as values, standardized with the training mean and standard
    deviation (a missing value becomes the training mean). ``None`` infers them from
    the dtypes: integer and float columns are numeric (see ``categorical_cols``).
""",
    "min_frequency": """
min_frequency : int, default=1
    Categories seen fewer times than this in training share the index (and so the
    embedding) of values unseen in training.
""",
    "handle_unknown_domain": """
handle_unknown_domain : {"error", "average"}, default="error"
    What to do with a domain value not seen in training: ``"error"`` raises a
    ``ValueError`` that names it; ``"average"`` encodes it as
    ``sklearn_hamur.modules.UNKNOWN_DOMAIN`` (-1), and the model gives such a row the
    mean probability of every domain's path.
""",
    "encoder": """
encoder : MultiDomainEncoder or None, default=None
    A fitted :class:`~sklearn_hamur.MultiDomainEncoder` to encode with instead of
    fitting one on ``X``: typically fitted with its ``partial_fit`` over the chunks of a
    data set larger than memory, for :meth:`partial_fit`. ``fit`` and ``partial_fit``
    use it as is (a frozen copy becomes ``encoder_``) and never refit it; an unfitted
    one is an error. Its parameters must equal the estimator's same-named ones
    (``domain_col``, ``categorical_cols``, ``numeric_cols``, ``min_frequency``,
    ``handle_unknown_domain``): pass ``**encoder.get_params()`` too. ``clone`` shares it
    rather than cloning it (a clone would be unfitted); ``save`` stores it as
    ``encoder_`` and saves ``encoder=None``.
""",
    # -- method inputs -----------------------------------------------------------------
    "X_fit_y_none": """
X : DataFrame of shape (n_samples, n_columns)
    The training rows, with the domain column ``domain_col``: a pandas or polars
    DataFrame or a pyarrow Table (converted to pandas, names and dtypes kept).
y : None
    Ignored; present for API consistency.
""",
    "X_predict": """
X : DataFrame of shape (n_samples, n_columns)
    The columns seen in ``fit``, the domain column included (pandas, polars or
    pyarrow).
""",
    # -- backbone modules ----------------------------------------------------------------
    "backbone_inputs": """
cardinalities : sequence of int
    Vocabulary size of each categorical field.
n_numeric : int
    Number of numeric fields.
n_domains : int
    Number of domains.
""",
    "d_embedding_module": """
d_embedding : int, default=16
    Embedding width per categorical field.
""",
    "backbone_example": """
>>> import torch
>>> x_cat, x_num, domain = torch.tensor([[3], [4]]), torch.zeros(2, 2), torch.tensor([0, 2])
>>> model(x_cat, x_num, domain).shape
torch.Size([2])
""",
    "adapters": """
adapters : AdapterSpec or None, default=None
    HAMUR's adapters (:class:`~sklearn_hamur.modules.backbones.AdapterSpec`: how many,
    ``k``, the bottleneck width, the hyper-network, shared or per domain); ``None``
    builds the backbone alone.
""",
    "linear_offset": """
linear_offset : bool, default=False
    Add a :class:`~sklearn_hamur.modules.LinearOffset` to the logit: a fixed linear
    model over the one-hot ids, the domain and the numeric values, whose coefficients
    are set after construction (the estimators fit a logistic regression for it,
    ``logistic_offset`` and ``logistic_blend``); zero until then.
""",
    # -- backbone ----------------------------------------------------------------------
    "backbone": """
backbone : str, default="shared_mlp"
    The multi-domain model: ``"shared_mlp"`` (one MLP tower and head shared by all
    domains, the domain an embedded feature: the default, chosen on the benchmarks),
    ``"mlp"`` (one MLP tower per domain, the HAMUR paper's backbone), ``"wide_deep"``,
    ``"dcn"``, ``"dcn_v2"``, ``"deepfm"`` (each with per-domain output heads),
    ``"shared_bottom"``, ``"mmoe"``, ``"ple"`` (shared parts and one tower per domain)
    or ``"star"`` (star-topology layers with partitioned normalization). See
    :mod:`sklearn_hamur.modules.backbones` for the papers. A size parameter that does
    not apply to the chosen backbone is ignored, so one parameter grid can span
    several backbones.
""",
    "hidden_units": """
hidden_units : tuple of int or str, default=(256, 128)
    Hidden widths of the shared tower for ``"shared_mlp"``, of each domain's tower for
    ``"mlp"`` (the reference MovieLens setting), of the deep part for ``"wide_deep"``,
    ``"dcn"``, ``"dcn_v2"`` and ``"deepfm"``, and of the star-topology layers for
    ``"star"``. Like every ``*_units`` parameter, it may be given as a string of
    ``-``-separated widths, ``"256-128"`` (the form
    :func:`~sklearn_hamur.model_selection.hamur_search_space` searches), which is kept
    as given and parsed at ``fit``.
""",
    "bottom_units": """
bottom_units : tuple of int or str, default=(256,)
    Hidden widths of the shared bottom MLP of ``"shared_bottom"``.
""",
    "tower_units": """
tower_units : tuple of int or str, default=(128,)
    Hidden widths of each domain's tower for ``"shared_bottom"``, ``"mmoe"`` and
    ``"ple"``.
""",
    "n_experts": """
n_experts : int, default=4
    Number of shared experts of ``"mmoe"``.
""",
    "expert_units": """
expert_units : tuple of int or str, default=(256,)
    Hidden widths of each expert MLP of ``"mmoe"`` and ``"ple"``; the last is the width
    an expert outputs.
""",
    "n_levels": """
n_levels : int, default=2
    Number of extraction layers of ``"ple"`` (1 gives CGC, a single layer).
""",
    "n_shared_experts": """
n_shared_experts : int, default=2
    Number of shared experts per extraction layer of ``"ple"``.
""",
    "n_specific_experts": """
n_specific_experts : int, default=1
    Number of experts per domain and extraction layer of ``"ple"``.
""",
    "n_cross_layers": """
n_cross_layers : int, default=2
    Number of cross layers of ``"dcn"`` and ``"dcn_v2"``.
""",
    "auxiliary_units": """
auxiliary_units : tuple of int or str, default=(64,)
    Hidden widths of the auxiliary network of ``"star"`` (a small MLP over a learned
    domain embedding and the input, added to the logit).
""",
    "d_embedding": """
d_embedding : int, default=16
    Embedding width of each categorical column.
""",
    # -- training ----------------------------------------------------------------------
    "dropout": """
dropout : float, default=0.2
    Dropout rate after each hidden block.
""",
    "lr": """
lr : float, default=1e-3
    Adam learning rate.
""",
    "weight_decay": """
weight_decay : float, default=1e-5
    Adam weight decay (not applied to embeddings, biases and norms).
""",
    "logistic_offset": """
logistic_offset : float or None, default=None
    ``None``: no offset. A float ``C``: first fit a one-hot
    :class:`~sklearn.linear_model.LogisticRegression` (inverse regularisation ``C``,
    lbfgs) on the training rows (every categorical id, the domain and the numeric
    values, as the encoder gives them); its logit is then added, fixed, to the
    network's, which learns the residual (``modules.LinearOffset``; saved and exported
    with the model). It pays on data whose signal is mostly first-order, such as id-only
    ratings: on Douban (user and item ids) it lifts HAMUR by +0.005 AUC to logistic
    regression's level; where feature interactions carry the signal it costs (MovieLens-
    100K: -0.005): tune it (it is in the default search space). With an offset there
    is no ``logistic_blend``. Not with :meth:`partial_fit`.
""",
    "logistic_blend": """
logistic_blend : float or None, default=1.0
    A float ``C``: after training, fit a one-hot
    :class:`~sklearn.linear_model.LogisticRegression` (inverse regularisation ``C``,
    lbfgs; the same features as ``logistic_offset``) on the training rows, and predict
    the blend ``(1 - w) * network + w * regression`` of the two logits, the weight ``w``
    (0 to 1 in steps of 0.05) chosen on the early-stopping validation rows by
    ``early_stopping_metric`` (ties go to the network alone). The network trains
    exactly as without it. No blend (``w = 0``) without validation rows (early stopping
    off, or ``"auto"`` on fewer than 10,000 rows), with ``logistic_offset`` set, or
    after :meth:`partial_fit`. On more than a million training rows the regression is
    fitted on a seeded sample of a million (its sparse copy of the rows takes about
    1.1 GB per million rows of 20 id fields). ``None``: the network alone, and no
    regression is fitted. It pays where the regression and the network err apart: +0.006 AUC on
    Douban (user and item ids; above logistic regression alone), +0.002 to +0.003 on
    MovieLens-100K, a tie on UCI Adult (3 seeds).
""",
    "batch_size": """
batch_size : int, default=4096
    Rows per training and prediction batch.
""",
    "max_epochs": """
max_epochs : int, default=50
    Maximum number of passes over the training data.
""",
    "early_stopping": """
early_stopping : bool or "auto", default="auto"
    Hold out ``validation_fraction`` of the rows (stratified by domain and label,
    shuffled with ``random_state``), stop when ``early_stopping_metric`` has not
    improved for ``patience`` epochs, and restore the best epoch's weights. ``"auto"``
    enables it from 10,000 training rows on.
""",
    "validation_fraction": """
validation_fraction : float, default=0.1
    Share of each domain-and-label group held out for early stopping.
""",
    "early_stopping_metric": """
early_stopping_metric : {"auc", "auc_mean", "auc_min", "loss"}, default="auc"
    What early stopping watches on the validation rows: the overall AUC, the mean of
    the per-domain AUCs, the worst domain's AUC, or the log loss. An AUC that cannot
    be computed (a single class) falls back to the loss.
""",
    "patience": """
patience : int, default=5
    Epochs without improvement before early stopping ends training.
""",
    "min_delta": """
min_delta : float, default=1e-4
    How much early stopping's score must beat the best so far to count as an
    improvement (absolute). When an AUC is watched, an epoch whose AUC is within
    ``min_delta`` of the best and whose validation loss is lower than the best epoch's
    counts as an improvement too, and its weights are the ones restored: AUC noise
    does not end training while the loss still falls. A larger value (``1e-3``) makes
    the loss decide between epochs of nearly equal AUC.
""",
    "device": """
device : str, default="auto"
    ``"cpu"``, ``"cuda"``, ``"cuda:N"``, or ``"auto"`` (CUDA when available). Under
    ``torchrun``, ``"cuda"`` (and ``"auto"`` where there is a GPU) gives each process
    its own GPU, ``cuda:LOCAL_RANK``, made the current device before the process group
    starts; an explicit ``"cuda:N"`` is used as given.
""",
    "precision": """
precision : {"32", "bf16-mixed", "16-mixed"}, default="32"
    Arithmetic of training and prediction: float32, or mixed precision with autocast
    to bfloat16 or float16 (float16 adds a gradient scaler). Mixed precision pays off
    on GPUs; parameters and the loss stay in float32.
""",
    "compile": """
compile : bool, default=False
    Compile the module with :func:`torch.compile` on a GPU. On CPU, and where dynamo
    is unsupported, a warning says why and training runs eagerly. On CPU it was
    measured to cost minutes and gain nothing: the per-domain routing breaks the
    graph (a data-dependent branch, per-domain row counts read on the host) and makes
    its shapes change from batch to batch, so a dozen graphs are compiled, compiled
    again for new batch shapes and again for prediction (2 to 8 minutes for 2 epochs
    on 20,000 rows that train in 2 to 5 seconds eagerly), and the compiled steps are
    no faster; the grouped per-domain products do not trace on CPU at all. Compiled
    dropout also draws its masks from inductor's own random
    numbers, not torch's, so a compiled fit differs from the eager fit with the same
    ``random_state`` by as much as two random states differ (the AUC moved by 0.0008,
    within the 0.008 spread of five seeds; the same masks give the same model).
    On a GPU, measure before relying on it.
""",
    "callbacks": """
callbacks : list or None, default=None
    Extra skorch callbacks (or ``(name, callback)`` tuples) added to the net, such as
    :class:`~sklearn_hamur.model_selection.OptunaPruning`.
""",
    "random_state": """
random_state : int, RandomState instance or None, default=None
    Seeds the weights, dropout, shuffling and the validation split. The same value
    gives identical probabilities on CPU.
""",
    "verbose": """
verbose : int, default=0
    Above 0, print a progress bar and a table of per-epoch losses.
""",
    "checkpoint_dir": """
checkpoint_dir : str, path-like or None, default=None
    Folder where the training state (weights, optimizer, history) is saved after
    every epoch, atomically (a temporary file renamed over the previous one).
""",
    "warm_start": """
warm_start : bool, default=False
    Continue a previous training run instead of starting afresh: the checkpoint in
    ``checkpoint_dir`` if there is one, else the previous ``fit`` in memory. Training
    goes on until ``history_`` holds ``max_epochs`` epochs, so a run killed midway and
    started again with the same data and parameters ends with the same number of
    epochs (raise ``max_epochs`` to train further). Shuffling and early stopping's
    patience restart at the resumed epoch, so the result is not bit-identical to an
    uninterrupted run. ``partial_fit`` always continues the current model, whatever
    ``warm_start`` (which then only lets the first call of an estimator without a
    model resume from the checkpoint in ``checkpoint_dir``); a ``fit`` after
    ``partial_fit`` starts afresh unless ``warm_start``.
""",
    # -- inputs of the multi-domain torch modules' forward ---------------------------------
    "x_cat": """
x_cat : torch.Tensor of shape (n, n_categorical)
    Integer index of each categorical field, local to the field, as
    :class:`~sklearn_hamur.MultiDomainEncoder` writes them.
""",
    "x_num": """
x_num : torch.Tensor of shape (n, n_numeric)
    Standardized numeric values, float32.
""",
    "domain": """
domain : torch.Tensor of shape (n,)
    Domain index of each row, int64, in ``0 .. n_domains - 1``. In evaluation,
    ``sklearn_hamur.modules.UNKNOWN_DOMAIN`` (-1) gives the row the logit of the mean
    probability over every domain's path.
""",
    "domain_counts": """
domain_counts : list of int or None, default=None
    Rows per domain when the rows are already sorted by domain (training batches on a
    GPU); then nothing is sorted and no host-device synchronisation happens. ``None``
    sorts the rows here.
""",
    # -- fitted attributes -------------------------------------------------------------
    "classes_": """
classes_ : ndarray of shape (2,)
    The two labels; ``predict_proba`` columns follow this order.
""",
    "domains_": """
domains_ : ndarray of shape (`n_domains_`,)
    Domain values seen in training, sorted; domain ``domains_[i]`` uses the model's
    domain path ``i``.
""",
    "n_domains_": """
n_domains_ : int
    Number of domains seen in training.
""",
    "n_features_in_": """
n_features_in_ : int
    Number of columns of ``X`` seen in ``fit``, the domain column included.
""",
    "feature_names_in_": """
feature_names_in_ : ndarray of shape (`n_features_in_`,)
    Column names of ``X`` seen in ``fit``. Defined only when all of them are strings.
""",
    "encoder_": """
encoder_ : MultiDomainEncoder
    The fitted :class:`~sklearn_hamur.MultiDomainEncoder` that turns ``X`` into the
    module's inputs.
""",
    "net_": """
net_ : skorch.classifier.NeuralNetBinaryClassifier
    The trained skorch net; ``net_.module_`` is the torch module.
""",
    "logistic_blend_weight_": """
logistic_blend_weight_ : float
    The weight ``w`` of the logistic regression in the predicted logit
    ``(1 - w) * network + w * regression`` (``logistic_blend``); 0 when there is no
    blend.
""",
    "history_": """
history_ : skorch.history.History
    Per-epoch ``train_loss``; with early stopping also ``valid_loss``, ``valid_auc``,
    ``valid_auc_per_domain`` (domain index to AUC), ``valid_auc_mean`` and
    ``valid_auc_min``.
""",
}

#: The HAMUR paper as a numpydoc reference ``.. [i]``, for the References of the modules.
_HAMUR = (
    'X. Li, F. Yan, X. Zhao, Y. Wang, B. Chen, H. Guo and R. Tang, "HAMUR: Hyper\n'
    '   Adapter for Multi-Domain Recommendation", CIKM 2023.\n'
    "   https://arxiv.org/abs/2309.06217"
)
_ENTRIES.update({f"hamur_reference_{i}": f"\n.. [{i}] {_HAMUR}\n" for i in (1, 2, 3)})
_ENTRIES["hamur_references"] = f"\nReferences\n----------\n.. [1] {_HAMUR}\n"

_MARKER = re.compile(r"^(?P<indent>[ \t]*)%\((?P<name>\w+)\)s[ \t]*$", re.MULTILINE)


def shared_entry(name: str, indent: str = "") -> str:
    """The shared numpydoc entry ``name``, every line prefixed with ``indent``."""
    return textwrap.indent(_ENTRIES[name].strip("\n"), indent)


def fill_doc(obj: T) -> T:
    """Replace each marker line ``%(name)s`` in ``obj.__doc__`` with the shared entry.

    A marker must stand alone on its line; it is replaced by the entry indented like the
    marker. An unknown name raises ``KeyError`` when the class or function is created,
    so a typo cannot reach the documentation. Returns ``obj``, so it works as a
    decorator of classes and functions.
    """
    if obj.__doc__:
        obj.__doc__ = _MARKER.sub(
            lambda match: shared_entry(match["name"], match["indent"]), obj.__doc__
        )
    return obj
