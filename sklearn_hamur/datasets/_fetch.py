"""Download the official MovieLens archives once into a local cache, checksum verified."""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ._common import check_options, fill_doc
from ._movielens import FILES, VARIANTS, load_movielens

#: Where GroupLens publishes the archives.
DEFAULT_BASE_URL = "https://files.grouplens.org/datasets/movielens/"
#: Environment variable that moves the cache folder.
DATA_HOME_ENV = "SKLEARN_HAMUR_DATA_HOME"
_TIMEOUT_S = 60
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Archive:
    """A remote archive: its file name, size in bytes and SHA-256."""

    filename: str
    size: int
    sha256: str


#: The official GroupLens archives. The MD5s GroupLens publishes beside them are
#: 0e33842e24a9c977be4e0107933c0723 (100k) and c4d9eecfca2ab87c1945afe126590906 (1m).
ARCHIVES = {
    "100k": Archive(
        "ml-100k.zip", 4_924_029, "50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229"
    ),
    "1m": Archive(
        "ml-1m.zip", 5_917_549, "a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20"
    ),
}


def get_data_home(data_home=None) -> Path:
    """Return the cache folder of downloaded data sets, created if needed.

    ``data_home`` if given, else the ``SKLEARN_HAMUR_DATA_HOME`` environment variable,
    else ``~/sklearn_hamur_data``.

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        The folder to use; ``~`` is expanded. ``None`` picks the default above.

    Returns
    -------
    pathlib.Path
        The folder, which exists.

    See Also
    --------
    sklearn_hamur.datasets.fetch_movielens : Downloads into this folder.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_hamur.datasets import get_data_home
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     get_data_home(tmp + "/cache").is_dir()
    True
    """
    if data_home is None:
        data_home = os.environ.get(DATA_HOME_ENV, Path("~") / "sklearn_hamur_data")
    path = Path(data_home).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


@fill_doc
def fetch_movielens(
    variant="100k",
    *,
    data_home=None,
    download_if_missing=True,
    base_url=None,
    return_X_y=False,
    as_frame=True,
):
    """Download MovieLens 100K or 1M from GroupLens once, then load it.

    The official zip archive is fetched into ``<data_home>/movielens/`` on the first
    call, its SHA-256 checked against the published archive's, and its three data files
    unpacked beside it; later calls read the unpacked files and need no network. The
    result is that of :func:`~sklearn_hamur.datasets.load_movielens` (domain = user age
    group, label = rating > 3). By downloading you accept the GroupLens usage licence
    (research use, acknowledgement, no redistribution), printed in the archive's README.

    Parameters
    ----------
    variant : {"100k", "1m"}, default="100k"
        Which MovieLens release.
    data_home : str or os.PathLike, default=None
        The cache folder; see :func:`~sklearn_hamur.datasets.get_data_home`.
    download_if_missing : bool, default=True
        If False, raise a FileNotFoundError instead of downloading when the files are
        not in the cache.
    base_url : str, default=None
        Where to download ``ml-<variant>.zip`` from: a mirror of
        https://files.grouplens.org/datasets/movielens/ (the default). The checksum is
        verified whatever the source.
    %(return_X_y)s
    %(as_frame)s

    Returns
    -------
    sklearn.utils.Bunch or tuple
        As in :func:`~sklearn_hamur.datasets.load_movielens`: a Bunch, or
        ``(data, target)`` if ``return_X_y`` is True.

    Raises
    ------
    OSError
        If the download fails (no network, an HTTP error); the message says how to
        download the archive by hand.
    ValueError
        If the downloaded file's size or SHA-256 differs from the official archive's
        (the file is deleted).

    See Also
    --------
    sklearn_hamur.datasets.load_movielens : Load the files from a folder of your own.
    sklearn_hamur.datasets.get_data_home : The cache folder.

    Examples
    --------
    >>> from sklearn_hamur.datasets import fetch_movielens
    >>> X, y = fetch_movielens("100k", return_X_y=True)  # doctest: +SKIP
    """
    check_options(
        "fetch_movielens",
        {"variant": (variant, VARIANTS)},
        {
            "download_if_missing": download_if_missing,
            "return_X_y": return_X_y,
            "as_frame": as_frame,
        },
    )
    folder = get_data_home(data_home) / "movielens"
    unpacked = folder / f"ml-{variant}"
    if not all((unpacked / name).is_file() for name in FILES[variant]):
        if not download_if_missing:
            raise FileNotFoundError(
                f"fetch_movielens: MovieLens {variant} is not in the cache {str(folder)!r} and "
                "download_if_missing=False. Call it with download_if_missing=True, or "
                "download the archive yourself and use load_movielens(path)."
            )
        archive = ARCHIVES[variant]
        zip_path = folder / archive.filename
        if not _is_verified(zip_path, archive):
            _download(_archive_url(base_url, archive), zip_path, archive)
        _unpack(zip_path, variant, unpacked)
    return load_movielens(unpacked, variant=variant, return_X_y=return_X_y, as_frame=as_frame)


def _archive_url(base_url, archive: Archive) -> str:
    base = DEFAULT_BASE_URL if base_url is None else str(base_url)
    return base.rstrip("/") + "/" + archive.filename


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_verified(path: Path, archive: Archive) -> bool:
    """True when ``path`` exists and is the official archive (size and SHA-256)."""
    return (
        path.is_file() and path.stat().st_size == archive.size and _sha256(path) == archive.sha256
    )


def _download(url: str, target: Path, archive: Archive) -> None:
    """Download ``url`` to ``target`` through a ``.part`` file, then verify it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_S) as response, partial.open("wb") as f:
            shutil.copyfileobj(response, f, _CHUNK)
    except (urllib.error.URLError, OSError) as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise OSError(
            f"fetch_movielens: could not download {url} ({reason}). Check the network "
            f"connection (or base_url), or download {archive.filename} by hand from "
            f"{DEFAULT_BASE_URL}, unpack it and call load_movielens(path)."
        ) from exc
    size, digest = partial.stat().st_size, _sha256(partial)
    if size != archive.size or digest != archive.sha256:
        partial.unlink()
        raise ValueError(
            f"fetch_movielens: the file downloaded from {url} is not the official "
            f"{archive.filename}: expected {archive.size:,} bytes with SHA-256 "
            f"{archive.sha256}, got {size:,} bytes with SHA-256 {digest}. The download was "
            "deleted; try again, or use another base_url."
        )
    partial.replace(target)


def _unpack(zip_path: Path, variant: str, unpacked: Path) -> None:
    """Extract the data files of ``ml-<variant>/`` (by name only: no path from the zip)."""
    unpacked.mkdir(parents=True, exist_ok=True)
    names = ["README", *FILES[variant]]
    with zipfile.ZipFile(zip_path) as zf:
        members = {Path(m).name: m for m in zf.namelist() if Path(m).parent.name == unpacked.name}
        missing = [n for n in FILES[variant] if n not in members]
        if missing:
            raise ValueError(
                f"fetch_movielens: {str(zip_path)!r} lacks {missing} under {unpacked.name}/."
            )
        for name in names:
            if name in members:
                # Through a ".part" file, so an interrupted unpacking is redone next time.
                partial = unpacked / (name + ".part")
                with zf.open(members[name]) as source, partial.open("wb") as out:
                    shutil.copyfileobj(source, out, _CHUNK)
                partial.replace(unpacked / name)
