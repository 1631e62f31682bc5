"""Saving and loading fitted estimators without pickle: safetensors weights, JSON state.

One file: the module's tensors in the safetensors format, whose header carries JSON
metadata (format name and version, estimator class, parameters, encoder state, classes,
domains, history) and a SHA-256 checksum of every tensor. Loading parses JSON and raw
tensor bytes only, so a file can never run code; a truncated or tampered file, another
format version or another estimator's file fails with a ValueError that says which.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ._callbacks import to_plain
from ._distributed import plain_module
from ._version import __version__
from .encoder import MultiDomainEncoder

FORMAT = "sklearn-hamur"
FORMAT_VERSION = 1
ENCODER_STATE = ("categorical_cols_", "numeric_cols_", "cardinalities_", "n_features_in_")


def _array_to_json(values) -> dict:
    array = np.asarray(values)
    return {
        "dtype": array.dtype.str if array.dtype != object else "object",
        "values": array.tolist(),
    }


def _array_from_json(data: dict) -> np.ndarray:
    dtype = object if data["dtype"] == "object" else np.dtype(data["dtype"])
    return np.array(data["values"], dtype=dtype)


def _checksum(tensor: torch.Tensor) -> str:
    return hashlib.sha256(tensor.contiguous().numpy().tobytes()).hexdigest()


def _json_params(estimator) -> dict:
    params = estimator.get_params(deep=False)
    if params.get("callbacks"):
        # Callbacks are arbitrary objects: they are not stored (they only act in fit).
        params["callbacks"] = None
    if not (params.get("random_state") is None or isinstance(params["random_state"], int)):
        params["random_state"] = None  # a RandomState instance cannot be stored as JSON
    for key, value in params.items():
        if isinstance(value, os.PathLike):
            params[key] = os.fspath(value)
        if isinstance(value, tuple):
            params[key] = {"tuple": list(value)}
    return params


def _params_from_json(params: dict) -> dict:
    return {
        key: tuple(value["tuple"]) if isinstance(value, dict) and "tuple" in value else value
        for key, value in params.items()
    }


def _encoder_state(encoder) -> dict:
    state = {name: getattr(encoder, name) for name in ENCODER_STATE}
    state["params"] = encoder.get_params(deep=False)
    state["vocabularies_"] = {
        json.dumps(col): list(vocab) for col, vocab in encoder.vocabularies_.items()
    }
    state["means_"] = _array_to_json(encoder.means_)
    state["scales_"] = _array_to_json(encoder.scales_)
    state["domains_"] = _array_to_json(encoder.domains_)
    if hasattr(encoder, "feature_names_in_"):
        state["feature_names_in_"] = _array_to_json(encoder.feature_names_in_)
    return state


def _restore_encoder(encoder, state: dict) -> None:
    for name in ENCODER_STATE:
        setattr(encoder, name, state[name])
    encoder.vocabularies_ = {
        json.loads(col): pd.Index(vocab, dtype=object)
        for col, vocab in state["vocabularies_"].items()
    }
    for name in ("means_", "scales_", "domains_", "feature_names_in_"):
        if name in state:
            setattr(encoder, name, _array_from_json(state[name]))


def _history_from_json(rows: list) -> list:
    """The history as saved: JSON turned the domain indices of per-domain AUCs into strings."""
    for row in rows:
        per_domain = row.get("valid_auc_per_domain")
        if per_domain is not None:
            row["valid_auc_per_domain"] = {int(k): v for k, v in per_domain.items()}
    return rows


def save_estimator(estimator, path) -> None:
    """Write a fitted estimator to ``path`` (atomically: a temporary file, then a rename)."""
    tensors = {
        name: tensor.detach().to("cpu").contiguous()
        for name, tensor in plain_module(estimator.net_).state_dict().items()
    }
    state = {
        "estimator": type(estimator).__name__,
        "params": _json_params(estimator),
        "classes_": _array_to_json(estimator.classes_),
        "n_features_in_": estimator.n_features_in_,
        "encoder": _encoder_state(estimator.encoder_),
        "history": to_plain(list(estimator.history_)),
        "checksums": {name: _checksum(tensor) for name, tensor in tensors.items()},
    }
    if hasattr(estimator, "feature_names_in_"):
        state["feature_names_in_"] = _array_to_json(estimator.feature_names_in_)
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "sklearn_hamur_version": __version__,
        "state": json.dumps(state, allow_nan=True),
    }
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent if str(path.parent) else ".", suffix=".tmp")
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def read_file(path, expected_estimator: str) -> tuple[dict, dict]:
    """Read and check a saved file; return ``(state, tensors)``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No saved model at {str(path)!r}.")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(
            f"{str(path)!r} is not a readable sklearn-hamur model file (truncated or not a "
            f"safetensors file): {exc}"
        ) from exc
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{str(path)!r} is not an sklearn-hamur model file.")
    if metadata.get("format_version") != str(FORMAT_VERSION):
        raise ValueError(
            f"{str(path)!r} has format version {metadata.get('format_version')!r}; this "
            f"sklearn-hamur ({__version__}) reads version {FORMAT_VERSION}. Load it with the "
            f"version that saved it ({metadata.get('sklearn_hamur_version')!r})."
        )
    try:
        state = json.loads(metadata["state"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise ValueError(f"{str(path)!r} has a damaged state header.") from exc
    if state.get("estimator") != expected_estimator:
        raise ValueError(
            f"{str(path)!r} holds a {state.get('estimator')}, not a {expected_estimator}; "
            f"load it with {state.get('estimator')}.load."
        )
    checksums = state.get("checksums", {})
    if set(checksums) != set(tensors):
        raise ValueError(f"{str(path)!r} has been tampered with: its tensors do not match.")
    for name, tensor in tensors.items():
        if _checksum(tensor) != checksums[name]:
            raise ValueError(
                f"{str(path)!r} has been tampered with: tensor {name!r} fails its checksum."
            )
    return state, tensors


def restore_estimator(cls, state: dict, device: str):
    """A fitted estimator of class ``cls`` from a file's state, its net not yet built.

    Returns ``(estimator, history_rows)``: the estimator with its parameters (``device``
    replacing the saved one), ``classes_``, feature names and encoder restored; the
    caller builds ``net_`` and loads the file's tensors into it.
    """
    params = _params_from_json(state["params"])
    params["device"] = device
    estimator = cls(**params)
    estimator.classes_ = _array_from_json(state["classes_"])
    estimator.n_features_in_ = state["n_features_in_"]
    if "feature_names_in_" in state:
        estimator.feature_names_in_ = _array_from_json(state["feature_names_in_"])
    encoder = MultiDomainEncoder(**state["encoder"]["params"])
    _restore_encoder(encoder, state["encoder"])
    estimator.encoder_ = encoder
    estimator.domains_ = encoder.domains_
    estimator.n_domains_ = len(encoder.domains_)
    return estimator, _history_from_json(state["history"])
