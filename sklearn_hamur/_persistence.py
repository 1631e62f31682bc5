"""Saving and loading fitted estimators without pickle: safetensors weights, JSON state.

One file: the module's tensors in the safetensors format, whose header carries JSON
metadata: the format name and version, the package version, the state (estimator class,
parameters, encoder state, classes, domains, history and a SHA-256 checksum of every
tensor), a SHA-256 checksum of all of these, and, when saved with a key, an
HMAC-SHA256 signature of the same. Loading reads the file once, parses JSON and raw
tensor bytes only (a file can never run code), and checks the whole header before
building anything; every problem is a ValueError that says which.

The checksums detect corruption (a truncated download, a flipped bit, a stray edit):
anyone who edits a file can recompute them. Only a signature made with a secret key
detects deliberate tampering.
"""

from __future__ import annotations

import glob
import hashlib
import hmac
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as dump_tensors

from ._callbacks import to_plain
from ._categories import N_RESERVED, canonical_category, sorted_unique
from ._distributed import plain_module
from ._json_values import array_from_json, array_to_json, from_json, to_json
from ._temporary_files import remove_stale_temporaries
from ._version import __version__
from .encoder import MultiDomainEncoder
from .modules.backbones import BACKBONES

FORMAT = "sklearn-hamur"
#: Version 2: typed JSON values, checksums of the header and of each tensor's dtype and
#: shape, optional signature. Version 1 files (no header checksum) still load.
FORMAT_VERSION = 2
READ_VERSIONS = ("1", "2")
#: The metadata fields the header checksum and the signature cover, in this order.
SIGNED_FIELDS = ("format", "format_version", "sklearn_hamur_version", "state")
ENCODER_STATE = ("categorical_cols_", "numeric_cols_", "cardinalities_", "n_features_in_")


# -- writing ----------------------------------------------------------------------------


def _tensor_checksum(tensor: torch.Tensor, version: int) -> str:
    digest = hashlib.sha256()
    if version >= 2:
        digest.update(f"{tensor.dtype}{list(tensor.shape)}".encode())
    digest.update(tensor.contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def _header_message(metadata: dict) -> bytes:
    return json.dumps([metadata.get(field) for field in SIGNED_FIELDS]).encode()


def _signature(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def check_key(key) -> bytes | None:
    """``key`` as bytes (a str is UTF-8 encoded); None stays None."""
    if key is None:
        return None
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, bytes | bytearray) or not key:
        raise TypeError(
            f"key must be a non-empty bytes or str secret, e.g. os.urandom(32); got "
            f"{type(key).__name__}."
        )
    return bytes(key)


def _json_params(params: dict, where: str) -> dict:
    params = dict(params)
    # Callbacks are arbitrary objects that act only in fit; a RandomState or Generator
    # has no JSON form. Both are stored as None (documented in save). A given encoder is
    # stored as the fitted encoder_ (whose parameters are the estimator's): as None here.
    if params.get("callbacks"):
        params["callbacks"] = None
    if params.get("encoder") is not None:
        params["encoder"] = None
    if "random_state" in params and not isinstance(params["random_state"], int | np.integer):
        params["random_state"] = None
    return {name: to_json(value, f"{where} parameter {name!r}") for name, value in params.items()}


def _encoder_state(encoder) -> dict:
    state = {name: to_json(getattr(encoder, name), name) for name in ENCODER_STATE}
    state["params"] = _json_params(encoder.get_params(deep=False), "MultiDomainEncoder")
    state["vocabularies_"] = [list(vocab) for vocab in encoder.vocabularies_.values()]
    for name in ("means_", "scales_", "domains_", "feature_names_in_"):
        if hasattr(encoder, name):
            state[name] = array_to_json(getattr(encoder, name), name)
    return state


def save_estimator(estimator, path, key=None) -> None:
    """Write a fitted estimator to ``path`` (atomically: a temporary file, then a rename)."""
    key = check_key(key)
    tensors = {
        name: tensor.detach().to("cpu").contiguous()
        for name, tensor in plain_module(estimator.net_).state_dict().items()
    }
    state = {
        "estimator": type(estimator).__name__,
        "params": _json_params(estimator.get_params(deep=False), type(estimator).__name__),
        "classes_": array_to_json(estimator.classes_, "classes_"),
        "n_features_in_": estimator.n_features_in_,
        "encoder": _encoder_state(estimator.encoder_),
        "history": to_plain(list(estimator.history_)),
        "checksums": {name: _tensor_checksum(t, FORMAT_VERSION) for name, t in tensors.items()},
    }
    if hasattr(estimator, "feature_names_in_"):
        state["feature_names_in_"] = array_to_json(estimator.feature_names_in_)
    metadata = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "sklearn_hamur_version": __version__,
        "state": json.dumps(state, allow_nan=True),
    }
    message = _header_message(metadata)
    metadata["checksum"] = hashlib.sha256(message).hexdigest()
    if key is not None:
        metadata["signature"] = _signature(key, message)
    write_atomically(Path(path), dump_tensors(tensors, metadata=metadata))


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``.

    The temporary file is removed if anything fails, an interruption included; one left
    by a killed process (``.NAME.*.tmp``) is removed by a later save once it is stale.
    """
    folder = path.parent
    remove_stale_temporaries(folder, f".{glob.escape(path.name)}.*.tmp")
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.remove(tmp)


# -- reading ----------------------------------------------------------------------------


class SavedFile:
    """What :func:`read_file` found in a file: its checked state, tensors and version."""

    def __init__(self, name: str, version: int, state: dict, tensors: dict) -> None:
        self.name, self.version, self.state, self.tensors = name, version, state, tensors


def _unreadable(name: str, why: str) -> ValueError:
    return ValueError(
        f"{name} is not a readable sklearn-hamur model file (truncated or not a safetensors "
        f"file): {why}"
    )


def _parse_metadata(data: bytes, name: str) -> dict:
    """The ``__metadata__`` of a safetensors header, parsed without loading any tensor."""
    if len(data) < 8:
        raise _unreadable(name, f"only {len(data)} bytes")
    size = int.from_bytes(data[:8], "little")
    if size > len(data) - 8:
        raise _unreadable(name, f"its header claims {size} bytes, the file has {len(data)}")
    try:
        header = json.loads(data[8 : 8 + size])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _unreadable(name, f"damaged header ({exc})") from exc
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(header, dict) or not isinstance(metadata, dict | None):
        raise _unreadable(name, "its header is not a JSON object")
    return metadata or {}


def _check_format(metadata: dict, name: str) -> int:
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{name} is not an sklearn-hamur model file.")
    version = metadata.get("format_version")
    if version not in READ_VERSIONS:
        raise ValueError(
            f"{name} has format version {version!r}; this sklearn-hamur ({__version__}) "
            f"reads versions {', '.join(READ_VERSIONS)}. Load it with the version that saved "
            f"it ({metadata.get('sklearn_hamur_version')!r})."
        )
    return int(version)


def _check_integrity(metadata: dict, version: int, key: bytes | None, name: str) -> None:
    """The signature (with a key) and the header checksum (format version 2)."""
    message = _header_message(metadata)
    if key is not None:
        signature = metadata.get("signature")
        if not isinstance(signature, str):
            raise ValueError(
                f"{name} is not signed, but a key was given: it was saved without a key"
                + (" (by format version 1, which cannot sign)" if version == 1 else "")
                + ". Load it without key= only if you trust where it came from, or save "
                "it again with save(path, key=...)."
            )
        if not hmac.compare_digest(signature, _signature(key, message)):
            raise ValueError(
                f"{name} fails its signature check: it was modified after saving, or "
                "signed with another key. Do not use it."
            )
    if version >= 2:
        checksum = metadata.get("checksum")
        expected = hashlib.sha256(message).hexdigest()
        if not (isinstance(checksum, str) and hmac.compare_digest(checksum, expected)):
            raise ValueError(
                f"{name} is corrupted: its header fails its checksum (the file changed "
                "after it was saved)."
            )


def read_file(path, expected_estimator: str, *, key=None) -> SavedFile:
    """Read ``path`` once and check its format, integrity and tensors' checksums.

    The state is checked further by :func:`restore_estimator`.
    """
    key = check_key(key)
    name = repr(str(path))
    try:
        with open(path, "rb") as f:  # one open, one read: a concurrent save cannot interleave
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"No saved model at {name}.") from None
    except OSError as exc:
        raise _unreadable(name, str(exc)) from exc
    metadata = _parse_metadata(data, name)
    version = _check_format(metadata, name)
    _check_integrity(metadata, version, key, name)
    try:
        state = json.loads(metadata["state"])
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{name} has a damaged state header.") from exc
    if not isinstance(state, dict):
        raise ValueError(f"{name} has a damaged state header: the state is not an object.")
    if state.get("estimator") != expected_estimator:
        raise ValueError(
            f"{name} holds a {state.get('estimator')}, not a {expected_estimator}; "
            f"load it with {state.get('estimator')}.load."
        )
    try:
        tensors = load_tensors(data)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise _unreadable(name, str(exc)) from exc
    _check_tensor_checksums(state.get("checksums"), tensors, version, name)
    return SavedFile(name, version, state, tensors)


def _check_tensor_checksums(checksums, tensors: dict, version: int, name: str) -> None:
    if not isinstance(checksums, dict):
        raise ValueError(f"{name} has an invalid header: 'checksums' is not an object.")
    for extra in sorted(set(tensors) - set(checksums)):
        raise ValueError(f"{name} is corrupted: tensor {extra!r} has no checksum.")
    for missing in sorted(set(checksums) - set(tensors)):
        raise ValueError(f"{name} is corrupted: tensor {missing!r} is missing.")
    for tensor_name, tensor in tensors.items():
        if _tensor_checksum(tensor, version) != checksums[tensor_name]:
            raise ValueError(
                f"{name} is corrupted or was modified: tensor {tensor_name!r} fails its checksum."
            )


# -- checking the state and restoring ---------------------------------------------------


def _decode_params(raw, version: int) -> dict:
    if not isinstance(raw, dict):
        raise ValueError("'params' is not an object")
    if version == 1:  # plain JSON, tuples as {"tuple": [...]}
        return {
            k: tuple(v["tuple"]) if isinstance(v, dict) and set(v) == {"tuple"} else v
            for k, v in raw.items()
        }
    return {k: from_json(v) for k, v in raw.items()}


#: Parameters added with a default that changes the model, and the value that gives the
#: model of a file written before them (which does not name them).
PARAMS_BEFORE_THEY_EXISTED = {"logistic_blend": None}


def _instantiate(cls, raw, version: int, name: str, **override):
    """``cls(**saved parameters)``, checked with the same constraints as ``fit``."""
    try:
        params = _decode_params(raw, version)
    except ValueError as exc:
        raise ValueError(f"{name} has an invalid header: {cls.__name__} {exc}.") from exc
    names = cls._get_param_names()
    params = {**{k: v for k, v in PARAMS_BEFORE_THEY_EXISTED.items() if k in names}, **params}
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ValueError(
            f"{name} has an invalid header: {cls.__name__} has no parameter(s) {unknown}."
        )
    estimator = cls(**{**params, **override})
    check = getattr(estimator, "_check_params", estimator._validate_params)
    try:
        check()
    except ValueError as exc:  # InvalidParameterError: the message fit gives
        raise type(exc)(f"{name} holds invalid parameters. {exc}") from exc
    return estimator


def upgrade_vocabulary_v1(entries: list) -> list:
    """A format-1 vocabulary in today's canonical form, positions kept.

    Version 1 stored ``str(value)``: the categories of a float column were ``"3.0"``,
    which is now ``"3"``. A vocabulary whose entries are all numbers written as floats
    is rewritten (unless two entries would become one); any other is kept.
    """
    number = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
    if not entries or not all(isinstance(e, str) and number.fullmatch(e) for e in entries):
        return entries
    upgraded = [
        e if re.fullmatch(r"[+-]?\d+", e) else canonical_category(float(e)) for e in entries
    ]
    return upgraded if len(set(upgraded)) == len(upgraded) else entries


class _Problems(list):
    def check(self, ok: bool, message: str) -> bool:
        if not ok:
            self.append(message)
        return ok


def _array(problems: _Problems, data, field: str, length: int | None = None):
    try:
        array = array_from_json(data)
    except ValueError as exc:
        problems.append(f"{field!r}: {exc}")
        return None
    if length is not None and len(array) != length:
        problems.append(f"{field!r} has {len(array)} values, expected {length}")
        return None
    return array


def _labels(problems: _Problems, data, field: str) -> list:
    try:
        labels = from_json(data)
    except ValueError as exc:
        problems.append(f"{field!r}: {exc}")
        return []
    if not problems.check(isinstance(labels, list), f"{field!r} is not a list"):
        return []
    problems.check(len(set(map(repr, labels))) == len(labels), f"{field!r} repeats a column")
    return labels


def _vocabularies(problems, raw, columns: list, version: int) -> list:
    if version == 1:  # {json.dumps(column): [...]}
        if not problems.check(isinstance(raw, dict), "'vocabularies_' is not an object"):
            return []
        keys = [json.dumps(col) for col in columns]
        problems.check(set(raw) == set(keys), "'vocabularies_' do not match categorical_cols_")
        vocabularies = [raw.get(key, []) for key in keys]
    else:
        ok = isinstance(raw, list) and len(raw) == len(columns)
        if not problems.check(ok, "'vocabularies_' do not match categorical_cols_"):
            return []
        vocabularies = raw
    for col, vocab in zip(columns, vocabularies, strict=True):
        ok = isinstance(vocab, list) and all(isinstance(v, str) for v in vocab)
        if problems.check(ok, f"vocabulary of column {col!r} is not a list of strings"):
            problems.check(len(set(vocab)) == len(vocab), f"vocabulary of {col!r} repeats")
            problems.check(vocab == sorted(vocab), f"vocabulary of {col!r} is not sorted")
    if version == 1 and not problems:
        vocabularies = [upgrade_vocabulary_v1(vocab) for vocab in vocabularies]
    return vocabularies


def _check_domains(problems: _Problems, domains) -> None:
    if domains is None or not problems.check(len(domains) > 0, "'domains_' is empty"):
        return
    if not problems.check(pd.Index(domains).is_unique, "'domains_' repeats a domain"):
        return
    try:
        in_order = pd.Index(sorted_unique(pd.Series(domains))).equals(pd.Index(domains))
    except TypeError:
        in_order = False
    problems.check(in_order, "'domains_' are not in sorted order")


def _restore_encoder(problems: _Problems, raw, estimator, saved: SavedFile):
    """The fitted encoder of the state's ``encoder`` object, every field checked."""
    if not problems.check(isinstance(raw, dict), "'encoder' is not an object"):
        return None
    required = {*ENCODER_STATE, "params", "vocabularies_", "means_", "scales_", "domains_"}
    missing = sorted(required - set(raw))
    if not problems.check(not missing, f"'encoder' lacks {missing}"):
        return None
    encoder = _instantiate(MultiDomainEncoder, raw["params"], saved.version, saved.name)
    own = estimator.get_params(deep=False)
    for param, value in encoder.get_params(deep=False).items():
        same = np.array_equal(np.asarray(value, dtype=object), np.asarray(own[param], dtype=object))
        problems.check(same, f"encoder parameter {param!r} differs from the estimator's")
    cats = _labels(problems, raw["categorical_cols_"], "categorical_cols_")
    nums = _labels(problems, raw["numeric_cols_"], "numeric_cols_")
    problems.check(not set(map(repr, cats)) & set(map(repr, nums)), "a column is in both lists")
    problems.check(
        raw["n_features_in_"] == estimator.n_features_in_, "encoder n_features_in_ differs"
    )
    vocabularies = _vocabularies(problems, raw["vocabularies_"], cats, saved.version)
    if "feature_names_in_" in raw:
        encoder.feature_names_in_ = _array(problems, raw["feature_names_in_"], "encoder names")
    cards = raw["cardinalities_"]
    expected = [len(v) + N_RESERVED for v in vocabularies]
    problems.check(cards == expected, f"'cardinalities_' {cards} do not match the vocabularies")
    means = _array(problems, raw["means_"], "means_", len(nums))
    scales = _array(problems, raw["scales_"], "scales_", len(nums))
    for field, values in (("means_", means), ("scales_", scales)):
        if values is not None and problems.check(values.dtype.kind == "f", f"{field!r} dtype"):
            problems.check(np.isfinite(values).all(), f"{field!r} are not all finite")
    if scales is not None and scales.dtype.kind == "f":
        problems.check((scales > 0).all(), "'scales_' are not all positive")
    domains = _array(problems, raw["domains_"], "domains_")
    _check_domains(problems, domains)
    if problems:
        return None
    encoder.categorical_cols_, encoder.numeric_cols_ = cats, nums
    encoder.cardinalities_, encoder.n_features_in_ = expected, raw["n_features_in_"]
    encoder.vocabularies_ = {
        col: pd.Index(vocab, dtype=object) for col, vocab in zip(cats, vocabularies, strict=True)
    }
    encoder.means_, encoder.scales_, encoder.domains_ = means, scales, domains
    return encoder


def _history(problems: _Problems, rows) -> list:
    """The history as saved: JSON turned the domain indices of per-domain AUCs into strings."""
    ok = isinstance(rows, list) and all(isinstance(row, dict) for row in rows)
    if not problems.check(ok, "'history' is not a list of objects"):
        return []
    for row in rows:
        per_domain = row.get("valid_auc_per_domain")
        if isinstance(per_domain, dict):
            try:
                row["valid_auc_per_domain"] = {int(k): v for k, v in per_domain.items()}
            except ValueError:
                problems.append("'history' has a per-domain AUC of no domain index")
    return rows


def _check_fitted(problems: _Problems, state: dict, estimator) -> None:
    """``classes_``, ``n_features_in_`` and ``feature_names_in_`` of the state."""
    classes = _array(problems, state.get("classes_"), "classes_", 2)
    if classes is not None:
        try:
            problems.check(bool(classes[0] < classes[1]), "'classes_' are not sorted")
        except TypeError:
            problems.append("'classes_' cannot be compared")
        estimator.classes_ = classes
    n_features = state.get("n_features_in_")
    ok = isinstance(n_features, int) and not isinstance(n_features, bool) and n_features > 0
    if problems.check(ok, "'n_features_in_' is not a positive integer"):
        estimator.n_features_in_ = n_features
    if "feature_names_in_" in state and ok:
        names = _array(problems, state["feature_names_in_"], "feature_names_in_", n_features)
        if names is not None:
            problems.check(all(isinstance(n, str) for n in names), "feature names not strings")
            estimator.feature_names_in_ = names


def restore_estimator(cls, saved: SavedFile, device: str):
    """A fitted estimator of class ``cls`` from a file's state, its net not yet built.

    Every field is checked first: the parameters with the constraints of ``fit``, the
    encoder's columns, vocabularies, cardinalities, statistics and domains with each
    other, and the tensors' names and shapes with those of the module the state
    describes (built on the ``meta`` device, which allocates nothing). Returns
    ``(estimator, history_rows)``: the estimator with its parameters (``device``
    replacing the saved one), ``classes_``, feature names and encoder; the caller builds
    ``net_`` and loads the tensors into it.
    """
    state, name = saved.state, saved.name
    estimator = _instantiate(cls, state.get("params"), saved.version, name, device=device)
    problems = _Problems()
    _check_fitted(problems, state, estimator)
    encoder = None
    if not problems:
        encoder = _restore_encoder(problems, state.get("encoder"), estimator, saved)
    history = _history(problems, state.get("history"))
    if problems:
        raise ValueError(f"{name} has an invalid header: " + "; ".join(problems) + ".")
    estimator.encoder_ = encoder
    estimator.domains_ = encoder.domains_
    estimator.n_domains_ = len(encoder.domains_)
    check_tensor_shapes(estimator, saved)
    return estimator, history


def check_tensor_shapes(estimator, saved: SavedFile) -> None:
    """The file's tensors are those of the module the state describes: names and shapes.

    No count or number of layers may exceed the number of tensors in the file (each adds
    at least one), so building the module on the meta device cannot loop for long.
    """
    # Widths given as strings ("512-256") count as the layers they parse to.
    params, limit, name = estimator._resolved_params(), len(saved.tensors), saved.name
    sizes = [p.name for p in BACKBONES[estimator.backbone].params] + ["n_adapters"]
    too_many = [
        key
        for key in sizes
        if key in params
        and (params[key] if isinstance(params[key], int) else len(params[key])) > limit
    ]
    if too_many:
        raise ValueError(
            f"{name} has an invalid header: parameter(s) {too_many} ask for more layers than "
            f"the file's {limit} tensors hold."
        )
    with torch.device("meta"):
        module = BACKBONES[estimator.backbone](**estimator._module_kwargs())
    # Files written before the per-domain layers were stacked hold one tensor per domain.
    saved.tensors = module.upgrade_state_dict(saved.tensors)
    expected = {key: tuple(t.shape) for key, t in module.state_dict().items()}
    found = {key: tuple(t.shape) for key, t in saved.tensors.items()}
    problems = [f"tensor {k!r} is missing" for k in sorted(set(expected) - set(found))]
    problems += [
        f"tensor {k!r} is not part of the model" for k in sorted(set(found) - set(expected))
    ]
    problems += [
        f"tensor {k!r} has shape {list(found[k])}, expected {list(expected[k])}"
        for k in sorted(set(found) & set(expected))
        if found[k] != expected[k]
    ]
    if problems:
        raise ValueError(
            f"{name} does not match the model its header describes: " + "; ".join(problems) + "."
        )
