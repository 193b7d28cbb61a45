"""Embedders whose questions wait for a gate the test opens: slowness driven by events, not by clocks.

``python -m tests.gated PORT GATE_FILE`` serves the app (settings from the environment) in a real
process whose questions wait until ``GATE_FILE`` exists, so a test can hold requests in flight, signal
the process, and then let them finish.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from qa.embed import FakeEmbedder


class GatedEmbedder(FakeEmbedder):
    """Each question waits until :attr:`gate` is set; :attr:`entered` counts questions waiting or done."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Semaphore(0)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        self.entered.release()
        self.gate.wait()
        return super().embed_query(text)


class IndexGatedEmbedder(FakeEmbedder):
    """Once :attr:`armed` is set, embedding articles waits until :attr:`gate` is set (questions never do)."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = threading.Event()
        self.gate = threading.Event()

    def embed_passages(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if self.armed.is_set():
            self.gate.wait()
        return super().embed_passages(texts)


class FileGatedEmbedder(FakeEmbedder):
    """Each question waits until ``gate`` exists (the gate of another process)."""

    def __init__(self, gate: Path) -> None:
        super().__init__()
        self.gate = gate

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        while not self.gate.exists():
            time.sleep(0.01)
        return super().embed_query(text)


class CountingEmbedder(FakeEmbedder):
    """Counts the article texts it embeds."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded = 0

    def embed_passages(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.embedded += len(texts)
        return super().embed_passages(texts)


class StallingEmbedder(FakeEmbedder):
    """Embeds ``batches`` batches of articles, then creates ``reached`` and never returns from the next:
    a build to kill in the middle of its embedding."""

    def __init__(self, reached: Path, batches: int) -> None:
        super().__init__()
        self.reached = reached
        self.left = batches

    def embed_passages(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if self.left == 0:
            self.reached.touch()
            threading.Event().wait()  # until killed
        self.left -= 1
        return super().embed_passages(texts)


def main() -> None:
    """``PORT GATE_FILE``: serve with a :class:`FileGatedEmbedder`; ``index REACHED BATCHES``: build the
    index with a :class:`StallingEmbedder`."""
    from qa.config import get_settings

    if sys.argv[1] == "index":
        from qa.index.build import build_index

        build_index(get_settings(), StallingEmbedder(Path(sys.argv[2]), int(sys.argv[3])))
        return
    import uvicorn

    from qa.server.app import create_app

    port, gate = int(sys.argv[1]), Path(sys.argv[2])
    uvicorn.run(create_app(get_settings(), FileGatedEmbedder(gate)), host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
