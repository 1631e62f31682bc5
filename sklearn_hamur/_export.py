"""Export a fitted classifier for serving: an ONNX graph and its encoder as JSON.

``export`` writes a folder with two files:

- ``model.onnx``: the torch module in evaluation mode, traced in
  :func:`~sklearn_hamur.modules.export_formulation` (rows in any order, every domain's
  per-domain products then the row's own), taking the encoded arrays ``x_cat`` (int64),
  ``x_num`` (float32) and ``domain`` (int64) with a dynamic number of rows, and giving
  ``logit`` and ``probability`` (float32, one per row). With
  ``handle_unknown_domain="average"`` a row of domain -1 goes through every domain's path
  and gets the mean probability (and its logit), without control flow in the graph.
- ``encoder.json``: everything :mod:`sklearn_hamur.serving` needs to encode a raw row as
  the fitted ``encoder_`` does (vocabularies, reserved indices, numeric statistics,
  domains, ``handle_unknown_domain``, classes, columns), a format version, and the
  SHA-256 of ``model.onnx`` so that a mismatched pair is refused.

The legacy TorchScript exporter of :func:`torch.onnx.export` (``dynamo=False``) is used:
it needs the ``onnx`` package only, and exports in well under a second. The graph is
checked against the module on probe rows with onnxruntime before anything is written.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._categories import MISSING_INDEX, N_RESERVED, PADDING_INDEX, UNKNOWN_INDEX
from ._distributed import plain_module
from ._json_values import to_json
from ._persistence import write_atomically
from ._version import __version__
from .encoder import MAX_ABS_SCALED
from .modules import UNKNOWN_DOMAIN, export_formulation

#: Values of ``export``'s ``format``.
EXPORT_FORMATS = ("onnx",)
#: Name and version of the exported folder's layout (``encoder.json``'s ``format``).
FORMAT = "sklearn-hamur-export"
FORMAT_VERSION = 1
MODEL_FILE = "model.onnx"
ENCODER_FILE = "encoder.json"
#: ONNX operator set of the graph (onnxruntime 1.14 and later run it).
OPSET = 17
INPUT_NAMES = ("x_cat", "x_num", "domain")
OUTPUT_NAMES = ("logit", "probability")
#: ``torch.logit``'s clamp of an averaged probability, as ``average_unknown_domains``.
LOGIT_EPS = 1e-7
#: Largest difference between the graph's and the module's logits on the probe rows.
CHECK_TOLERANCE = 1e-4


class ServingModule(nn.Module):
    """A backbone as the exported graph computes it: ``(logit, probability)`` per row.

    Rows need not be sorted by domain (the forward runs inside
    :func:`~sklearn_hamur.modules.export_formulation`). With ``average_unknown``, a row of
    domain ``UNKNOWN_DOMAIN`` goes through every domain's path and gets the logit of the
    mean probability, as :func:`~sklearn_hamur.modules.average_unknown_domains` computes
    it, but with no branch on the data: the known rows and every domain's copy of each
    unknown row form one batch (``NonZero`` and ``Gather`` in the graph), and the results
    are scattered back to the rows' places.
    """

    def __init__(self, backbone: nn.Module, *, average_unknown: bool) -> None:
        super().__init__()
        self.backbone = backbone
        self.average_unknown = average_unknown
        self.n_domains = int(backbone.n_domains)

    def forward(self, x_cat: torch.Tensor, x_num: torch.Tensor, domain: torch.Tensor):
        with export_formulation():
            if self.average_unknown:
                logit = self._averaged(x_cat, x_num, domain)
            else:
                logit = self._known(x_cat, x_num, domain)
        return logit, torch.sigmoid(logit)

    def _known(self, x_cat, x_num, domain) -> torch.Tensor:
        return self.backbone._forward_known(x_cat, x_num, domain).float()

    def _averaged(self, x_cat, x_num, domain) -> torch.Tensor:
        known = torch.nonzero(domain >= 0).flatten()
        unknown = torch.nonzero(domain < 0).flatten()
        # Each unknown row once per domain, domain after domain (as average_unknown_domains).
        every = torch.arange(self.n_domains, device=domain.device).unsqueeze(1)
        every = every + torch.zeros_like(unknown).unsqueeze(0)  # (n_domains, n_unknown)
        repeated = unknown.unsqueeze(0) + torch.zeros_like(every)
        rows = torch.cat([known, repeated.flatten()])
        domains = torch.cat([domain.index_select(0, known), every.flatten()])
        logits = self._known(x_cat.index_select(0, rows), x_num.index_select(0, rows), domains)
        n_known = known.shape[0]
        probabilities = torch.sigmoid(logits[n_known:]).view(self.n_domains, unknown.shape[0])
        mean = probabilities.mean(0).clamp(LOGIT_EPS, 1 - LOGIT_EPS)
        averaged = torch.log(mean / (1 - mean))
        order = torch.cat([known, unknown])
        out = torch.zeros(domain.shape, dtype=torch.float32, device=domain.device)
        return out.scatter(0, order, torch.cat([logits[:n_known], averaged]))


def import_onnx():
    """``(onnx, onnxruntime)``, or an ImportError that names the ``export`` extra."""
    try:
        import onnx
        import onnxruntime
    except ImportError as exc:
        raise ImportError(
            f"export(format='onnx') needs the packages onnx and onnxruntime ({exc}). "
            "Install them with: pip install 'sklearn-hamur[export]'"
        ) from exc
    return onnx, onnxruntime


def check_format(format) -> None:
    if format not in EXPORT_FORMATS:
        valid = ", ".join(repr(f) for f in EXPORT_FORMATS)
        raise ValueError(f"Unknown export format {format!r}; expected one of {valid}.")


def export_estimator(estimator, path, *, format="onnx") -> Path:
    """Write ``estimator`` to the folder ``path`` as ``model.onnx`` and ``encoder.json``."""
    check_format(format)
    check_is_fitted(estimator)
    onnx, onnxruntime = import_onnx()
    _warn_about_precision(estimator)
    encoder = estimator.encoder_
    # The wrapper in evaluation mode too: the exporter gives it back its own mode after
    # tracing, and a wrapper in training mode would put the batch norms back in training.
    module = ServingModule(
        copy.deepcopy(plain_module(estimator.net_)).to("cpu").float(),
        average_unknown=encoder.handle_unknown_domain == "average",
    ).eval()
    model = _onnx_bytes(module, estimator, onnx)
    _check_graph(model, module, estimator, onnxruntime)
    spec = encoder_spec(estimator, hashlib.sha256(model).hexdigest())
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(folder / MODEL_FILE, model)
    text = json.dumps(spec, indent=1, allow_nan=False, ensure_ascii=False)
    write_atomically(folder / ENCODER_FILE, text.encode("utf-8"))
    return folder


def _warn_about_precision(estimator) -> None:
    precision = getattr(estimator.net_, "precision", estimator.precision)  # as predicted
    if precision != "32":
        warnings.warn(
            f"precision={precision!r}: the exported graph computes in float32 "
            "with the float32 weights, while predict_proba runs under autocast; their "
            "predictions differ by the autocast rounding (about 1e-3).",
            UserWarning,
            stacklevel=3,
        )


def _example_inputs(encoder, n_rows: int, rng: np.random.Generator, *, unknown: bool):
    """Encoded rows of every kind: known, unseen, missing and padding codes, each domain."""
    cards = np.asarray(encoder.cardinalities_, dtype=np.int64)
    x_cat = (rng.integers(0, 2**62, size=(n_rows, len(cards))) % np.maximum(cards, 1)).astype(
        np.int64
    )
    if n_rows >= 3 and len(cards):
        x_cat[:3] = np.array([[UNKNOWN_INDEX], [MISSING_INDEX], [PADDING_INDEX]])
    x_num = rng.normal(size=(n_rows, len(encoder.numeric_cols_))).astype(np.float32)
    domain = np.arange(n_rows, dtype=np.int64) % len(encoder.domains_)
    if unknown:
        domain[1::3] = UNKNOWN_DOMAIN
    return torch.from_numpy(x_cat), torch.from_numpy(x_num), torch.from_numpy(domain)


def _onnx_bytes(module: ServingModule, estimator, onnx) -> bytes:
    """Trace ``module`` into an ONNX graph with the legacy (TorchScript) exporter."""
    inputs = _example_inputs(
        estimator.encoder_, 4, np.random.default_rng(0), unknown=module.average_unknown
    )
    buffer = io.BytesIO()
    rows = {0: "n_rows"}
    with warnings.catch_warnings(), torch.no_grad():
        # The tracer warns about every Python bool taken from a tensor's shape, constant
        # for a parameter; _check_graph catches a trace that does not generalise. The
        # legacy exporter is deprecated in favour of dynamo=True, which needs onnxscript
        # and is slower by an order of magnitude here.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            module,
            inputs,
            buffer,
            dynamo=False,
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={name: rows for name in (*INPUT_NAMES, *OUTPUT_NAMES)},
            opset_version=OPSET,
            do_constant_folding=True,
        )
    model = onnx.load_from_string(buffer.getvalue())
    _keep_every_input(model, estimator.encoder_, onnx)
    model.producer_name, model.producer_version = "sklearn-hamur", __version__
    model.doc_string = (
        f"{type(estimator).__name__}(backbone={estimator.backbone!r}): logit and probability "
        f"of classes_[1] per row; inputs and their encoding in {ENCODER_FILE}."
    )
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _keep_every_input(model, encoder, onnx) -> None:
    """Give the graph all three inputs, in order: the exporter drops those it does not use.

    A model without numeric columns never reads ``x_num``, one with a single domain may
    never read ``domain``; the graph still takes them, so every export is fed alike.
    """
    given = {value.name: value for value in model.graph.input}
    shapes = {
        "x_cat": (onnx.TensorProto.INT64, ["n_rows", len(encoder.categorical_cols_)]),
        "x_num": (onnx.TensorProto.FLOAT, ["n_rows", len(encoder.numeric_cols_)]),
        "domain": (onnx.TensorProto.INT64, ["n_rows"]),
    }
    inputs = [
        given.get(name) or onnx.helper.make_tensor_value_info(name, *shapes[name])
        for name in INPUT_NAMES
    ]
    del model.graph.input[:]
    model.graph.input.extend(inputs)


def _check_graph(model: bytes, module: ServingModule, estimator, onnxruntime) -> None:
    """Raise unless the graph's logits equal the module's on probe rows of every kind."""
    x_cat, x_num, domain = _example_inputs(
        estimator.encoder_, 23, np.random.default_rng(1), unknown=module.average_unknown
    )
    with torch.no_grad():
        expected = module.backbone(x_cat, x_num, domain).float().numpy()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    feed = dict(zip(INPUT_NAMES, (x_cat.numpy(), x_num.numpy(), domain.numpy())))
    try:
        got = session.run(["logit"], feed)[0]
    except Exception as exc:  # onnxruntime's own error types
        problem = f"the traced graph fails on probe rows ({exc})"
    else:
        worst = float(np.max(np.abs(got - expected) / np.maximum(1.0, np.abs(expected))))
        if worst <= CHECK_TOLERANCE:
            return
        problem = (
            "the traced graph does not compute what the module does (their logits differ "
            f"by up to {worst:.3g} on probe rows, tolerance {CHECK_TOLERANCE})"
        )
    raise ValueError(
        f"backbone={estimator.backbone!r} cannot be exported to ONNX: {problem}. Its "
        "forward has control flow or Python values that depend on the data (a shape, a "
        "branch), which a trace fixes to the example rows'; compute them with tensor "
        "operations only (see sklearn_hamur.modules.export_formulation). Nothing was "
        "written."
    )


def encoder_spec(estimator, model_sha256: str) -> dict:
    """The ``encoder.json`` of ``estimator``: how to encode a raw row, and the graph's I/O."""
    encoder = estimator.encoder_
    cat_cols, num_cols = list(encoder.categorical_cols_), list(encoder.numeric_cols_)
    n_cat, n_num = len(cat_cols), len(num_cols)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "sklearn_hamur_version": __version__,
        "estimator": type(estimator).__name__,
        "backbone": estimator.backbone,
        "model": {
            "file": MODEL_FILE,
            "sha256": model_sha256,
            "opset": OPSET,
            "inputs": {
                "x_cat": {"dtype": "int64", "shape": ["n_rows", n_cat]},
                "x_num": {"dtype": "float32", "shape": ["n_rows", n_num]},
                "domain": {"dtype": "int64", "shape": ["n_rows"]},
            },
            "outputs": {
                "logit": {"dtype": "float32", "shape": ["n_rows"]},
                "probability": {"dtype": "float32", "shape": ["n_rows"]},
            },
        },
        "classes": [to_json(c, "classes_") for c in estimator.classes_],
        "feature_names_in": (
            [to_json(c, "feature_names_in_") for c in estimator.feature_names_in_]
            if hasattr(estimator, "feature_names_in_")
            else None
        ),
        "domain": {
            "column": to_json(encoder.domain_col, "domain_col"),
            "values": [to_json(d, "domains_") for d in encoder.domains_],
            "handle_unknown": encoder.handle_unknown_domain,
            "unknown_index": UNKNOWN_DOMAIN,
        },
        "categorical": {
            "columns": [to_json(c, "categorical_cols_") for c in cat_cols],
            "vocabularies": [list(encoder.vocabularies_[c]) for c in cat_cols],
            "padding_index": PADDING_INDEX,
            "unknown_index": UNKNOWN_INDEX,
            "missing_index": MISSING_INDEX,
            "first_index": N_RESERVED,
        },
        "numeric": {
            "columns": [to_json(c, "numeric_cols_") for c in num_cols],
            "means": [float(m) for m in encoder.means_],
            "scales": [float(s) for s in encoder.scales_],
            "missing_value": 0.0,
            "clip": MAX_ABS_SCALED,
        },
    }
