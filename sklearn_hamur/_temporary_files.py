"""Temporary files of atomic writes: the ones a killed process left behind are swept."""

from __future__ import annotations

import time
from pathlib import Path

#: A temporary file of an atomic write older than this was left by a killed process (a
#: live write finishes in seconds), so the next write to the same place removes it.
STALE_TEMPORARY_SECONDS = 3600


def remove_stale_temporaries(folder: Path, pattern: str) -> None:
    """Remove the files ``folder/pattern`` last modified over an hour ago."""
    for stale in Path(folder).glob(pattern):
        try:
            if time.time() - stale.stat().st_mtime > STALE_TEMPORARY_SECONDS:
                stale.unlink()
        except OSError:  # removed meanwhile by another process, or not ours to remove
            pass
