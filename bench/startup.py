"""Start-up to the first answer and the server's memory, with the reader off and on.

    python bench/startup.py [--seeds FOLDER] [--index INDEX] [--runs 3]

Each run starts ``qa serve`` on the seed articles in a child process (the index built beforehand, by the
first run if ``INDEX`` holds none, which is not timed), asks one question over HTTP as soon as the port
answers, and prints the wall time from the start of the process to that first answer and the server's
resident memory (RSS, and its peak) after it. ``QA_READER`` turns the learned reader on for the "on" rows.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Who chaired the 2018 review meeting?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory_mb(pid: int) -> tuple[float, float]:
    """RSS and peak RSS (VmHWM) of ``pid`` in MB, from /proc."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def run(seeds: Path, index: Path, reader: bool) -> tuple[float, float, float]:
    port = free_port()
    env = os.environ | {"HF_HUB_OFFLINE": "1", "QA_READER": "true" if reader else "false"}
    command = [sys.executable, "-m", "qa", "serve", "--seeds", str(seeds), "--index", str(index)]
    began = time.perf_counter()
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                reply = httpx.post(
                    f"http://127.0.0.1:{port}/api/ask", json={"question": QUESTION}, timeout=600
                )
                if reply.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None:
                raise SystemExit(f"qa serve exited with {server.returncode}")
            time.sleep(0.05)
        first = time.perf_counter() - began
        rss, peak = memory_mb(server.pid)
    finally:
        server.terminate()
        server.wait()
    return first, rss, peak


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    run(args.seeds, args.index, reader=False)  # builds the index if needed; not timed
    print("| reader | run | start-up to first answer s | RSS MB | peak RSS MB |\n|---|---|---|---|---|")
    for reader in (False, True):
        for n in range(1, args.runs + 1):
            first, rss, peak = run(args.seeds, args.index, reader)
            print(f"| {'on' if reader else 'off'} | {n} | {first:.1f} | {rss:.0f} | {peak:.0f} |", flush=True)


if __name__ == "__main__":
    main()
