"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

from pathlib import Path


def rss_mb() -> float:
    """Resident memory of this process in MB (Linux /proc), NaN where unavailable."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
