"""Load test on loopback: many concurrent clients against ``qa serve``; prints latency and throughput.

    python bench/load.py                 # 100 clients for 60 s
    python bench/load.py --quick         # 20 clients for 5 s (used by the test suite)

Starts ``python -m qa serve`` on a free port (settings from the environment, as for ``qa``), asks every
question of seeds/questions.jsonl once serially to learn the expected answers, then lets the clients ask
them round-robin. An error is any non-200 reply or an answer that differs from the serial one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [sys.executable, "-m", "qa", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            sys.exit(f"qa serve exited:\n{server.stderr.read().decode() if server.stderr else ''}")
        time.sleep(0.2)
    server.kill()
    sys.exit("qa serve did not become healthy")


async def run(url: str, questions: list[str], clients: int, seconds: float) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        expected = {}
        for question in questions:  # the serial run
            response = await http.post("/api/ask", json={"question": question})
            response.raise_for_status()
            expected[question] = response.json()

    latencies: list[float] = []
    errors = mismatches = 0
    stop = time.monotonic() + seconds

    async def client(n: int, http: httpx.AsyncClient) -> None:
        nonlocal errors, mismatches
        i = n
        while time.monotonic() < stop:
            question = questions[i % len(questions)]
            i += 1
            began = time.perf_counter()
            try:
                response = await http.post("/api/ask", json={"question": question})
            except httpx.TransportError:
                errors += 1
                continue
            latencies.append((time.perf_counter() - began) * 1000)
            if response.status_code != 200:
                errors += 1
            elif response.json() != expected[question]:
                mismatches += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    began = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        await asyncio.gather(*(client(n, http) for n in range(clients)))
    elapsed = time.monotonic() - began
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")

    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(latencies) + errors,
        "errors": errors,
        "mismatches": mismatches,
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(ordered), 1) if ordered else float("nan"),
        "p95_ms": round(pct(95), 1),
        "p99_ms": round(pct(99), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="20 clients for 5 s")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    clients, seconds = (20, 5.0) if args.quick else (args.clients, args.seconds)
    records = [json.loads(line) for line in (ROOT / "seeds" / "questions.jsonl").read_text().splitlines()]
    questions = [r["question"] for r in records]
    port = free_port()
    server = start_server(port)
    try:
        result = asyncio.run(run(f"http://127.0.0.1:{port}", questions, clients, seconds))
    finally:
        server.terminate()
        server.wait(30)
    print(json.dumps(result))
    print(
        f"{result['clients']} clients, {result['seconds']} s: {result['requests']} requests, "
        f"{result['errors']} errors, {result['mismatches']} answers differing from the serial run; "
        f"{result['throughput_rps']} req/s; latency p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
        f"p99 {result['p99_ms']} ms"
    )
    sys.exit(1 if result["errors"] or result["mismatches"] else 0)


if __name__ == "__main__":
    main()
