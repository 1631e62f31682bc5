"""What the benchmark scripts share: the machine they ran on, memory, how a report is written.

The scripts import it as a sibling module (``benchmarks/`` is on ``sys.path`` when one of
them runs as ``python benchmarks/<script>.py``).
"""

from __future__ import annotations

import datetime
import os
import platform
import time


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def timestamp() -> str:
    """The local date and time now, with its UTC offset, to the second (ISO 8601)."""
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def current_rss() -> int:
    """Resident set size of this process now, in bytes (Linux ``/proc/self/statm``)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def pipe_table(header: list[str], rows: list[list[str]]) -> str:
    """A markdown table: the header, its separator line, one line per row."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def print_report(text: str, output) -> None:
    """Print ``text``; with ``output`` (a path), also write it there, newline-terminated."""
    print(text)
    if output:
        with open(output, "w") as f:
            f.write(text + "\n")


def latencies_ms(fn, calls: list, *, warmup: int = 0) -> list[float]:
    """Wall time of ``fn(x)`` for each ``x`` of ``calls``, in ms, after ``warmup`` untimed
    calls on the first of them."""
    for x in calls[:warmup]:
        fn(x)
    times = []
    for x in calls:
        start = time.perf_counter()
        fn(x)
        times.append(1e3 * (time.perf_counter() - start))
    return times
