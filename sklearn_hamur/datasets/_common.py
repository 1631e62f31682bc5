"""What the loaders share: argument checks, careful file reading, the Bunch, docstrings."""

from __future__ import annotations

import io
import os
import re
import textwrap
from difflib import get_close_matches
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

_PACKAGE = "sklearn_hamur.datasets"

#: How a separator is named in error messages.
_SEPARATOR_NAMES = {"\t": "tab", "|": "'|'", "::": "'::'", ",": "','"}

#: Numpydoc text that several loaders' docstrings share, by the name of its marker line
#: (``%(name)s``; see ``fill_doc``). The Bunch attributes of the Returns section are
#: written at the attributes' level, but ``DESCR_and_X_y``: the last attribute, then
#: the ``return_X_y`` result, written at the level of the section's entries.
DOC_ENTRIES = {
    "return_X_y": """
return_X_y : bool, default=False
    If True, return ``(data, target)`` instead of a Bunch.
""",
    "as_frame": """
as_frame : bool, default=True
    If True, ``data`` is a DataFrame and ``target``, ``domain`` are Series; if False,
    numpy arrays and ``frame`` is None.
""",
    "bunch": """
data : :class:`~sklearn.utils.Bunch`
    Dictionary-like object, with the following attributes.
""",
    "domain": """
domain : {Series, ndarray} of shape (n_rows,)
    The same values as ``data["domain"]``.
""",
    "feature_names": """
feature_names : list of str
    The column names of ``data``, ``"domain"`` last.
""",
    "DESCR_and_X_y": """
    DESCR : str
        The full description of the data set.

(data, target) : tuple if ``return_X_y`` is True
    ``data`` and ``target`` as described above.
""",
}
_DOC_MARKER = re.compile(r"^(?P<indent>[ \t]*)%\((?P<name>\w+)\)s[ \t]*$", re.MULTILINE)


def fill_doc(func):
    """Replace each marker line ``%(name)s`` of ``func.__doc__`` with ``DOC_ENTRIES[name]``.

    What ``sklearn_hamur._docstrings.fill_doc`` does with the estimators' shared entries,
    with the loaders' ones. The entry is indented like its marker; an unknown name raises
    KeyError when the module is imported. Returns ``func``, so it works as a decorator.
    """
    if func.__doc__:  # None under python -OO
        func.__doc__ = _DOC_MARKER.sub(
            lambda m: textwrap.indent(DOC_ENTRIES[m["name"]].strip("\n"), m["indent"]),
            func.__doc__,
        )
    return func


def check_options(func: str, choices: dict, flags: dict) -> None:
    """Raise one ValueError listing every bad argument of ``func``.

    ``choices`` maps a parameter name to ``(value, allowed_values)``; ``flags`` maps a
    parameter name to a value that must be a bool.
    """
    problems = []
    for name, (value, allowed) in choices.items():
        if isinstance(value, str) and value in allowed:
            continue
        listed = ", ".join(repr(a) for a in allowed)
        problem = f"The {name!r} parameter of {func} must be one of {listed}; got {value!r}."
        close = get_close_matches(str(value).lower(), [str(a) for a in allowed], n=1)
        if close:
            problem += f" Did you mean {name}={close[0]!r}?"
        problems.append(problem)
    for name, value in flags.items():
        if not isinstance(value, bool | np.bool_):
            problems.append(
                f"The {name!r} parameter of {func} must be a bool (True or False); got {value!r}."
            )
    if problems:
        raise ValueError("\n".join(problems))


def as_path(path, func: str) -> Path:
    """``path`` (str or os.PathLike, ``~`` expanded) as a Path; a TypeError otherwise."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"The 'path' parameter of {func} must be a str or os.PathLike naming a file or "
            f"folder; got {path!r} of type {type(path).__name__}."
        )
    return Path(path).expanduser()


def require_files(folder: Path, names, func: str, what: str) -> list[Path]:
    """The paths ``folder / name``; a FileNotFoundError naming every missing one."""
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{func}: folder {str(folder)!r} not found (or not a folder); expected the "
            f"folder that holds {what}: {', '.join(names)}."
        )
    paths = [folder / name for name in names]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{func}: file(s) {missing} not found in {str(folder)!r}; expected {what}: "
            f"{', '.join(names)}."
        )
    return paths


def read_headerless(file: Path, *, sep: str, names, dtype=None, encoding="utf-8"):
    """Read a file without a header whose lines hold ``len(names)`` fields split by ``sep``.

    The first line is checked first, so a wrong separator or a wrong number of fields
    gives a ValueError that names the file, the separator and the expected columns.
    Multi-character separators (MovieLens-1M's ``::``) are read with the fast C parser.
    """
    text = _read_text(file, encoding)
    first = text.split("\n", 1)[0].rstrip("\r")
    n_fields = len(first.split(sep))
    if n_fields != len(names):
        raise ValueError(
            f"{str(file)!r}: expected {len(names)} fields separated by "
            f"{_SEPARATOR_NAMES.get(sep, repr(sep))} ({', '.join(names)}), but the first line "
            f"has {n_fields}: {first[:120]!r}. Is it the right file, unchanged?"
        )
    if len(sep) > 1:
        text, sep = text.replace(sep, "\x1f"), "\x1f"
    return _parse(file, io.StringIO(text), names, sep=sep, header=None, dtype=dtype)


def read_with_header(file: Path, *, required, dtype=None, sep=","):
    """Read a CSV file with a header and every ``required`` column, none of them empty.

    A ValueError names the file and the missing columns, or the columns that hold empty
    values.
    """
    text = _read_text(file, "utf-8")
    header = text.split("\n", 1)[0].rstrip("\r").split(sep)
    missing = [c for c in required if c not in header]
    if missing:
        hint = (
            f" The header has a single field, {header[0][:80]!r}: is the separator "
            f"{_SEPARATOR_NAMES.get(sep, repr(sep))}?"
            if len(header) == 1
            else ""
        )
        raise ValueError(
            f"{str(file)!r}: missing column(s) {missing} in the header; expected the columns "
            f"{list(required)} separated by {_SEPARATOR_NAMES.get(sep, repr(sep))}, found "
            f"{header[:40]}.{hint}"
        )
    frame = _parse(file, io.StringIO(text), None, sep=sep, header=0, dtype=dtype)
    check_no_missing(frame, required, file)
    return frame


def _read_text(file: Path, encoding: str) -> str:
    if not file.is_file():
        raise FileNotFoundError(f"File {str(file)!r} not found.")
    try:
        return file.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{str(file)!r} is not a {encoding} text file ({exc}). Is it the right file, "
            "unpacked from its archive?"
        ) from exc


def _parse(file: Path, buffer, names, *, sep, header, dtype):
    try:
        return pd.read_csv(
            buffer,
            sep=sep,
            names=names,
            header=header,
            dtype=dtype,
            keep_default_na=False,
            na_values=[""],
            quoting=3,  # csv.QUOTE_NONE: titles hold quotes that are not quoting
        )
    except (pd.errors.ParserError, ValueError, TypeError) as exc:
        expected = ", ".join(f"{k}: {v}" for k, v in (dtype or {}).items())
        raise ValueError(
            f"{str(file)!r} could not be read as expected ({expected}): {exc}"
        ) from exc


def check_no_missing(frame: pd.DataFrame, columns, file: Path) -> None:
    """A ValueError naming the file and the columns that hold empty values."""
    empty = [c for c in columns if frame[c].isna().any()]
    if empty:
        raise ValueError(
            f"{str(file)!r}: empty values in column(s) {empty}, which must always be set."
        )


def package_file(folder: str, name: str):
    """The file ``<folder>/<name>`` shipped in this package (an importlib Traversable)."""
    return resources.files(_PACKAGE) / folder / name


def read_descr(name: str) -> str:
    """The text of ``descr/<name>``."""
    return package_file("descr", name).read_text(encoding="utf-8")


def make_bunch(
    *,
    data: pd.DataFrame,
    target: pd.Series,
    descr_file: str,
    target_names,
    domain_names=None,
    as_frame,
    return_X_y,
    **extra,
):
    """The scikit-learn style result of a loader (see ``load_adult``).

    ``data`` ends with its ``domain`` column: indices ``0..D-1``, with ``domain_names[d]``
    saying what domain ``d`` is, or the domains' names themselves (``domain_names=None``:
    the Bunch then has no ``domain_names``); ``target`` is an int64 Series; ``DESCR`` is
    the text of ``descr/<descr_file>``; ``extra`` items are added to the Bunch.
    """
    domain = data["domain"]
    frame = pd.concat([data, target], axis=1)
    if as_frame:
        X, y, domain_out = data, target, domain
    else:
        X = data.to_numpy(dtype=object)
        y, domain_out, frame = target.to_numpy(), domain.to_numpy(), None
    if return_X_y:
        return X, y
    names = {} if domain_names is None else {"domain_names": np.array(domain_names)}
    return Bunch(
        data=X,
        target=y,
        domain=domain_out,
        frame=frame,
        feature_names=list(data.columns),
        target_names=np.array(target_names),
        **names,
        DESCR=read_descr(descr_file),
        **extra,
    )
